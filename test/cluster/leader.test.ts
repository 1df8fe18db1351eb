// Two controller processes electing a leader on kube-apiserver's real Lease API: a killed leader is
// replaced by the standby, a restarted process rejoins, and rollouts complete under each leader.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../src/kube/resources.ts';
import type { KubeObject } from '../../src/kube/types.ts';
import {
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  setImage,
  TrafficLoop,
  waitFor,
  waitForPhase,
} from '../support/e2e.ts';
import { usePrometheus } from '../support/prometheus.ts';
import { setupOnce, useControlPlane } from './support.ts';

const PETREL_BIN = fileURLToPath(new URL('../../bin/petrel.js', import.meta.url));
const LEASE_NAMESPACE = 'petrel-system';
const NAMESPACE = 'leader';

const cluster = useControlPlane();
const prometheus = usePrometheus();

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseTransitions?: number;
    renewTime?: string;
    leaseDurationSeconds?: number;
  };
}

interface Replica {
  identity: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}

const replicas: Replica[] = [];

function startReplica(identity: string): Replica {
  const child = spawn(
    process.execPath,
    [
      PETREL_BIN,
      'controller',
      '--kubeconfig',
      cluster.plane.kubeconfigPath,
      '--prometheus-address',
      prometheus.url,
      '--namespace',
      NAMESPACE,
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      '0',
      '--leader-elect',
      '--lease-namespace',
      LEASE_NAMESPACE,
      '--leader-identity',
      identity,
      '--lease-duration',
      '4s',
      '--renew-deadline',
      '3s',
      '--retry-period',
      '500ms',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const replica = { identity, child, output: () => output, exited };
  replicas.push(replica);
  return replica;
}

async function lease(): Promise<Lease | undefined> {
  try {
    return await cluster.api.get<Lease>({
      resource: RESOURCES.lease,
      namespace: LEASE_NAMESPACE,
      name: 'petrel-leader',
    });
  } catch {
    return undefined;
  }
}

async function holder(not?: string): Promise<string> {
  return waitFor(
    `a leader${not ? ` other than ${not}` : ''}`,
    async () => {
      const id = (await lease())?.spec?.holderIdentity;
      return id && id !== not ? id : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

async function rollout(image: string): Promise<string | undefined> {
  await setImage(cluster.api, NAMESPACE, image);
  await waitFor(
    'the rollout to start',
    async () =>
      ['Initialized', 'Succeeded', 'Failed'].includes(
        (await getCanary(cluster.api, NAMESPACE)).status?.phase ?? '',
      )
        ? undefined
        : true,
    { timeoutMs: 30_000 },
  );
  return (await waitForPhase(cluster.api, NAMESPACE, ['Succeeded', 'Failed'], 120_000)).status?.phase;
}

afterAll(async () => {
  for (const r of replicas) r.child.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.exited));
});

describe('leader election on the real Lease API', () => {
  const story: { leader: string; phase?: string; transitions?: number }[] = [];
  let firstLease: Lease | undefined;

  const ready = setupOnce(async () => {
    await createNamespace(cluster.api, LEASE_NAMESPACE);
    await createNamespace(cluster.api, NAMESPACE);
    await cluster.api.create(RESOURCES.deployment, podinfoDeployment(NAMESPACE, 'podinfo:1.0'));
    const traffic = new TrafficLoop(prometheus.url, NAMESPACE);
    traffic.start();
    try {
      const a = startReplica('replica-a');
      const b = startReplica('replica-b');
      const first = await holder();
      firstLease = await lease();
      await cluster.api.create(RESOURCES.canary, podinfoCanary(NAMESPACE));
      await waitForPhase(cluster.api, NAMESPACE, ['Initialized'], 90_000);
      story.push({
        leader: first,
        phase: await rollout('podinfo:2.0'),
        transitions: (await lease())?.spec?.leaseTransitions,
      });

      // The leader dies without releasing the Lease: the standby takes over once it expires.
      const dead = first === a.identity ? a : b;
      dead.child.kill('SIGKILL');
      await dead.exited;
      const second = await holder(first);
      story.push({
        leader: second,
        phase: await rollout('podinfo:3.0'),
        transitions: (await lease())?.spec?.leaseTransitions,
      });

      // A new process joins as standby; the leader stops cleanly (releasing the Lease) and the
      // newcomer leads the next rollout.
      const c = startReplica('replica-c');
      await waitFor(
        'replica-c to sync its caches',
        async () => (c.output().includes('caches synced') ? true : undefined),
        { timeoutMs: 60_000 },
      );
      const leaving = replicas.find((r) => r.identity === second) as Replica;
      leaving.child.kill('SIGTERM');
      await leaving.exited;
      const third = await holder(second);
      story.push({
        leader: third,
        phase: await rollout('podinfo:4.0'),
        transitions: (await lease())?.spec?.leaseTransitions,
      });
    } catch (error) {
      const outputs = replicas.map((r) => `--- ${r.identity}:\n${r.output().slice(-3000)}`).join('\n');
      throw new Error(`${(error as Error).message}\n${outputs}`, { cause: error });
    } finally {
      await traffic.stop();
    }
  }, 400_000);

  it('the first leader is one of the two replicas, in a Lease the API server validated', () => {
    ready();
    expect(['replica-a', 'replica-b']).toContain(story[0]?.leader);
    expect(firstLease?.spec?.leaseDurationSeconds).toBe(4);
    // MicroTime, as kube-apiserver stores it
    expect(firstLease?.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('a killed leader is replaced by the standby, and a cleanly stopped one by the newcomer', () => {
    ready();
    expect(story.map((s) => s.leader)).toEqual([
      story[0]?.leader,
      story[0]?.leader === 'replica-a' ? 'replica-b' : 'replica-a',
      'replica-c',
    ]);
    const transitions = story.map((s) => s.transitions ?? 0);
    expect(transitions[1]).toBeGreaterThan(transitions[0] as number);
    expect(transitions[2]).toBeGreaterThan(transitions[1] as number);
  });

  it('every leader took its rollout to the end', () => {
    ready();
    expect(story.map((s) => s.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
  });
});
