import { readFileSync } from 'node:fs';

/** Petrel's version from package.json (two folders up from here, in the sources and in dist/ alike). */
function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const PETREL_VERSION = readVersion();

/**
 * The User-Agent of every request Petrel sends to the API server, so audit logs name it and its
 * version: `petrel/0.1.0`, or `petrel/0.1.0 (petrel-controller)` when a component is named.
 */
export function userAgent(component?: string): string {
  return component ? `petrel/${PETREL_VERSION} (${component})` : `petrel/${PETREL_VERSION}`;
}
