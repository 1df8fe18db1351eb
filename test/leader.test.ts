import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import {
  LeaderElectionConfigError,
  LeaderElector,
  type Lease,
  leaderOnlyWrites,
  microTime,
  NotLeaderError,
} from '../src/controller/leader.ts';
import { createKubeApi } from '../src/kube/client.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeApi } from '../src/kube/types.ts';
import { waitFor } from './support/wait.ts';

const TIMINGS = { leaseDurationMs: 2000, renewDeadlineMs: 1200, retryPeriodMs: 300 };
const silent = pino({ level: 'silent' });

let sandbox: SandboxApiServer;
let api: KubeApi;
beforeAll(async () => {
  sandbox = await startApiServer();
  api = createKubeApi({ kubeConfig: sandbox.kubeConfig(), userAgent: 'leader-test' });
}, 30_000);
afterAll(async () => {
  await sandbox?.stop();
});

interface Timeline {
  events: { who: string; what: 'start' | 'stop'; at: number; reason?: string }[];
}

function elector(name: string, identity: string, timeline: Timeline, client: KubeApi = api): LeaderElector {
  return new LeaderElector({
    api: client,
    namespace: 'default',
    name,
    identity,
    ...TIMINGS,
    logger: silent,
    onStartedLeading: () => timeline.events.push({ who: identity, what: 'start', at: Date.now() }),
    onStoppedLeading: (reason) =>
      timeline.events.push({ who: identity, what: 'stop', at: Date.now(), reason }),
  });
}

/** Waits for `check`; resolves with the time it first held. */
function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<number> {
  return waitFor(what, () => (check() ? Date.now() : undefined), { timeoutMs, intervalMs: 20 });
}

async function holder(name: string): Promise<string | null | undefined> {
  const lease = await api.get<Lease>({ resource: RESOURCES.lease, namespace: 'default', name });
  return lease.spec?.holderIdentity;
}

/** Never more than one replica leading at any moment of the timeline. */
function assertOneLeaderAtATime(timeline: Timeline): void {
  const leading = new Set<string>();
  for (const e of timeline.events) {
    if (e.what === 'start') {
      expect([...leading], `${e.who} started leading while another led`).toEqual([]);
      leading.add(e.who);
    } else leading.delete(e.who);
  }
}

/** A client whose every call fails as if the network to the API server were cut. */
/**
 * An elector's own view of the API: `cut` fails every request as a network partition would, and
 * `reads` counts the Lease reads that got through (one per attempt to acquire or renew), so a test
 * waits for attempts instead of for time.
 */
function instrumented(
  inner: KubeApi,
  cut: () => boolean = () => false,
): { api: KubeApi; reads: () => number } {
  let reads = 0;
  const fail = () => new KubeApiError('connection refused (partitioned in test)', { code: 'NETWORK' });
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (cut()) throw fail();
      return fn(...args);
    };
  const get = wrap(inner.get.bind(inner));
  const api = {
    get: (async (...args: Parameters<KubeApi['get']>) => {
      const answer = await get(...args);
      reads++;
      return answer;
    }) as KubeApi['get'],
    list: wrap(inner.list.bind(inner)),
    create: wrap(inner.create.bind(inner)),
    mergePatch: wrap(inner.mergePatch.bind(inner)),
    jsonPatch: wrap(inner.jsonPatch.bind(inner)),
    patchStatus: wrap(inner.patchStatus.bind(inner)),
    delete: wrap(inner.delete.bind(inner)),
  } as KubeApi;
  return { api, reads: () => reads };
}

/** Resolves once `reads` has counted `more` further attempts. */
function attempts(who: string, reads: () => number, more: number): Promise<number> {
  const target = reads() + more;
  return until(`${more} more lease reads by ${who}`, () => reads() >= target);
}

