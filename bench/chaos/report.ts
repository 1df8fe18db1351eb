import type { RolloutRecord, Violation } from './invariants.ts';
import { countViolations } from './invariants.ts';
import type { WriteWatcher } from './killer.ts';
import type { StoreObserver } from './observer.ts';
import type { ChaosPlan, WriteKind } from './plan.ts';
import type { ChaosOptions } from './run.ts';
import type { World } from './world.ts';

export interface KillRecord {
  atMs: number;
  cause: string;
  identity?: string;
  downtimeMs: number;
  takeoverMs?: number;
  /** Another replica was running with its caches synced when the leader was killed. */
  standbyReady?: boolean;
}

export interface ChaosReport {
  seed: number;
  rollouts: number;
  concurrency: number;
  failover: boolean;
  durationMs: number;
  outcomes: {
    namespace: string;
    version: string;
    prometheusOutage: boolean;
    deleted: boolean;
    expected: string;
    finalPhase?: string;
    weights: number[];
    killAfter: WriteKind[];
  }[];
  faults: {
    kills: number;
    killsByCause: Record<string, number>;
    apiErrorsInjected: number;
    conflictsInjected: number;
    watchDrops: number;
    goneEvents: number;
    prometheusKills: number;
    prometheusQueriesCut: number;
    mutantsPosted: number;
    mutantsRefusedByApiServer: number;
    canariesDeleted: number;
    alertPosts: number;
    alertPostsRefused: number;
  };
  controllerWrites: Record<WriteKind, number>;
  /** Kill to the standby's holding the Lease, when a synced standby was running at the kill. */
  takeoversMs: number[];
  /** The same when the other replica was itself still starting (after an earlier kill). */
  takeoversWithoutReadyStandbyMs: number[];
  kills: KillRecord[];
  /** `redactedLogLines`: lines where the controller scrubbed a value, which shows the scan had something to find. */
  secretScan: {
    logLines: number;
    redactedLogLines: number;
    storeObjects: number;
    alertsAccepted: number;
    hits: number;
  };
  violationCounts: Record<string, number>;
  violations: Violation[];
  replay: string;
}

/** One chaos run: the plan from the seed, the world, the rollouts under faults, then the invariants. */

/** The JSON report: outcomes, fault counts, controller writes, takeovers, the secret scan and every violation. */
export function report(
  opts: ChaosOptions,
  plan: ChaosPlan,
  r: {
    started: number;
    records: RolloutRecord[];
    world: World;
    kills: KillRecord[];
    watcher: WriteWatcher;
    observer: StoreObserver;
    logLines: number;
    redactedLines: number;
    violations: Violation[];
    takeovers: { ready: number[]; notReady: number[] };
    mutantsPosted: number;
    mutantsRefused: number;
    watchDrops: number;
    goneEvents: number;
    prometheusKills: number;
    injected: { errors: number; conflicts: number };
  },
): ChaosReport {
  const killsByCause: Record<string, number> = {};
  for (const k of r.kills) {
    const cause = k.cause.startsWith('after ') ? k.cause.split(' ')[1]! : k.cause;
    killsByCause[cause] = (killsByCause[cause] ?? 0) + 1;
  }
  const records = [...r.records].sort((a, b) => a.plan.index - b.plan.index);
  return {
    seed: plan.seed,
    rollouts: plan.rollouts.length,
    concurrency: opts.concurrency ?? 3,
    failover: plan.failover,
    durationMs: Date.now() - r.started,
    outcomes: records.map((x) => ({
      namespace: x.plan.namespace,
      version: x.plan.version,
      prometheusOutage: x.plan.prometheusOutage,
      deleted: x.plan.deleteAtWeight !== undefined,
      expected: x.plan.expected,
      ...(x.finalPhase ? { finalPhase: x.finalPhase } : {}),
      weights: x.weights,
      killAfter: x.plan.killAfter,
    })),
    faults: {
      kills: r.kills.length,
      killsByCause,
      apiErrorsInjected: r.injected.errors,
      conflictsInjected: r.injected.conflicts,
      watchDrops: r.watchDrops,
      goneEvents: r.goneEvents,
      prometheusKills: r.prometheusKills,
      prometheusQueriesCut: r.world.gate.cut,
      mutantsPosted: r.mutantsPosted,
      mutantsRefusedByApiServer: r.mutantsRefused,
      canariesDeleted: records.filter((x) => x.deletedAt !== undefined).length,
      alertPosts: r.world.receiver.posts,
      alertPostsRefused: r.world.receiver.refused,
    },
    controllerWrites: { ...r.watcher.writesByKind },
    takeoversMs: r.takeovers.ready,
    takeoversWithoutReadyStandbyMs: r.takeovers.notReady,
    kills: r.kills,
    secretScan: {
      logLines: r.logLines,
      redactedLogLines: r.redactedLines,
      storeObjects: r.observer.scanned,
      alertsAccepted: r.world.receiver.accepted.length,
      hits: r.violations.filter((v) => v.invariant === 'secret-leaked').length,
    },
    violationCounts: countViolations(r.violations),
    violations: r.violations,
    replay: `npm run chaos -- --seed ${plan.seed} --rollouts ${plan.rollouts.length} --concurrency ${opts.concurrency ?? 3}${plan.failover ? ' --failover' : ''}`,
  };
}
