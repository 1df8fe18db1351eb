import type { CanaryStatus } from '../api/canary.ts';
import { canonicalJson } from '../kube/canonical.ts';

/**
 * The smallest merge patch turning `current` into `next` at the top level of status (arrays and maps
 * are replaced whole, as merge patch does anyway); undefined when nothing changed, so no write is made.
 */
export function statusPatch(
  current: CanaryStatus | undefined,
  next: CanaryStatus,
): Record<string, unknown> | undefined {
  const before = (current ?? {}) as Record<string, unknown>;
  const after = next as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[key];
    const b = after[key];
    if (b === undefined) {
      if (a !== undefined) patch[key] = null;
    } else if (a === undefined || canonicalJson(a) !== canonicalJson(b)) {
      patch[key] = b;
    }
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
