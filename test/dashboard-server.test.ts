import { EventEmitter } from 'node:events';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxApiServer, startApiServer } from '../dev/sandbox/apiserver/index.ts';
import { kubeConfigFor } from '../dev/sandbox/apiserver/kubeconfig.ts';
import { requestAction } from '../src/dashboard/actions.ts';
import { clientScript } from '../src/dashboard/client/script.ts';
import { dashboardCommand } from '../src/dashboard/command.ts';
import { type RunningDashboard, startDashboard } from '../src/dashboard/dashboard.ts';
import { ReleaseRecorder } from '../src/dashboard/release.ts';
import { type DashboardServer, type DashboardSource, startDashboardServer } from '../src/dashboard/server.ts';
import type { Health } from '../src/dashboard/state.ts';
import { type CanaryObject, type CanaryView, canaryView } from '../src/dashboard/view.ts';
import { createKubeApi } from '../src/kube/client.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import { ResilientInformer } from '../src/kube/informer.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeApi, KubeObject } from '../src/kube/types.ts';
import { MANUAL_ACTIONS } from '../src/rollout/index.ts';
import { waitFor } from './support/wait.ts';

const CRD_DIR = fileURLToPath(new URL('../crds/', import.meta.url));

interface Reply {
  status: number;
  body: string;
}

/** One HTTP request to the dashboard with exactly the headers given (no defaults added but Host). */
function call(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request(target, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads a server-sent event stream, keeping every event in order. */
function openStream(url: string): { events: { event: string; data: unknown }[]; close(): void } {
  const events: { event: string; data: unknown }[] = [];
  let buffer = '';
  const req = request(new URL('/api/stream', url), (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
        end = buffer.indexOf('\n\n');
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return { events, close: () => req.destroy() };
}

function tokenOf(page: string): string {
  const boot = /<script id="petrel-boot" type="application\/json">(.*?)<\/script>/s.exec(page)?.[1];
  return (JSON.parse(boot ?? '{}') as { token: string }).token;
}

class FakeSource extends EventEmitter implements DashboardSource {
  views: CanaryView[] = [];
  snapshot(): CanaryView[] {
    return this.views;
  }
  health(): Health {
    return { ok: true };
  }
}

function canary(namespace: string, name: string): KubeObject & Record<string, unknown> {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name, namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 9898 },
      analysis: {
        interval: '2s',
        threshold: 2,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '10s' }],
        webhooks: [
          { name: 'load', type: 'rollout', url: 'http://load/' },
          { name: 'approve', type: 'confirm-promotion', url: 'http://gate/' },
        ],
      },
    },
  };
}

