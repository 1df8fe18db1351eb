import { seededRandom } from '../../dev/sandbox/traffic/random.ts';
import { isKubeApiError } from '../../src/kube/errors.ts';
import { RESOURCES, type ResourceKind } from '../../src/kube/resources.ts';
import { SecretRegistry } from '../../src/lib/redact.ts';
import { canary, deployment, namespace, release } from './fixtures.ts';
import { ControllerFleet } from './fleet.ts';
import {
  checkAlerts,
  checkOutages,
  checkRollout,
  FAILURE_REASONS,
  type Outage,
  type RolloutRecord,
  type Violation,
} from './invariants.ts';
import { WriteWatcher } from './killer.ts';
import { mutantCanary } from './mutants.ts';
import { APP, StoreObserver } from './observer.ts';
import { makePlan, type PlanOptions, type RolloutPlan } from './plan.ts';
import { type ChaosReport, type KillRecord, report } from './report.ts';
import { HARNESS_AGENT, retried, startWorld, type World } from './world.ts';

export type { ChaosReport } from './report.ts';

export interface ChaosOptions {
  seed: number;
  rollouts: number;
  /** Rollouts in flight at once, each in its own namespace. */
  concurrency?: number;
  /** Two controller replicas with leader election; every kill hits the leader. */
  failover?: boolean;
  /** Narrow the plan: no kills, every alert receiver flaky (see PlanOptions). */
  plan?: Pick<PlanOptions, 'kills' | 'allReceiversFlaky'>;
  /** Longest a rollout may take to reach its terminal phase. */
  rolloutTimeoutMs?: number;
  /** Progress lines (the CLI prints them; the test keeps them). */
  progress?: (line: string) => void;
  /** Every controller log line, with the replica that wrote it (the CLI writes them to a file). */
  controllerLog?: (line: string, identity: string) => void;
}

const NAMESPACE_KIND: ResourceKind = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
};
const LEASE_NAMESPACE = 'petrel-system';
const LEASE_DURATION_MS = 3000;
const RETRY_PERIOD_MS = 500;
/** A standby acquires once the lease expires (up to one lease duration after the last renewal) plus one retry. */
const TAKEOVER_BOUND_MS = LEASE_DURATION_MS + RETRY_PERIOD_MS + 1500;
/**
 * How long the last terminal alerts may take after the last rollout ends: the receiver refuses 30% of
 * posts and the notifier backs off 1, 2, 4, 8, 16 s between retries (five refusals in a row: 31 s), and a
 * controller killed meanwhile starts the schedule again from the status. The wait ends as soon as they
 * are all in.
 */
