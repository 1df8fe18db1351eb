import { type RandomSource, seededRandom } from '../../dev/sandbox/traffic/random.ts';

/**
 * The kinds of controller write after which a planned SIGKILL lands. The first four are read from the sandbox
 * request log; `decision-route` is the route write that takes the canary's weight back to 0 at the decision
 * (rollback or promotion), seen in the sandbox's store as it is made: the kill lands before the controller
 * has the answer, let alone written the status.
 */
export const WRITE_KINDS = [
  'route-patch',
  'status-patch',
  'scale',
  'promotion-copy',
  'decision-route',
] as const;
export type WriteKind = (typeof WRITE_KINDS)[number];

export type Expected = 'Succeeded' | 'Failed' | 'Deleted';

export interface RolloutPlan {
  index: number;
  namespace: string;
  /** healthy: the new version serves like the old; broken: half its requests fail. */
  version: 'healthy' | 'broken';
  /** Prometheus is cut off for this canary from its first step to the end: past the failure threshold. */
  prometheusOutage: boolean;
  /** The Canary is deleted once its weight reaches this (no terminal phase then). */
  deleteAtWeight?: number;
  /** The alert receiver refuses every non-terminal alert of this canary: the controller gives them up and logs it. */
  flakyReceiver: boolean;
  /** Invalid or mutated Canary specs posted beside it while it runs. */
  mutants: number;
  /** The controller is SIGKILLed right after its next write of each of these kinds in this namespace. */
  killAfter: WriteKind[];
  expected: Expected;
}

export interface FaultPlan {
  /** Share of API requests (any verb, any resource) answered 500. */
  apiErrorRate: number;
  /** Share of Canary status and VirtualService patches answered 409 Conflict. */
  conflictRate: number;
  /** All watches are cut this often. */
  dropWatchesEveryMs: number;
  /** Every watch ends with 410 Gone and old resourceVersions expire this often. */
  goneEveryMs: number;
  /** Mean time between SIGKILLs at random moments (exponential). */
  randomKillMeanMs: number;
  /** Times of the random kills, from the start of the run. */
  randomKillsAtMs: number[];
  /** How long a killed controller stays down before it is started again, per kill in order. */
  downtimesMs: number[];
  /** When Prometheus itself is SIGKILLed (a new, empty one starts after `prometheusDownMs`). */
  prometheusKillsAtMs: number[];
  /** Longer than threshold × interval (3 × 2 s): every canary in analysis fails its checks meanwhile. */
  prometheusDownMs: number;
}

export interface ChaosPlan {
  seed: number;
  rollouts: RolloutPlan[];
  faults: FaultPlan;
  /** Two replicas with leader election; kills always hit the leader. */
  failover: boolean;
  /** Share of alert posts the receiver answers 500, echoing the path with the secret in it. */
  alertFailureRate: number;
  /** The secret path segment of each namespace's alert URL. */
  alertTokens: Record<string, string>;
}

export interface PlanOptions {
  seed: number;
  rollouts: number;
  failover?: boolean;
  /** false: no SIGKILL at all (a run that looks at one thing, such as secrets, without the crash bugs). */
  kills?: boolean;
  /** true: every canary's receiver is flaky (refuses non-terminal alerts). */
  allReceiversFlaky?: boolean;
  /** The run's expected length, over which random kills are spread. */
  horizonMs?: number;
  faults?: Partial<Omit<FaultPlan, 'randomKillsAtMs' | 'downtimesMs' | 'prometheusKillsAtMs'>>;
}

const FAULT_DEFAULTS = {
  apiErrorRate: 0.05,
  conflictRate: 0.05,
  dropWatchesEveryMs: 11_000,
  goneEveryMs: 29_000,
  randomKillMeanMs: 25_000,
  prometheusKillMeanMs: 60_000,
  prometheusDownMs: 8_000,
};

/**
 * Everything the run will do, drawn from one seed: which versions are broken, which canaries lose Prometheus or
 * are deleted, after which writes and when the controller is killed, and the secrets. The same seed gives the
 * same plan; timing on a shared machine still varies, so a replay repeats the plan, not every interleaving.
 */
export function makePlan(opts: PlanOptions): ChaosPlan {
  const random = seededRandom(opts.seed);
  const rollouts: RolloutPlan[] = [];
  const alertTokens: Record<string, string> = {};
  for (let index = 0; index < opts.rollouts; index++) {
    const namespace = `chaos-${opts.seed}-${index}`;
    const version = random() < 0.5 ? 'healthy' : 'broken';
    const prometheusOutage = random() < 0.1;
    const deleted = !prometheusOutage && random() < 0.12;
    const deleteAtWeight = deleted ? (random() < 0.5 ? 10 : 20) : undefined;
    const drawn = pickKills(random);
    const killAfter = opts.kills === false ? [] : drawn;
    const expected: Expected = deleted
      ? 'Deleted'
      : version === 'broken' || prometheusOutage
        ? 'Failed'
        : 'Succeeded';
    rollouts.push({
      index,
      namespace,
      version,
      prometheusOutage,
      ...(deleteAtWeight === undefined ? {} : { deleteAtWeight }),
      flakyReceiver: random() < 0.3 || opts.allReceiversFlaky === true,
      mutants: random() < 0.25 ? 2 : 0,
      killAfter,
      expected,
    });
    alertTokens[namespace] = token(random);
  }
  const faults = { ...FAULT_DEFAULTS, ...opts.faults };
  const horizon = opts.horizonMs ?? 60_000 + opts.rollouts * 12_000;
  const randomKillsAtMs: number[] = [];
  for (let at = exponential(random, faults.randomKillMeanMs); at < horizon; ) {
    if (opts.kills !== false) randomKillsAtMs.push(Math.round(at));
    at += exponential(random, faults.randomKillMeanMs);
  }
  const downtimesMs = Array.from({ length: 400 }, () => Math.round(200 + random() * 1800));
  const prometheusKillsAtMs: number[] = [];
  // The first one early (20-40 s in), so every run that lasts a minute has one.
  for (let at = 20_000 + random() * 20_000; at < horizon; ) {
    prometheusKillsAtMs.push(Math.round(at));
    at += faults.prometheusDownMs + exponential(random, faults.prometheusKillMeanMs);
  }
  const { prometheusKillMeanMs: _mean, ...kept } = faults;
  return {
    seed: opts.seed,
    rollouts,
    faults: { ...kept, randomKillsAtMs, downtimesMs, prometheusKillsAtMs },
    failover: opts.failover ?? false,
    alertFailureRate: 0.3,
    alertTokens,
  };
}

/** Half the rollouts get one planned kill, a quarter two, the rest none (random kills still reach them). */
function pickKills(random: RandomSource): WriteKind[] {
  const draw = random();
  const count = draw < 0.25 ? 0 : draw < 0.75 ? 1 : 2;
  const kinds: WriteKind[] = [];
  for (let i = 0; i < count; i++) kinds.push(WRITE_KINDS[Math.floor(random() * WRITE_KINDS.length)]!);
  return kinds;
}

function exponential(random: RandomSource, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

function token(random: RandomSource): string {
  let out = 'tok';
  for (let i = 0; i < 24; i++) out += 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(random() * 36)];
  return out;
}
