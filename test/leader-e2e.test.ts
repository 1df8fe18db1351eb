import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { Lease } from '../src/controller/leader.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import {
  controllerRequests,
  createNamespace,
  podinfoCanary,
  podinfoDeployment,
  setImage,
  sleep,
  spawnControllerProcess,
  TrafficLoop,
  useE2e,
  WeightRecorder,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });
const NS = 'leader-e2e';
const LEASE_NS = 'petrel-system';
const LEASE = { resource: RESOURCES.lease, namespace: LEASE_NS, name: 'petrel-leader' };
const LEASE_DURATION_MS = 3000;

interface Replica {
  identity: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `petrel controller` with leader election, as each pod of the chart runs it. */
function startReplica(identity: string): Replica {
  const proc = spawnControllerProcess(env, NS, [
    '--leader-elect',
    '--lease-namespace',
    LEASE_NS,
    '--leader-identity',
    identity,
    '--lease-duration',
    '3s',
    '--renew-deadline',
    '2s',
    '--retry-period',
    '500ms',
  ]);
  return { identity, ...proc, output: () => proc.output() };
}

function logLines(replica: Replica): Record<string, unknown>[] {
  return replica
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function metricsUrl(replica: Replica): Promise<string> {
  return waitFor(`${replica.identity} to serve /metrics`, async () => {
    const line = logLines(replica).find((l) => l.msg === 'serving /metrics, /healthz and /readyz');
    return typeof line?.url === 'string' ? line.url : undefined;
  });
}

async function scrape(url: string): Promise<Map<string, number>> {
  const series = new Map<string, number>();
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

/** Writes other than to the Lease, as counted by a replica's own metrics. */
function writesBesidesLease(series: Map<string, number>): number {
  let total = 0;
  for (const [key, value] of series) {
    if (!key.startsWith('petrel_kube_api_requests_total{')) continue;
    if (/verb="(create|patch|delete)"/.test(key) && !key.includes('resource="leases"')) total += value;
  }
  return total;
}

describe('end to end: two controller processes, one Lease', () => {
  const replicas: Replica[] = [];
  afterAll(async () => {
    for (const r of replicas) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exited;
    }
  });

  it('one leads; killing it mid-rollout hands over within the lease duration and every step runs once', async () => {
    await createNamespace(env.api, NS);
    await createNamespace(env.api, LEASE_NS);
    const traffic = new TrafficLoop(env.prometheusUrl, NS);
    traffic.start();
    const weights = new WeightRecorder(env, NS);
    await weights.start();
    try {
      const a = startReplica('replica-a');
      const b = startReplica('replica-b');
      replicas.push(a, b);
      const urls = new Map([
        [a.identity, await metricsUrl(a)],
        [b.identity, await metricsUrl(b)],
      ]);
      const first = await waitFor('a leader', async () => {
        const holder = (await env.api.get<Lease>(LEASE)).spec?.holderIdentity;
        return holder === a.identity || holder === b.identity ? holder : undefined;
      });
      const [leader, standby] = first === a.identity ? [a, b] : [b, a];
      await waitFor('both replicas to sync', async () => {
        const ready = await Promise.all([...urls.values()].map((u) => fetch(`${u}/readyz`)));
        return ready.every((r) => r.status === 200) ? true : undefined;
      });
      expect((await scrape(urls.get(leader.identity)!)).get('petrel_leader')).toBe(1);
      expect((await scrape(urls.get(standby.identity)!)).get('petrel_leader')).toBe(0);

      await env.api.create(RESOURCES.deployment, podinfoDeployment(NS, 'podinfo:1.0'));
      await env.api.create(RESOURCES.canary, podinfoCanary(NS));
      await waitForPhase(env.api, NS, ['Initialized']);
      const changedAt = Date.now();
      await setImage(env.api, NS, 'podinfo:2.0');

      // Scrape the standby's /metrics through the whole rollout: it mirrors the Canary status too.
      const scraped: number[] = [];
      const standbyUrl = urls.get(standby.identity)!;
      let scraping = true;
      const scraper = (async () => {
        while (scraping) {
          const w = (await scrape(standbyUrl).catch(() => new Map<string, number>())).get(
            `petrel_canary_weight{namespace="${NS}",name="podinfo"}`,
          );
          if (w !== undefined && scraped.at(-1) !== w) scraped.push(w);
          await sleep(100);
        }
      })();

      await waitFor(
        'the rollout to reach 20%',
        async () => (weights.weights.includes(20) ? true : undefined),
        {
          timeoutMs: 40_000,
          intervalMs: 20,
        },
      );
      // Up to here the standby wrote nothing (it reconciled nothing).
      const standbyBefore = await scrape(standbyUrl);
      expect(writesBesidesLease(standbyBefore)).toBe(0);
      expect(standbyBefore.get('petrel_reconcile_total{result="success"}') ?? 0).toBe(0);
      expect(writesBesidesLease(await scrape(urls.get(leader.identity)!))).toBeGreaterThan(0);

      const killedAt = Date.now();
      leader.child.kill('SIGKILL');
      await leader.exited;
      const lease = await waitFor(
        'the standby to take the lease',
        async () => {
          const l = await env.api.get<Lease>(LEASE);
          return l.spec?.holderIdentity === standby.identity ? l : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 20 },
      );
      const handoverMs = Date.parse(lease.spec!.acquireTime!) - killedAt;
      console.log(
        `handover after SIGKILL of the leader: ${handoverMs} ms (lease duration ${LEASE_DURATION_MS} ms)`,
      );
      expect(handoverMs).toBeLessThanOrEqual(LEASE_DURATION_MS + 250);
      expect(lease.spec?.leaseTransitions).toBe(1);

      const done = await waitForPhase(env.api, NS, ['Succeeded', 'Failed'], 60_000);
      // The standby mirrors the status through its own watch, a moment after the API server has it.
      await waitFor(
        'the weight series to fall back to 0',
        async () => (scraped.at(-1) === 0 ? true : undefined),
        {
          timeoutMs: 10_000,
          intervalMs: 50,
        },
      );
      scraping = false;
      await scraper;
      expect(done.status?.phase).toBe('Succeeded');
      // Every weight step exactly once, in order, across the handover.
      expect(weights.weights.filter((w) => w > 0)).toEqual([10, 20, 30, 40, 50]);
      expect(done.status?.history?.map((h) => h.weight)).toEqual([10, 20, 30, 40, 50]);
      const routeWrites = controllerRequests(env.sandbox, changedAt).filter(
        (e) => e.namespace === NS && e.verb === 'patch' && e.resource === 'virtualservices',
      );
      expect(routeWrites).toHaveLength(weights.weights.filter((w, i) => i > 0 || w > 0).length);
      // The weight series on /metrics rose step by step.
      const rising = scraped.filter((w) => w > 0);
      expect(rising).toEqual([...rising].sort((x, y) => x - y));
      expect(new Set(rising).size).toBeGreaterThanOrEqual(4);
      expect(scraped.at(-1)).toBe(0);
      const after = await scrape(standbyUrl);
      expect(after.get('petrel_leader')).toBe(1);
      expect(
        after.get(`petrel_canary_rollouts_total{namespace="${NS}",name="podinfo",outcome="succeeded"}`),
      ).toBe(1);
      expect(after.get('petrel_reconcile_total{result="success"}')).toBeGreaterThan(0);

      // SIGTERM: the new leader finishes what it is doing, releases the Lease and exits cleanly.
      standby.child.kill('SIGTERM');
      expect(await standby.exited).toBe(0);
      expect((await env.api.get<Lease>(LEASE)).spec?.holderIdentity ?? '').toBe('');
      expect(logLines(standby).some((l) => l.msg === 'released the leader lease')).toBe(true);
    } finally {
      await weights.stop();
      await traffic.stop();
    }
  }, 150_000);
});