describe('petrel dashboard against the sandbox', () => {
  let sandbox: SandboxApiServer;
  let api: KubeApi & { close(): void };
  let dashboard: RunningDashboard;
  const ns = 'dash-unit';

  beforeAll(async () => {
    const crdFiles = readdirSync(CRD_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `${CRD_DIR}${f}`);
    sandbox = await startApiServer({ crdFiles });
    api = createKubeApi({ kubeConfig: sandbox.kubeConfig(), userAgent: 'petrel-test' });
    await api.create(
      { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    );
    await api.create(RESOURCES.canary, canary(ns, 'podinfo'));
    dashboard = await startDashboard({ kubeConfig: sandbox.kubeConfig(), namespace: ns, port: 0 });
    await dashboard.waitForSync();
  });
  afterAll(async () => {
    await dashboard?.stop();
    api?.close();
    await sandbox?.stop();
  });

  it('streams a snapshot, then each status change as the watch reports it', async () => {
    const stream = openStream(dashboard.url);
    try {
      await waitFor('the snapshot', () => stream.events.find((e) => e.event === 'snapshot'));
      const snapshot = stream.events.find((e) => e.event === 'snapshot')?.data as CanaryView[];
      expect(snapshot.map((v) => v.key)).toEqual([`${ns}/podinfo`]);
      expect(snapshot[0]?.gates.map((g) => g.type)).toEqual(['confirm-promotion']);

      const changedAt = Date.now();
      await api.patchStatus(
        { resource: RESOURCES.canary, namespace: ns, name: 'podinfo' },
        { status: { phase: 'Progressing', canaryWeight: 20 } },
      );
      const update = await waitFor(
        'a canary event with weight 20',
        () =>
          stream.events.find(
            (e) => e.event === 'canary' && (e.data as { view: CanaryView | null }).view?.weight === 20,
          ),
        { intervalMs: 10, timeoutMs: 5000 },
      );
      const latencyMs = Date.now() - changedAt;
      console.log(`dashboard: status change -> server-sent event in ${latencyMs} ms`);
      expect(latencyMs).toBeLessThan(1000);
      expect((update.data as { view: CanaryView }).view).toMatchObject({
        phase: 'Progressing',
        timeline: [{ weight: 20 }],
      });
    } finally {
      stream.close();
    }
  });

  it('sends the action with the token, and writes the annotation with the user kubeconfig', async () => {
    const page = await call(dashboard.url, 'GET', '/');
    expect(page.status).toBe(200);
    const token = tokenOf(page.body);
    const reply = await call(dashboard.url, 'POST', `/api/canaries/${ns}/podinfo/actions/pause`, {
      'x-petrel-token': token,
      origin: dashboard.url.replace(/\/$/, ''),
      'sec-fetch-site': 'same-origin',
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).message).toContain('pause requested');
    const stored = await api.get<KubeObject>({ resource: RESOURCES.canary, namespace: ns, name: 'podinfo' });
    expect(stored.metadata?.annotations).toMatchObject({
      'petrel.dev/action': 'pause',
      'petrel.dev/action-by': 'petrel-sandbox',
    });
  });

  it('refuses an action without the token, with a wrong one, from another origin, or another site', async () => {
    const path = `/api/canaries/${ns}/podinfo/actions/abort`;
    const token = tokenOf((await call(dashboard.url, 'GET', '/')).body);
    const cases: Record<string, string>[] = [
      {},
      { 'x-petrel-token': 'guess' },
      { 'x-petrel-token': token, origin: 'http://evil.example' },
      { 'x-petrel-token': token, origin: 'null' },
      { 'x-petrel-token': token, 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of cases) {
      const reply = await call(dashboard.url, 'POST', path, headers);
      expect(reply.status, JSON.stringify(headers)).toBe(403);
    }
    const stored = await api.get<KubeObject>({ resource: RESOURCES.canary, namespace: ns, name: 'podinfo' });
    expect(stored.metadata?.annotations?.['petrel.dev/action']).not.toBe('abort');
  });

  it('answers only to its own host name (no DNS rebinding) and refuses unknown actions', async () => {
    const port = new URL(dashboard.url).port;
    expect((await call(dashboard.url, 'GET', '/api/canaries', { host: `evil.example:${port}` })).status).toBe(
      421,
    );
    expect((await call(dashboard.url, 'GET', '/api/canaries', { host: `localhost:${port}` })).status).toBe(
      200,
    );
    const token = tokenOf((await call(dashboard.url, 'GET', '/')).body);
    const reply = await call(dashboard.url, 'POST', `/api/canaries/${ns}/podinfo/actions/delete`, {
      'x-petrel-token': token,
    });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body).message).toContain(MANUAL_ACTIONS.join(', '));
  });

  it("shows the Canary's events and drops a deleted Canary from the page", async () => {
    await api.create(RESOURCES.canary, canary(ns, 'other'));
    await waitFor('the second canary', () => dashboard.state.snapshot().some((v) => v.name === 'other'));
    const stream = openStream(dashboard.url);
    try {
      await waitFor('the snapshot', () => stream.events.some((e) => e.event === 'snapshot'));
      await api.create(RESOURCES.event, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'other.1', namespace: ns },
        involvedObject: { apiVersion: 'petrel.dev/v1alpha1', kind: 'Canary', name: 'other', namespace: ns },
        type: 'Warning',
        reason: 'CheckFailed',
        message: 'request-success-rate 91% < min 99%',
        count: 1,
        lastTimestamp: new Date().toISOString(),
      } as KubeObject);
      await waitFor('the event on the page', () =>
        stream.events.find(
          (e) =>
            e.event === 'canary' &&
            (e.data as { view: CanaryView | null }).view?.events.some((x) => x.reason === 'CheckFailed'),
        ),
      );
      await api.delete({ resource: RESOURCES.canary, namespace: ns, name: 'other' });
      await waitFor('the deletion on the page', () =>
        stream.events.find(
          (e) =>
            e.event === 'canary' &&
            (e.data as { key: string }).key === `${ns}/other` &&
            (e.data as { view: unknown }).view === null,
        ),
      );
      expect(dashboard.state.snapshot().map((v) => v.name)).toEqual(['podinfo']);
    } finally {
      stream.close();
    }
  });

  it('watches only the Events about Canaries (a field selector on the list and the watch)', async () => {
    const event = (name: string, kind: string) =>
      ({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: ns },
        involvedObject: { kind, name: 'podinfo', namespace: ns },
        reason: 'Test',
        message: kind,
      }) as KubeObject;
    await api.create(RESOURCES.event, event('listed-canary', 'Canary'));
    await api.create(RESOURCES.event, event('listed-deployment', 'Deployment'));
    const informer = new ResilientInformer<KubeObject>({
      kubeConfig: sandbox.kubeConfig(),
      api,
      resource: RESOURCES.event,
      namespace: ns,
      fieldSelector: 'involvedObject.kind=Canary',
    });
    await informer.start();
    try {
      await informer.waitForSync();
      await api.create(RESOURCES.event, event('watched-deployment', 'Deployment'));
      await api.create(RESOURCES.event, event('watched-canary', 'Canary'));
      await waitFor('the watched Canary event', () => informer.get(ns, 'watched-canary'));
      const names = informer.list(ns).map((e) => e.metadata?.name);
      expect(names).toContain('listed-canary');
      expect(names).not.toContain('listed-deployment');
      expect(names).not.toContain('watched-deployment');
    } finally {
      await informer.stop();
    }
  });

  it('answers 400 to a malformed path and 405 to other methods', async () => {
    const token = tokenOf((await call(dashboard.url, 'GET', '/')).body);
    const bad = await call(dashboard.url, 'POST', `/api/canaries/%E0%A4%A/podinfo/actions/pause`, {
      'x-petrel-token': token,
    });
    expect(bad.status).toBe(400);
    expect((await call(dashboard.url, 'DELETE', '/api/canaries')).status).toBe(405);
  });

  it('serves uPlot from node_modules and a script that parses', async () => {
    const uplot = await call(dashboard.url, 'GET', '/assets/uPlot.iife.min.js');
    expect(uplot.status).toBe(200);
    expect(uplot.body).toContain('uPlot');
    const script = await call(dashboard.url, 'GET', '/assets/dashboard.js');
    expect(() => new Function(script.body)).not.toThrow();
    // Browser code may use only its parameters and browser globals, never a module import.
    expect(script.body).not.toMatch(/__vite_ssr_import|require\(|\bimport\s*\(/);
  });
});

