import type { RandomSource } from '../../dev/sandbox/traffic/random.ts';

/**
 * Mutated Canary specs, as a person or a broken pipeline might post them: huge strings, huge arrays, wrong
 * types, unknown fields, values out of range. Some are refused by the CRD schema (422) before the controller
 * sees them; the rest must end as an InvalidSpec condition of at most 1 KiB.
 */
const MUTATIONS: ((random: RandomSource) => Record<string, unknown>)[] = [
  () => ({ analysis: { interval: `${'9'.repeat(50_000)}parsecs` } }),
  () => ({ analysis: { interval: '2s', stepWeights: Array.from({ length: 8000 }, () => 200) } }),
  (r) => ({
    analysis: {
      interval: '2s',
      metrics: Array.from({ length: 2000 }, (_, i) => ({
        name: `m${i}-${Math.floor(r() * 1e6)}`,
        interval: 'soon',
      })),
    },
  }),
  () => ({
    analysis: { interval: '2s', metrics: [{ name: 'n'.repeat(100_000), thresholdRange: { min: 99 } }] },
  }),
  () => ({
    analysis: { interval: '2s', webhooks: [{ name: 'gate', url: `not a url ${'y'.repeat(40_000)}` }] },
  }),
  () => ({ analysis: { interval: '2s', threshold: 0, maxWeight: 400, stepWeight: -5 } }),
  () => ({ service: { port: 0 }, analysis: { interval: '-1s' } }),
  () => ({ analysis: { interval: '2s', stepWeights: [50, 10, 30], maxWeight: 20 } }),
];

export function mutantCanary(namespace: string, name: string, random: RandomSource) {
  const mutation = MUTATIONS[Math.floor(random() * MUTATIONS.length)]!(random);
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name, namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `absent-${name}` },
      service: { port: 9898 },
      ...mutation,
      analysis: { interval: '2s', threshold: 2, ...(mutation.analysis as object) },
    },
  };
}
