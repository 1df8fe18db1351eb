import type { Canary } from '../api/canary.ts';
import { matchesLabelSelector } from '../api/label-selector.ts';
import { validateReleaseFreeze } from '../api/release-freeze.ts';
import type { CacheReader } from '../kube/informer.ts';
import type { KubeObject } from '../kube/types.ts';
import type { FreezeObservation } from '../rollout/windows.ts';
import type { WatchedCache } from './configs.ts';
import { canaryKey } from './keys.ts';

/**
 * The ReleaseFreezes in the canary's namespace that select it, read from the informer cache. The state
 * machine checks their start and end against the clock. A freeze that fails validation still holds
 * every canary of its namespace, while it exists: whoever declared it meant to stop releases, and its
 * reason says what to fix.
 */
export function freezesSelecting(
  canary: Pick<Canary, 'metadata'>,
  freezes: CacheReader<KubeObject>,
): FreezeObservation[] {
  const namespace = canary.metadata.namespace;
  const selected: FreezeObservation[] = [];
  for (const raw of freezes.list(namespace)) {
    const name = raw.metadata?.name ?? '';
    const result = validateReleaseFreeze(raw);
    if (!result.ok) {
      const problems = result.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
      selected.push({ name, reason: `invalid ReleaseFreeze, holding until fixed or deleted: ${problems}` });
      continue;
    }
    const { selector, start, end, reason } = result.value.spec;
    if (!matchesLabelSelector(selector, canary.metadata.labels)) continue;
    selected.push({
      name,
      ...(reason === undefined ? {} : { reason }),
      ...(start === undefined ? {} : { start }),
      ...(end === undefined ? {} : { end }),
    });
  }
  return selected.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A freeze created, changed or deleted wakes every canary of its namespace: a changed selector may
 * release canaries the new one no longer names, and freezes change rarely. Start and end times need no
 * wake-up: each held canary comes back by itself at the next change.
 */
export function wakeOnFreezeChanges(deps: {
  freezes: WatchedCache<KubeObject>;
  canaries: CacheReader<KubeObject>;
  enqueue: (key: string) => void;
}): void {
  for (const event of ['add', 'update', 'delete'] as const) {
    deps.freezes.on(event, (freeze) => {
      const namespace = freeze.metadata?.namespace;
      for (const canary of deps.canaries.list(namespace))
        deps.enqueue(canaryKey(canary.metadata?.namespace, canary.metadata?.name ?? ''));
    });
  }
}