describe('the action endpoint when the API server refuses', () => {
  let server: DashboardServer;
  const forbidden: KubeApi = {
    mergePatch: async () => {
      throw new KubeApiError('canaries.petrel.dev "podinfo" is forbidden: User "bob" cannot patch resource', {
        code: 'FORBIDDEN',
        status: 403,
      });
    },
  } as unknown as KubeApi;

  beforeAll(async () => {
    server = await startDashboardServer({
      port: 0,
      source: new FakeSource(),
      act: (req) => requestAction(forbidden, req, 'bob', new Date()),
      actions: MANUAL_ACTIONS,
      scope: 'test',
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers 403 with a sentence naming the user, the verb and the API server message', async () => {
    const token = tokenOf((await call(server.url, 'GET', '/')).body);
    const reply = await call(server.url, 'POST', '/api/canaries/prod/podinfo/actions/promote', {
      'x-petrel-token': token,
    });
    expect(reply.status).toBe(403);
    const message = JSON.parse(reply.body).message as string;
    expect(message).toContain(
      'promote refused: your kubeconfig user (bob) may not patch Canary prod/podinfo',
    );
    expect(message).toContain('"patch" on canaries.petrel.dev in namespace prod');
    expect(message).toContain('cannot patch resource');
  });

  it('streams changes of its source and stops streaming when the client goes away', async () => {
    const source = new FakeSource();
    const local = await startDashboardServer({
      port: 0,
      source,
      act: async () => ({ status: 200, message: '' }),
      actions: [],
      scope: 't',
    });
    try {
      const stream = openStream(local.url);
      await waitFor('the snapshot', () => stream.events.some((e) => e.event === 'snapshot'));
      expect(source.listenerCount('change')).toBe(1);
      source.emit('change', 'a/b', undefined);
      await waitFor('the deletion event', () =>
        stream.events.find((e) => e.event === 'canary' && (e.data as { key: string }).key === 'a/b'),
      );
      stream.close();
      await waitFor('the listener to be removed', () => source.listenerCount('change') === 0);
    } finally {
      await local.stop();
    }
  });
});

describe('when the kubeconfig is refused', () => {
  it('says on the stream which watch fails and why', async () => {
    const sandbox = await startApiServer({ token: 'right' });
    const dashboard = await startDashboard({
      kubeConfig: kubeConfigFor(sandbox.url, 'wrong'),
      namespace: 'default',
      port: 0,
    });
    const stream = openStream(dashboard.url);
    try {
      const health = await waitFor('a failing health event', () =>
        stream.events.find((e) => e.event === 'health' && !(e.data as Health).ok),
      );
      expect((health.data as Health).message).toMatch(/^cannot watch (Canaries|Events): unauthorized/);
    } finally {
      stream.close();
      await dashboard.stop();
      await sandbox.stop();
    }
  });
});

describe('the release record behind the charts', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const obj = (status: Record<string, unknown>): CanaryObject => ({
    metadata: { name: 'p', namespace: 'n' },
    spec: {},
    status,
  });

  it('keeps one point per weight step and starts again on a new revision', () => {
    const rec = new ReleaseRecorder();
    const weights = (w: number, rev = 'r1') =>
      rec.observe(obj({ lastAppliedSpec: rev, canaryWeight: w }), w * 1000);
    weights(0);
    weights(10);
    weights(10);
    weights(20);
    expect(weights(0).timeline.map((p) => p.weight)).toEqual([10, 20, 0]);
    expect(weights(0, 'r2').timeline).toEqual([]);
    expect(weights(10, 'r2').timeline.map((p) => p.weight)).toEqual([10]);
  });

  it('rebuilds a release it joins halfway from the history, leaving out the release before', () => {
    const history = [
      { time: at(1), weight: 10, metric: 'm', value: 90, verdict: 'fail', reason: 'x' },
      { time: at(3), weight: 10, metric: 'm', value: 99.9, verdict: 'pass', reason: 'ok' },
      {
        time: at(5),
        weight: 20,
        metric: 'm',
        value: 99.8,
        primaryValue: 99.9,
        verdict: 'pass',
        reason: 'ok',
      },
    ];
    const status = {
      lastAppliedSpec: 'r2',
      phase: 'Progressing',
      canaryWeight: 20,
      history,
      conditions: [{ type: 'Promoted', status: 'Unknown', lastTransitionTime: at(2) }],
    };
    const record = new ReleaseRecorder().observe(obj(status), Date.parse(at(6)));
    expect(record.timeline.map((p) => p.weight)).toEqual([10, 20]);
    expect(record.checks.get('m')?.map((p) => [p.value, p.primary])).toEqual([
      [99.9, undefined],
      [99.8, 99.9],
    ]);
    // Not in a rollout: the last drop in weight marks where the last release began.
    const steady = { ...status, phase: 'Failed', canaryWeight: 0, conditions: [] };
    const dropped = [
      ...history.slice(0, 2),
      { ...history[2], weight: 20 },
      { ...history[0], time: at(7), weight: 10 },
    ];
    const record2 = new ReleaseRecorder().observe(obj({ ...steady, history: dropped }), Date.parse(at(8)));
    expect(record2.checks.get('m')?.map((p) => p.time)).toEqual([Date.parse(at(7))]);
  });

  it('starts again when a rollout restarts on a newer revision, and finds a restart it joins halfway', () => {
    const entry = (s: number, weight: number) => ({
      time: at(s),
      weight,
      metric: 'm',
      value: s,
      verdict: 'pass',
      reason: 'ok',
    });
    const promoted = [{ type: 'Promoted', status: 'Unknown', lastTransitionTime: at(0) }];
    const first = {
      lastAppliedSpec: 'r1',
      phase: 'Progressing',
      conditions: promoted,
      lastTransitionTime: at(0),
    };
    const rec = new ReleaseRecorder();
    rec.observe(
      obj({ ...first, canaryWeight: 20, history: [entry(1, 10), entry(3, 20)] }),
      Date.parse(at(4)),
    );
    // r2 replaces r1 in flight: Promoted stays Unknown since second 0, the restart is at second 5.
    const restarted = { ...first, lastAppliedSpec: 'r2', lastTransitionTime: at(5), canaryWeight: 0 };
    const record = rec.observe(
      obj({ ...restarted, history: [entry(1, 10), entry(3, 20)] }),
      Date.parse(at(5)),
    );
    expect(record.checks.get('m') ?? []).toEqual([]);
    expect(record.timeline).toEqual([]);
    const later = { ...restarted, canaryWeight: 10, history: [entry(1, 10), entry(3, 20), entry(7, 10)] };
    expect(
      rec
        .observe(obj(later), Date.parse(at(8)))
        .checks.get('m')
        ?.map((p) => p.value),
    ).toEqual([7]);
    // Joining that restarted release halfway: the drop from 20 to 10 marks its start.
    const joined = new ReleaseRecorder().observe(obj(later), Date.parse(at(8)));
    expect(joined.checks.get('m')?.map((p) => p.value)).toEqual([7]);
    expect(joined.timeline.map((p) => p.weight)).toEqual([10]);
  });

  it('shows thresholds, gates, a pending action and the Paused condition', () => {
    const view = canaryView(
      {
        ...(canary('n', 'p') as CanaryObject),
        metadata: {
          name: 'p',
          namespace: 'n',
          annotations: { 'petrel.dev/action': 'pause', 'petrel.dev/action-by': 'al' },
        },
        status: { phase: 'Progressing', conditions: [{ type: 'Paused', status: 'True' }] },
      },
      { timeline: [], checks: new Map() },
      [],
    );
    expect(view).toMatchObject({
      key: 'n/p',
      paused: true,
      pendingAction: 'pause by al',
      maxWeight: 50,
      threshold: 2,
      checks: [{ metric: 'request-success-rate', min: 99, points: [] }],
      gates: [{ name: 'approve', type: 'confirm-promotion' }],
    });
  });
});

describe('petrel dashboard command line', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    const sink = (into: string[]) => ({
      write: (s: string) => {
        into.push(s);
        return true;
      },
    });
    return {
      io: { stdout: sink(out), stderr: sink(err), env: {} } as unknown as Parameters<
        typeof dashboardCommand
      >[1],
      out: () => out.join(''),
      err: () => err.join(''),
    };
  };

  it('refuses a bad port and -n with -A, and prints help', async () => {
    const a = io();
    expect(await dashboardCommand(['--port', 'x'], a.io)).toBe(2);
    expect(a.err()).toContain('--port must be a whole number from 0 to 65535, got "x"');
    const b = io();
    expect(await dashboardCommand(['-n', 'a', '-A'], b.io)).toBe(2);
    expect(b.err()).toContain('either -n NAMESPACE or -A');
    const c = io();
    expect(await dashboardCommand(['--help'], c.io)).toBe(0);
    expect(c.out()).toContain('usage: petrel dashboard');
  });

  it('prints the URL of a free port with --port 0, and names the flag when the port is taken', async () => {
    const sandbox = await startApiServer({});
    const abort = new AbortController();
    const first = io();
    const running = dashboardCommand(
      ['--port', '0', '--kubeconfig', sandbox.kubeconfigPath],
      first.io,
      abort.signal,
    );
    try {
      const url = await waitFor('the URL', () => /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(first.out())?.[1]);
      const second = io();
      const port = new URL(url).port;
      expect(
        await dashboardCommand(['--port', port, '--kubeconfig', sandbox.kubeconfigPath], second.io),
      ).toBe(1);
      expect(second.err()).toContain(`port ${port} on 127.0.0.1 is in use: pick another with --port N`);
    } finally {
      abort.abort();
      expect(await running).toBe(0);
      await sandbox.stop();
    }
  });
});

