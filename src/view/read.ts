import { type Canary, validateCanary } from '../api/canary.ts';

/** A Canary as read from the API server, defaulted; `problems` lists what its spec gets wrong. */
export interface ReadCanary {
  canary: Canary;
  problems: string[];
}

/**
 * Defaults a Canary the way the controller reads it. One that fails validation is still shown, as it
 * is (every field read optionally), with its problems: a view must not hide the canary that is broken.
 */
export function readCanary(raw: unknown): ReadCanary {
  const result = validateCanary(raw);
  if (result.ok) return { canary: result.value, problems: [] };
  const canary = raw as Canary;
  const fallback = {
    ...canary,
    metadata: canary?.metadata ?? {},
    spec: { ...(canary?.spec ?? {}), analysis: canary?.spec?.analysis ?? {} },
  } as Canary;
  return {
    canary: fallback,
    problems: result.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)),
  };
}
