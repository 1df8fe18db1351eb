import { readFileSync } from 'node:fs';

/** The version in package.json, one folder above both src/ and dist/ (the image copies it beside dist/). */
export function petrelVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string' || version === '') throw new Error(`${file.pathname} has no version`);
  return version;
}

/** `petrelVersion()`, or 'unknown' where a missing version must not stop anything (user agent, metrics). */
export function petrelVersionOrUnknown(): string {
  try {
    return petrelVersion();
  } catch {
    return 'unknown';
  }
}
