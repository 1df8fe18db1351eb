import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.ts';
import type { RunningController } from '../src/controller/controller.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { Notification } from '../src/notifiers/notification.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  sleep,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { useHookReceiver } from './webhooks-receiver.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });
const receiver = useHookReceiver();

async function cli(args: string[]): Promise<{ code: number; output: string }> {
  const out = new PassThrough();
  let output = '';
  out.on('data', (chunk) => {
    output += chunk;
  });
  const code = await runCli([...args, '--kubeconfig', env.sandbox.kubeconfigPath], {
    stdout: out,
    stderr: out,
    stdin: new PassThrough(),
    env: {},
  });
  return { code, output };
}

interface EventView extends KubeObject {
  reason?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string };
}

describe('end to end: petrel freeze and unfreeze', () => {
  const cleanups = useCleanups();

  it('a frozen namespace holds a new revision at zero with the reason on the canary, one event and one alert; unfreeze starts it', async () => {
    const ns = 'e2e-freeze';
    await createNamespace(env.api, ns);
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const controller: RunningController = runController(env, ns, testLogger().logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(RESOURCES.alertProvider, {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'AlertProvider',
      metadata: { name: 'receiver', namespace: ns },
      spec: { type: 'webhook', address: `${receiver.url}/alerts/${ns}` },
    } as KubeObject);
    await env.api.create(
      RESOURCES.canary,
      podinfoCanary(ns, {
        interval: '1s',
        maxWeight: 20,
        stepWeight: 10,
        metrics: [],
        alerts: [{ name: 'all', severity: 'info', providerRef: { name: 'receiver' } }],
      }) as unknown as KubeObject,
    );
    await waitForPhase(env.api, ns, ['Initialized']);

    const frozen = await cli(['freeze', 'holiday', '-n', ns, '--reason', 'e2e freeze', '--until', '1h']);
    expect(frozen).toMatchObject({
      code: 0,
      output: expect.stringContaining(`releasefreeze ${ns}/holiday created`),
    });
    await setImage(env.api, ns, 'podinfo:2.0');
    const waiting = await waitFor('the canary held by the freeze', async () => {
      const canary = await getCanary(env.api, ns);
      const held = canary.status?.conditions?.find((c) => c.type === 'Held');
      return canary.status?.phase === 'Waiting' && held ? { canary, held } : undefined;
    });
    expect(waiting.canary.status?.canaryWeight).toBe(0);
    expect(waiting.held).toMatchObject({
      status: 'True',
      reason: 'ReleaseFrozen',
      message: expect.stringContaining(
        'frozen by ReleaseFreeze holiday (e2e freeze): the rollout may start at',
      ),
    });
    await sleep(1500);
    expect((await getCanary(env.api, ns)).status?.phase).toBe('Waiting');
    const events = (await env.api.list<EventView>(RESOURCES.event, { namespace: ns })).items.filter(
      (e) => e.reason === 'ReleaseFrozen',
    );
    expect(events.map((e) => e.count ?? 1)).toEqual([1]);

    const thawed = await cli(['unfreeze', 'holiday', '-n', ns]);
    expect(thawed).toEqual({ code: 0, output: `releasefreeze ${ns}/holiday deleted\n` });
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed'], 30_000);
    expect(done.status?.phase).toBe('Succeeded');
    expect(done.status?.conditions?.some((c) => c.type === 'Held')).toBe(false);
    const alerts = () =>
      receiver.received.filter((r) => r.path === `/alerts/${ns}`).map((r) => (r.body as Notification).reason);
    await waitFor('the Succeeded alert', async () => (alerts().includes('Succeeded') ? true : undefined));
    // One alert when the hold began and one when it ended, however many ticks came in between.
    expect(alerts().filter((r) => r === 'ReleaseFrozen')).toHaveLength(1);
    expect(alerts().filter((r) => r === 'ReleaseResumed')).toHaveLength(1);
  }, 90_000);

  it('refuses a bad --until and an unknown freeze with a clear message', async () => {
    const bad = await cli(['freeze', 'x', '-n', 'e2e-freeze', '--until', 'tomorrow']);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('spec.end: must be an RFC 3339 time with an offset');
    const missing = await cli(['unfreeze', 'nope', '-n', 'e2e-freeze']);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('ReleaseFreeze e2e-freeze/nope was not found');
  });
});
