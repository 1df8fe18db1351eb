import type { RolloutPlan } from './plan.ts';

/** What the harness saw of one rollout, from the sandbox's own record of every change. */
export interface RolloutRecord {
  plan: RolloutPlan;
  /** The canary weight of every VirtualService write after the release, consecutive repeats collapsed. */
  weights: number[];
  /** When each weight was written (ms since epoch). */
  weightTimes: number[];
  /** Every phase the Canary status took after the release, consecutive repeats collapsed. */
  phases: string[];
  phaseTimes: number[];
  /** Prometheus was killed while this rollout was under analysis: Failed is then right for a healthy version. */
  prometheusLost: boolean;
  /** When the new version was released and when the rollout ended (terminal phase or deletion). */
  releasedAt?: number;
  finishedAt?: number;
  finalPhase?: string;
  /** When the Canary was gone from the store (ms since epoch). */
  deletedAt?: number;
  /** Owned objects created after the Canary was deleted: "kind/name". */
  recreated: string[];
  /** Byte lengths of the InvalidSpec messages of the mutated Canaries. */
  invalidMessageBytes: number[];
  timedOut: boolean;
}

export interface AlertRecord {
  namespace: string;
  reason: string;
  /** The transition's key (status.notices): a post sent again after a crash carries the same one. */
  key?: string;
}

export type InvariantName =
  | 'terminal-phase'
  | 'weight-not-monotonic'
  | 'weight-raised-after-rollback'
  | 'weight-raised-after-promotion'
  | 'recreated-after-deletion'
  | 'alert-missing'
  | 'alert-duplicated'
  | 'invalid-spec-message'
  | 'secret-leaked'
  | 'slow-takeover'
  | 'advanced-without-prometheus';

export interface Violation {
  invariant: InvariantName;
  namespace?: string;
  rollout?: number;
  detail: string;
}

export const FAILURE_REASONS = new Set(['Failed', 'ProgressDeadlineExceeded', 'RolledBack', 'Aborted']);
const MAX_INVALID_SPEC_BYTES = 1024;

/**
 * The rollout's own invariants:
 * - the terminal phase is the expected one (healthy → Succeeded; broken or Prometheus lost → Failed);
 * - the canary weight never falls before the decision except to 0 (the decision itself), and never rises
 *   again after it: weights 0,10,20,0 are fine, 0,10,0,10,0 re-exposed a rolled-back canary;
 * - nothing the Canary owned is created after it was deleted;
 * - every InvalidSpec message of a mutated spec is non-empty and at most 1 KiB.
 */
export function checkRollout(r: RolloutRecord): Violation[] {
  const out: Violation[] = [];
  const at = { namespace: r.plan.namespace, rollout: r.plan.index };
  const acceptable =
    r.prometheusLost && r.plan.expected === 'Succeeded' ? ['Succeeded', 'Failed'] : [r.plan.expected];
  if (r.plan.expected !== 'Deleted' && !acceptable.includes(r.finalPhase ?? '')) {
    out.push({
      ...at,
      invariant: 'terminal-phase',
      detail: `expected ${r.plan.expected}, ended ${r.finalPhase ?? 'without a phase'}${r.timedOut ? ' (timed out)' : ''}; phases ${r.phases.join(',')}`,
    });
  }
  const promotedIndex = r.phases.findIndex(
    (p) => p === 'Promoting' || p === 'Finalising' || p === 'Succeeded',
  );
  const promotedAt = promotedIndex >= 0 ? r.phaseTimes[promotedIndex] : undefined;
  const times = { weightTimes: r.weightTimes, ...(promotedAt === undefined ? {} : { promotedAt }) };
  out.push(...checkWeights(r.weights, r.finalPhase, times).map((v) => ({ ...at, ...v })));
  if (r.recreated.length > 0) {
    out.push({
      ...at,
      invariant: 'recreated-after-deletion',
      detail: `created after the Canary was deleted: ${r.recreated.join(', ')}`,
    });
  }
  for (const bytes of r.invalidMessageBytes) {
    if (bytes === 0 || bytes > MAX_INVALID_SPEC_BYTES)
      out.push({ ...at, invariant: 'invalid-spec-message', detail: `InvalidSpec message of ${bytes} bytes` });
  }
  return out;
}

/**
 * In a rollout that ends Failed, a rise after the first fall to 0 re-exposed a rolled-back canary. In one that
 * ends Succeeded, a rise after a fall to 0 is after the promotion when it came once the status said Promoting
 * (or later), and otherwise a fall and rise before any decision (`0,10,0,10,20,30,0`): the route was reset.
 */