describe('leader election over a Lease (sandbox API server)', () => {
  it('elects exactly one of two replicas and hands over at once when the leader stops', async () => {
    const timeline: Timeline = { events: [] };
    const viewA = instrumented(api);
    const viewB = instrumented(api);
    const a = elector('handover', 'replica-a', timeline, viewA.api);
    const b = elector('handover', 'replica-b', timeline, viewB.api);
    try {
      a.start();
      b.start();
      await until('a leader', () => a.isLeader || b.isLeader);
      // Several renewals later there is still exactly one.
      const leaderReads = a.isLeader ? viewA.reads : viewB.reads;
      await attempts('the leader', leaderReads, 4);
      expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
      const [leader, standby] = a.isLeader ? [a, b] : [b, a];
      expect(await holder('handover')).toBe(leader.identity);
      const stoppedAt = Date.now();
      await leader.stop();
      expect(leader.isLeader).toBe(false);
      const tookOverAt = await until('the standby to lead', () => standby.isLeader);
      // Released, not expired: the standby needs no more than a (jittered) retry period.
      expect(tookOverAt - stoppedAt).toBeLessThan(TIMINGS.retryPeriodMs * 1.2 + 400);
      expect(await holder('handover')).toBe(standby.identity);
      assertOneLeaderAtATime(timeline);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('fails over within the lease duration when the leader vanishes, and the old leader steps down first', async () => {
    const timeline: Timeline = { events: [] };
    let cut = false;
    const viewA = instrumented(api, () => cut);
    const viewB = instrumented(api);
    const a = elector('failover', 'replica-a', timeline, viewA.api);
    const b = elector('failover', 'replica-b', timeline, viewB.api);
    try {
      a.start();
      await until('a to lead', () => a.isLeader);
      b.start();
      await attempts('the standby', viewB.reads, 2);
      expect(b.isLeader).toBe(false);
      const lease = await api.get<Lease>({
        resource: RESOURCES.lease,
        namespace: 'default',
        name: 'failover',
      });
      cut = true;
      const cutAt = Date.now();
      const lastRenew = Date.parse(lease.spec!.renewTime!);
      const steppedDownAt = await until('a to step down', () => !a.isLeader);
      const tookOverAt = await until('b to take over', () => b.isLeader);
      // a gives up at its renew deadline, before b may take over.
      expect(steppedDownAt - cutAt).toBeLessThanOrEqual(TIMINGS.renewDeadlineMs + 100);
      expect(steppedDownAt).toBeLessThan(tookOverAt);
      // b takes over once the lease expired, within the lease duration of the cut (plus request time).
      expect(tookOverAt - cutAt).toBeLessThanOrEqual(TIMINGS.leaseDurationMs + 250);
      expect(tookOverAt).toBeGreaterThanOrEqual(lastRenew + TIMINGS.leaseDurationMs - 50);
      expect(timeline.events.find((e) => e.who === 'replica-a' && e.what === 'stop')?.reason).toMatch(
        /could not renew the lease within 1200 ms/,
      );
      assertOneLeaderAtATime(timeline);
      const after = await api.get<Lease>({
        resource: RESOURCES.lease,
        namespace: 'default',
        name: 'failover',
      });
      expect(after.spec?.holderIdentity).toBe('replica-b');
      expect(after.spec?.leaseTransitions).toBe((lease.spec?.leaseTransitions ?? 0) + 1);
      // a comes back: it finds b holding the lease and stays a standby.
      cut = false;
      await attempts('replica-a, back', viewA.reads, 3);
      expect(a.isLeader).toBe(false);
      expect(b.isLeader).toBe(true);
    } finally {
      cut = false;
      await a.stop();
      await b.stop();
    }
  });

  it('stops leading at the next renewal when another writer takes the lease', async () => {
    const timeline: Timeline = { events: [] };
    const viewA = instrumented(api);
    const a = elector('stolen', 'replica-a', timeline, viewA.api);
    try {
      a.start();
      await until('a to lead', () => a.isLeader);
      const ref = { resource: RESOURCES.lease, namespace: 'default', name: 'stolen' };
      await api.mergePatch(ref, {
        spec: { holderIdentity: 'intruder', renewTime: microTime(new Date()), leaseDurationSeconds: 30 },
      });
      const stolenAt = Date.now();
      const stoppedAt = await until('a to stop leading', () => !a.isLeader);
      expect(stoppedAt - stolenAt).toBeLessThanOrEqual(TIMINGS.retryPeriodMs * 1.2 + 200);
      expect(timeline.events.at(-1)).toMatchObject({ who: 'replica-a', what: 'stop' });
      // And it does not take the lease back before the intruder's 30 s run out.
      await attempts('replica-a', viewA.reads, 3);
      expect(a.isLeader).toBe(false);
      expect(await holder('stolen')).toBe('intruder');
    } finally {
      await a.stop();
    }
  });

  it('writes Lease times as MicroTime and the duration in whole seconds', async () => {
    const timeline: Timeline = { events: [] };
    const a = elector('format', 'replica-a', timeline);
    try {
      a.start();
      await until('a to lead', () => a.isLeader);
      const lease = await api.get<Lease>({ resource: RESOURCES.lease, namespace: 'default', name: 'format' });
      expect(lease.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(lease.spec?.acquireTime).toMatch(/\.\d{6}Z$/);
      expect(lease.spec?.leaseDurationSeconds).toBe(2);
    } finally {
      await a.stop();
    }
    expect(await holder('format')).toBeUndefined();
  });
});

describe('leaderOnlyWrites', () => {
  it('refuses writes while not leading and passes reads and writes through while leading', async () => {
    let leading = false;
    const guarded = leaderOnlyWrites(api, () => leading);
    const ref = { resource: RESOURCES.lease, namespace: 'default', name: 'guarded' };
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'guarded', namespace: 'default' },
    };
    await expect(guarded.create(RESOURCES.lease, lease)).rejects.toBeInstanceOf(NotLeaderError);
    await expect(guarded.get(ref)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    leading = true;
    await guarded.create(RESOURCES.lease, lease);
    leading = false;
    for (const write of [
      () => guarded.mergePatch(ref, { spec: { holderIdentity: 'x' } }),
      () => guarded.jsonPatch(ref, [{ op: 'add', path: '/spec', value: {} }]),
      () => guarded.patchStatus(ref, {}),
      () => guarded.delete(ref),
    ]) {
      await expect(write()).rejects.toMatchObject({ code: 'NOT_LEADER' });
    }
    expect((await guarded.get<Lease>(ref)).metadata?.name).toBe('guarded');
    expect((await guarded.list(RESOURCES.lease, { namespace: 'default' })).items.length).toBeGreaterThan(0);
  });
});

describe('leader election configuration', () => {
  it.each([
    [{ leaseDurationMs: 2000, renewDeadlineMs: 1900, retryPeriodMs: 300 }, /must not exceed leaseDuration/],
    [
      { leaseDurationMs: 2000, renewDeadlineMs: 500, retryPeriodMs: 600 },
      /must be shorter than renewDeadline/,
    ],
    [{ leaseDurationMs: 2500, renewDeadlineMs: 1000, retryPeriodMs: 300 }, /whole seconds/],
    [{ leaseDurationMs: 0, renewDeadlineMs: 1000, retryPeriodMs: 300 }, /leaseDuration must be a positive/],
  ])('refuses %o', (timings, message) => {
    expect(
      () =>
        new LeaderElector({
          api,
          namespace: 'default',
          name: 'x',
          identity: 'a',
          logger: silent,
          ...timings,
        }),
    ).toThrow(LeaderElectionConfigError);
    expect(
      () =>
        new LeaderElector({
          api,
          namespace: 'default',
          name: 'x',
          identity: 'a',
          logger: silent,
          ...timings,
        }),
    ).toThrow(message);
  });

  it('needs an identity', () => {
    expect(
      () => new LeaderElector({ api, namespace: 'default', name: 'x', identity: '', logger: silent }),
    ).toThrow(/identity/);
  });
});