const TERMINAL_ALERTS_BOUND_MS = 90_000;

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const say = opts.progress ?? (() => {});
  const plan = makePlan({ seed: opts.seed, rollouts: opts.rollouts, failover: opts.failover, ...opts.plan });
  const world = await startWorld(opts.seed, plan.alertFailureRate);
  const secrets = new SecretRegistry();
  const alertUrl = (ns: string) => `${world.receiver.url}/hooks/${ns}/${plan.alertTokens[ns]}`;
  // The token alone: every leak of the URL or of its path carries it, and the namespace beside it is no secret.
  for (const r of plan.rollouts) secrets.register(plan.alertTokens[r.namespace]);
  const observer = new StoreObserver(secrets);
  observer.attach(world.sandbox);
  let logHits = 0;
  let redactedLines = 0;
  let synced = 0;
  const fleet = new ControllerFleet({
    kubeconfigPath: world.sandbox.kubeconfigPath,
    prometheusUrl: world.gate.url,
    ...(plan.failover ? { leaseNamespace: LEASE_NAMESPACE } : {}),
    leaseDurationMs: LEASE_DURATION_MS,
    retryPeriodMs: RETRY_PERIOD_MS,
    onLine: (line, identity) => {
      opts.controllerLog?.(line, identity);
      if (secrets.contains(line)) logHits++;
      if (line.includes('[REDACTED]') || line.includes('[URL]')) redactedLines++;
      if (line.includes('caches synced')) synced++;
    },
  });
  const kills: KillRecord[] = [];
  const timers: NodeJS.Timeout[] = [];
  let killAttempts = 0;
  const killNow = async (cause: string) => {
    const downtimeMs = plan.faults.downtimesMs[killAttempts++ % plan.faults.downtimesMs.length]!;
    const identity = plan.failover ? observer.leader : undefined;
    if (plan.failover && (!identity || !fleet.isRunning(identity))) return;
    const atMs = Date.now();
    const standbyReady = plan.failover ? fleet.hasReadyStandby(identity) : undefined;
    if (!(await fleet.kill(identity, downtimeMs))) return;
    const record: KillRecord = {
      atMs: atMs - started,
      cause,
      downtimeMs,
      ...(identity ? { identity } : {}),
      ...(standbyReady === undefined ? {} : { standbyReady }),
    };
    kills.push(record);
    say(`kill #${kills.length}: ${cause}${identity ? ` (leader ${identity})` : ''}, down ${downtimeMs} ms`);
    if (plan.failover)
      void measureTakeover(observer, identity ?? '', atMs).then((ms) => {
        if (ms !== undefined) record.takeoverMs = ms;
      });
  };
  const watcher = new WriteWatcher(
    world.sandbox,
    (ua) => ua?.includes(`(${HARNESS_AGENT})`) ?? false,
    (t) => void killNow(`after ${t.kind} in ${t.namespace}`),
  );
  observer.onDecisionRoute = (ns) => watcher.seen(ns, 'decision-route');
  const records: RolloutRecord[] = [];
  let mutantsPosted = 0;
  let mutantsRefused = 0;
  let watchDrops = 0;
  let goneEvents = 0;
  let injected = { errors: 0, conflicts: 0 };
  const outages: Outage[] = [];
  let prometheusDown: Promise<void> | undefined;
  try {
    if (plan.failover)
      await retried('lease namespace', () => world.api.create(NAMESPACE_KIND, namespace(LEASE_NAMESPACE)));
    fleet.startAll();
    await until('the controller to sync', () => synced >= fleet.identities.length, 90_000);
    if (plan.failover) await until('a leader', () => observer.leader !== undefined, 30_000);
    say(`controller${plan.failover ? 's' : ''} running; injecting faults`);
    const f = plan.faults;
    world.sandbox.faults.injectError({ rate: f.apiErrorRate, status: 500 });
    world.sandbox.faults.injectError({
      verb: 'patch',
      resource: 'canaries/status',
      rate: f.conflictRate,
      status: 409,
    });
    world.sandbox.faults.injectError({
      verb: 'patch',
      resource: 'virtualservices',
      rate: f.conflictRate,
      status: 409,
    });
    timers.push(
      setInterval(() => {
        if (world.sandbox.faults.dropWatches() > 0) watchDrops++;
      }, f.dropWatchesEveryMs),
    );
    timers.push(
      setInterval(() => {
        world.sandbox.faults.forceGone();
        goneEvents++;
      }, f.goneEveryMs),
    );
    for (const at of f.randomKillsAtMs) timers.push(setTimeout(() => void killNow('random'), at));
    for (const at of f.prometheusKillsAtMs)
      timers.push(
        setTimeout(() => {
          if (prometheusDown) return;
          say(`prometheus killed; a new one in ${f.prometheusDownMs} ms`);
          prometheusDown = world.killPrometheus(f.prometheusDownMs).then(
            (o) => {
              outages.push(o);
              prometheusDown = undefined;
            },
            (err: unknown) => {
              say(`prometheus did not come back: ${(err as Error).message}`);
              prometheusDown = undefined;
            },
          );
        }, at),
      );
    watcher.start();

    const random = seededRandom(opts.seed + 3);
    const queue = [...plan.rollouts];
    const run = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const record = await runRollout(next, {
          world,
          observer,
          watcher,
          alertUrl: alertUrl(next.namespace),
          timeoutMs: opts.rolloutTimeoutMs ?? 150_000,
          random,
          onMutant: (refused) => {
            mutantsPosted++;
            if (refused) mutantsRefused++;
          },
        });
        records.push(record);
        say(
          `rollout ${next.index} ${next.namespace} ${next.version}${next.prometheusOutage ? '+prometheus-outage' : ''}${next.deleteAtWeight ? '+deleted' : ''}: expected ${next.expected}, got ${record.finalPhase ?? (record.deletedAt ? 'deleted' : '-')}; weights ${record.weights.join(',')}`,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 3, plan.rollouts.length) }, run));
    // Alerts go out after the status: give the last ones (and their retries) time to arrive.
    const alertsFrom = Date.now();
    await until('terminal alerts', () => allTerminalAlertsIn(records, world), TERMINAL_ALERTS_BOUND_MS).catch(
      () => {},
    );
    say(`terminal alerts: waited ${Date.now() - alertsFrom} ms after the last rollout`);
    // A leader killed just before the last rollout ended still gets its bound to be taken over in.
    if (plan.failover)
      await until(
        'the last takeover',
        () => kills.every((k) => !k.standbyReady || k.takeoverMs !== undefined),
        TAKEOVER_BOUND_MS + 1000,
      ).catch(() => {});
  } finally {
    for (const t of timers) clearTimeout(t);
    await prometheusDown;
    watcher.stop();
    injected = injectedCounts(world);
    world.sandbox.faults.reset();
    await fleet.stop();
    observer.detach();
    await world.stop();
  }
  // A healthy version under analysis while Prometheus was gone, or refilling its 10 s window after, may fail.
  for (const r of records) {
    const from = r.releasedAt ?? Number.POSITIVE_INFINITY;
    const to = r.finishedAt ?? Date.now();
    r.prometheusLost = outages.some((o) => o.killedAt <= to && o.readyAt + 15_000 >= from);
  }
  const violations: Violation[] = [
    ...records.flatMap(checkRollout),
    ...checkOutages(records, outages),
    ...checkAlerts(records, world.receiver.accepted),
  ];
  for (const hit of observer.secretHits)
    violations.push({ invariant: 'secret-leaked', detail: `secret value in ${hit.where}` });
  if (logHits > 0)
    violations.push({
      invariant: 'secret-leaked',
      detail: `secret value in ${logHits} controller log lines`,
    });
  const takeoverMs = (ready: boolean) =>
    kills
      .filter((k) => k.standbyReady === ready)
      .map((k) => k.takeoverMs)
      .filter((ms): ms is number => ms !== undefined);
  const takeovers = { ready: takeoverMs(true), notReady: takeoverMs(false) };
  for (const k of kills) {
    // Killed while the other replica was itself still starting, nobody can take over at once: not a standby's delay.
    if (plan.failover && k.standbyReady && (k.takeoverMs === undefined || k.takeoverMs > TAKEOVER_BOUND_MS))
      violations.push({
        invariant: 'slow-takeover',
        detail: `leader ${k.identity} killed at ${k.atMs} ms (${k.cause}): standby took over ${k.takeoverMs === undefined ? 'never' : `after ${k.takeoverMs} ms`} (bound ${TAKEOVER_BOUND_MS} ms)`,
      });
  }
  return report(opts, plan, {
    started,
    records,
    world,
    kills,
    watcher,
    observer,
    logLines: fleet.logLines,
    redactedLines,
    violations,
    takeovers,
    mutantsPosted,
    mutantsRefused,
    watchDrops,
    goneEvents,
    prometheusKills: outages.length,
    injected,
  });
}

