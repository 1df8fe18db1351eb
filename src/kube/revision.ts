import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.ts';

/**
 * The revision of a workload: sha256 (hex) of the canonical JSON of the target's pod template, or of
 * `{ template, trackedConfigs }` when ConfigMap/Secret hashes are tracked. Canonical JSON (sorted keys,
 * undefined dropped) keeps the hash stable across Petrel versions and key orders; do not change it, or
 * every Canary would see a new revision after an upgrade.
 */
export function computeRevision(template: unknown, trackedConfigs?: Record<string, string>): string {
  const input =
    trackedConfigs && Object.keys(trackedConfigs).length > 0 ? { template, trackedConfigs } : template;
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}
