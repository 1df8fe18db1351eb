import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { RESOURCES } from '../src/kube/resources.ts';
import {
  createNamespace,
  getCanary,
  getDeployment,
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
function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('end to end: a controller killed mid-rollout', () => {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, 30_000);

  it('resumes after SIGKILL and completes the rollout with no step repeated or skipped', async () => {
    const ns = 'e2e-restart';
    await createNamespace(env.api, ns);
    const traffic = new TrafficLoop(env.prometheusUrl, ns);
    traffic.start();
    cleanups.push(() => traffic.stop());
    const weights = new WeightRecorder(env, ns);
    await weights.start();
    cleanups.push(() => weights.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    await env.api.create(RESOURCES.canary, podinfoCanary(ns, { interval: '2s' }));

    const first = spawnControllerProcess(env, ns);
    children.push(first.child);
    await waitForPhase(env.api, ns, ['Initialized'], 30_000).catch((err) => {
      throw new Error(`${(err as Error).message}\ncontroller output:\n${first.output()}`);
    });
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('the canary at weight 30', async () => (weights.weights.at(-1) === 30 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    first.child.kill('SIGKILL');
    await exited(first.child);
    const killedAt = await getCanary(env.api, ns);
    expect(killedAt.status?.phase).toBe('Progressing');

    // Down for longer than an interval: on restart the overdue step is taken once, not twice.
    await sleep(3000);
    expect(weights.weights.at(-1)).toBe(30);
    const second = spawnControllerProcess(env, ns);
    children.push(second.child);
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 40_000).catch((err) => {
      throw new Error(`${(err as Error).message}\ncontroller output:\n${second.output()}`);
    });
    expect(done.status?.phase).toBe('Succeeded');
    expect(weights.weights).toEqual([0, 10, 20, 30, 40, 50, 0]);
    const checkedWeights = (done.status?.history ?? []).map((h) => h.weight);
    expect(checkedWeights).toEqual([10, 20, 30, 40, 50]);
    const primary = await getDeployment(env.api, ns, 'podinfo-primary');
    expect(primary.spec?.template?.spec?.containers?.[0]?.image).toBe('podinfo:2.0');

    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
    expect(second.output()).toContain('controller stopped');
  }, 90_000);
});