function injectedCounts(world: World): { errors: number; conflicts: number } {
  const rules = world.sandbox.faults.describe().errors;
  const sum = (status: number) => rules.filter((e) => e.status === status).reduce((n, e) => n + e.failed, 0);
  return { errors: sum(500), conflicts: sum(409) };
}

interface RolloutContext {
  world: World;
  observer: StoreObserver;
  watcher: WriteWatcher;
  alertUrl: string;
  timeoutMs: number;
  random: () => number;
  onMutant: (refused: boolean) => void;
}

async function runRollout(p: RolloutPlan, ctx: RolloutContext): Promise<RolloutRecord> {
  const { api, gate } = ctx.world;
  const ns = p.namespace;
  const v = ctx.observer.view(ns);
  if (p.flakyReceiver) ctx.world.receiver.flaky.add(ns);
  await retried('namespace', () => api.create(NAMESPACE_KIND, namespace(ns)));
  await retried('secret', () =>
    api.create(RESOURCES.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'alert-url', namespace: ns },
      data: { address: Buffer.from(ctx.alertUrl).toString('base64') },
    }),
  );
  await retried('alert provider', () =>
    api.create(RESOURCES.alertProvider, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'AlertProvider',
      metadata: { name: 'receiver', namespace: ns },
      spec: { type: 'webhook', secretRef: { name: 'alert-url' } },
    }),
  );
  await retried('deployment', () => api.create(RESOURCES.deployment, deployment(ns)));
  await retried('canary', () => api.create(RESOURCES.canary, canary(ns)));
  let timedOut = false;
  let releasedAt: number | undefined;
  let terminalAt: number | undefined;
  const deadline = Date.now() + ctx.timeoutMs;
  try {
    await until(`${ns} to initialize`, () => v.phase === 'Initialized', deadline - Date.now());
    for (const kind of p.killAfter) ctx.watcher.arm(ns, kind);
    v.released = true;
    releasedAt = Date.now();
    v.weights.push(v.weight ?? 0);
    v.weightTimes.push(releasedAt);
    await retried('release', () =>
      api.mergePatch(
        { resource: RESOURCES.deployment, namespace: ns, name: APP },
        release(p.version === 'broken' ? 0.5 : 0),
      ),
    );
    for (let k = 0; k < p.mutants; k++) void postMutant(ctx, ns, `mutant-${k}`);
    if (p.prometheusOutage) {
      await until(
        `${ns} to take traffic`,
        () => (v.weight ?? 0) > 0 || terminal(v.phase),
        deadline - Date.now(),
      );
      gate.kill(ns);
    }
    if (p.deleteAtWeight !== undefined) {
      const at = p.deleteAtWeight;
      await until(
        `${ns} to reach ${at}%`,
        () => (v.weight ?? 0) >= at || terminal(v.phase),
        deadline - Date.now(),
      );
      await retried('delete canary', () =>
        api.delete({ resource: RESOURCES.canary, namespace: ns, name: APP }),
      );
      await until(`${ns} canary to be gone`, () => v.deletedAt !== undefined, 30_000);
      // Long enough for a stale cache to have re-created what the garbage collector removes.
      await sleep(6000);
    } else {
      await until(`${ns} to finish`, () => terminal(v.phase), deadline - Date.now());
      terminalAt = Date.now();
      // A replayed decision shows here: weights raised again after the rollback, a second terminal write.
      await sleep(4000);
    }
  } catch {
    timedOut = true;
  } finally {
    gate.restore(ns);
    ctx.watcher.disarm(ns);
  }
  return {
    plan: p,
    weights: [...v.weights],
    weightTimes: [...v.weightTimes],
    phases: [...v.phases],
    phaseTimes: [...v.phaseTimes],
    // Set once the run knows every Prometheus outage.
    prometheusLost: false,
    ...(releasedAt === undefined ? {} : { releasedAt }),
    finishedAt: v.deletedAt ?? terminalAt ?? Date.now(),
    ...(v.deletedAt === undefined ? { finalPhase: v.phase } : {}),
    ...(v.deletedAt === undefined ? {} : { deletedAt: v.deletedAt }),
    recreated: [...v.recreated],
    invalidMessageBytes: [...v.invalid.values()],
    timedOut,
  };
}