export function checkWeights(
  weights: readonly number[],
  finalPhase?: string,
  times?: { weightTimes: readonly number[]; promotedAt?: number },
): Omit<Violation, 'namespace' | 'rollout'>[] {
  const out: Omit<Violation, 'namespace' | 'rollout'>[] = [];
  const seq = weights.join(',');
  let decided = false;
  for (let i = 1; i < weights.length; i++) {
    const prev = weights[i - 1]!;
    const w = weights[i]!;
    if (!decided && w < prev) {
      if (w !== 0) {
        out.push({
          invariant: 'weight-not-monotonic',
          detail: `weight fell from ${prev} to ${w} before a decision: ${seq}`,
        });
      }
      decided = true;
      continue;
    }
    if (decided && w > 0) {
      if (finalPhase !== 'Succeeded') {
        out.push({
          invariant: 'weight-raised-after-rollback',
          detail: `weight back to ${w} after the decision: ${seq}`,
        });
        break;
      }
      const at = times?.weightTimes[i];
      const promoted = times?.promotedAt;
      const afterPromotion = at === undefined || promoted === undefined || at >= promoted;
      out.push(
        afterPromotion
          ? {
              invariant: 'weight-raised-after-promotion',
              detail: `weight back to ${w} after the promotion: ${seq}`,
            }
          : {
              invariant: 'weight-not-monotonic',
              detail: `weight fell to 0 and rose to ${w} before any decision: ${seq}`,
            },
      );
      break;
    }
  }
  return out;
}

/** One alert per transition: exactly one terminal alert per finished rollout, none lost, none twice. */
export function checkAlerts(records: readonly RolloutRecord[], alerts: readonly AlertRecord[]): Violation[] {
  const out: Violation[] = [];
  for (const r of records) {
    if (r.plan.expected === 'Deleted' || r.finalPhase === undefined) continue;
    const wanted =
      r.finalPhase === 'Succeeded'
        ? (reason: string) => reason === 'Succeeded'
        : (reason: string) => FAILURE_REASONS.has(reason);
    if (r.finalPhase !== 'Succeeded' && r.finalPhase !== 'Failed') continue;
    const got = alerts.filter((a) => a.namespace === r.plan.namespace && wanted(a.reason));
    const at = { namespace: r.plan.namespace, rollout: r.plan.index };
    if (got.length === 0)
      out.push({ ...at, invariant: 'alert-missing', detail: `no ${r.finalPhase} alert arrived` });
    // A post the receiver got just before the controller died is sent again with the same key (nothing on
    // the sending side can rule that out); two transitions are two keys.
    const transitions = new Set(got.map((a) => a.key ?? `${a.reason}#${got.indexOf(a)}`));
    if (transitions.size > 1)
      out.push({
        ...at,
        invariant: 'alert-duplicated',
        detail: `${transitions.size} ${r.finalPhase} transitions alerted (${got.map((a) => `${a.reason} ${a.key ?? 'no key'}`).join(', ')})`,
      });
  }
  return out;
}

/** Counts per invariant, every invariant listed (zeros included) so a report shows what was checked. */
export function countViolations(violations: readonly Violation[]): Record<InvariantName, number> {
  const names: InvariantName[] = [
    'terminal-phase',
    'weight-not-monotonic',
    'weight-raised-after-rollback',
    'weight-raised-after-promotion',
    'recreated-after-deletion',
    'alert-missing',
    'alert-duplicated',
    'invalid-spec-message',
    'secret-leaked',
    'slow-takeover',
    'advanced-without-prometheus',
  ];
  const counts = Object.fromEntries(names.map((n) => [n, 0])) as Record<InvariantName, number>;
  for (const v of violations) counts[v.invariant]++;
  return counts;
}

export interface Outage {
  killedAt: number;
  readyAt: number;
}

/** Checks that were under way when Prometheus died may still report; after this, none could have passed. */
export const OUTAGE_GRACE_MS = 1500;

/**
 * Prometheus down never advances or promotes: no weight rises from a weight under analysis and no canary enters
 * Promoting between its kill
 * (plus the grace for a check already answered) and the moment a new Prometheus answers.
 */
export function checkOutages(records: readonly RolloutRecord[], outages: readonly Outage[]): Violation[] {
  const out: Violation[] = [];
  for (const r of records) {
    const at = { namespace: r.plan.namespace, rollout: r.plan.index };
    for (const o of outages) {
      const inside = (t: number | undefined) =>
        t !== undefined && t >= o.killedAt + OUTAGE_GRACE_MS && t <= o.readyAt;
      // From 0 the first step is taken without a check (the analysis starts at that weight): only a rise from a
      // weight under analysis needs Prometheus.
      for (let i = 1; i < r.weights.length; i++) {
        if (r.weights[i - 1]! > 0 && r.weights[i]! > r.weights[i - 1]! && inside(r.weightTimes[i]))
          out.push({
            ...at,
            invariant: 'advanced-without-prometheus',
            detail: `weight raised to ${r.weights[i]} ${r.weightTimes[i]! - o.killedAt} ms after Prometheus was killed`,
          });
      }
      r.phases.forEach((phase, i) => {
        if (phase === 'Promoting' && inside(r.phaseTimes[i]))
          out.push({
            ...at,
            invariant: 'advanced-without-prometheus',
            detail: `promoted ${r.phaseTimes[i]! - o.killedAt} ms after Prometheus was killed`,
          });
      });
    }
  }
  return out;
}