// Keeps the script's text honest: clientScript is what the browser runs, and it must not change per call.
it('builds the same page script every time', () => {
  expect(clientScript()).toBe(clientScript());
});

describe('checks that compare the canary with the primary', () => {
  it('draws the primary beside the canary from the relative checks evidence, merged with the history', () => {
    const time = '2026-01-01T00:00:10.000Z';
    const canaryObject: CanaryObject = {
      metadata: { name: 'p', namespace: 'n' },
      spec: {
        analysis: {
          metrics: [{ name: 'request-success-rate', compare: { against: 'primary', tolerance: '+0.5pp' } }],
        },
      },
      status: {
        lastAppliedSpec: 'r1',
        phase: 'Progressing',
        canaryWeight: 10,
        conditions: [{ type: 'Promoted', status: 'Unknown', lastTransitionTime: '2026-01-01T00:00:00.000Z' }],
        history: [
          { time, weight: 10, metric: 'request-success-rate', value: 99.1, verdict: 'pass', reason: 'ok' },
        ],
        analysis: {
          steps: [
            {
              time,
              weight: 10,
              checks: [
                {
                  metric: 'request-success-rate',
                  verdict: 'inconclusive',
                  canary: 99.1,
                  primary: 99.8,
                  difference: 0.7,
                },
              ],
            },
          ],
        },
      },
    };
    const release = new ReleaseRecorder().observe(canaryObject, Date.parse(time) + 1000);
    const view = canaryView(canaryObject, release, []);
    expect(view.checks).toEqual([
      {
        metric: 'request-success-rate',
        tolerance: '+0.5pp',
        points: [
          {
            time: Date.parse(time),
            weight: 10,
            value: 99.1,
            primary: 99.8,
            verdict: 'inconclusive',
            reason: 'ok',
          },
        ],
      },
    ]);
  });
});