async function postMutant(ctx: RolloutContext, ns: string, name: string): Promise<void> {
  try {
    await retried('mutant', () => ctx.world.api.create(RESOURCES.canary, mutantCanary(ns, name, ctx.random)));
    ctx.onMutant(false);
  } catch (err) {
    const cause = (err as Error).cause;
    ctx.onMutant(isKubeApiError(cause, 'INVALID') || (isKubeApiError(cause) && cause.status === 422));
  }
}

function terminal(phase: string | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

function allTerminalAlertsIn(records: RolloutRecord[], world: World): boolean {
  return records.every((r) => {
    if (!terminal(r.finalPhase)) return true;
    return world.receiver.accepted.some(
      (a) =>
        a.namespace === r.plan.namespace &&
        (r.finalPhase === 'Succeeded' ? a.reason === 'Succeeded' : FAILURE_REASONS.has(a.reason)),
    );
  });
}

async function measureTakeover(
  observer: StoreObserver,
  killed: string,
  at: number,
): Promise<number | undefined> {
  const bound = Date.now() + 30_000;
  while (Date.now() < bound) {
    const change = observer.leaseChanges.find((c) => c.at >= at && c.holder !== killed);
    if (change) return change.at - at;
    await sleep(50);
  }
  return undefined;
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const bound = Date.now() + Math.max(0, timeoutMs);
  while (!ok()) {
    if (Date.now() > bound) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
