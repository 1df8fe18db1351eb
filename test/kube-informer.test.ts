import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeApi } from '../src/kube/client.ts';
import { ResilientInformer, type RestartInfo } from '../src/kube/informer.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';

import { FakeClock } from './support/fake-clock.ts';

type WatchStep = 'stream' | 'fail500' | 'gone410' | 'event410' | 'closeAtOnce';

interface Logged {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  obj: KubeObject;
}

/** A tiny list/watch server for ConfigMaps in namespace `test`, replaying events after a resourceVersion. */
class ListWatchServer {
  readonly objects = new Map<string, KubeObject>();
  readonly log: Logged[] = [];
  rv = 100;
  /** Slow lists whose client went away before the answer. */
  abortedLists = 0;
  listPlan: ('ok' | 'fail500' | 'slow')[] = [];
  watchPlan: WatchStep[] = [];
  readonly requests: {
    kind: 'list' | 'watch';
    query: URLSearchParams;
    path: string;
    userAgent?: string;
  }[] = [];
  private readonly openWatches = new Set<http.ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private server?: http.Server;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  openSockets(): number {
    return this.sockets.size;
  }

  openWatchCount(): number {
    return this.openWatches.size;
  }

  put(name: string, data: Record<string, string>): void {
    const type = this.objects.has(name) ? 'MODIFIED' : 'ADDED';
    this.rv++;
    const obj = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace: 'test',
        resourceVersion: String(this.rv),
        labels: { 'petrel.dev/managed-by': 'petrel' },
      },
      data,
    } as KubeObject;
    this.objects.set(name, obj);
    this.emit({ type, rv: this.rv, obj });
  }

  remove(name: string): void {
    const obj = this.objects.get(name);
    if (!obj) return;
    this.objects.delete(name);
    this.rv++;
    this.emit({
      type: 'DELETED',
      rv: this.rv,
      obj: { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.rv) } },
    });
  }

  private emit(entry: Logged): void {
    this.log.push(entry);
    for (const res of this.openWatches) {
      if (res.writableEnded || res.destroyed) continue;
      res.write(`${JSON.stringify({ type: entry.type, object: entry.obj })}\n`);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const isWatch = url.searchParams.get('watch') === 'true';
    this.requests.push({
      kind: isWatch ? 'watch' : 'list',
      query: url.searchParams,
      path: url.pathname,
      userAgent: req.headers['user-agent'],
    });
    if (!isWatch) {
      const step = this.listPlan.shift() ?? 'ok';
      if (step === 'fail500') {
        this.status(res, 500, 'InternalError');
        return;
      }
      const body = JSON.stringify({
        kind: 'ConfigMapList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.rv) },
        items: [...this.objects.values()],
      });
      if (step === 'slow') {
        res.on('close', () => {
          if (!res.writableEnded) this.abortedLists++;
        });
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(body);
        }, 150);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    const step = this.watchPlan.shift() ?? 'stream';
    if (step === 'fail500') {
      this.status(res, 500, 'InternalError');
      return;
    }
    if (step === 'gone410') {
      this.status(res, 410, 'Expired');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (step === 'event410') {
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } })}\n`,
      );
      return;
    }
    if (step === 'closeAtOnce') {
      res.end();
      return;
    }
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    for (const e of this.log.filter((l) => l.rv > from)) {
      res.write(`${JSON.stringify({ type: e.type, object: e.obj })}\n`);
    }
    res.flushHeaders();
    this.openWatches.add(res);
    res.on('close', () => this.openWatches.delete(res));
  }

  /** Ends every open watch the way a real API server does after its timeout. */
  endWatches(): void {
    // 'close' arrives later than end(): forget the watches now so no event is written after the end.
    for (const res of this.openWatches) res.end();
    this.openWatches.clear();
  }

  failWatches(): void {
    for (const res of this.openWatches) res.destroy();
  }

  private status(res: http.ServerResponse, code: number, reason: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code, reason, message: reason }));
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Waits for `cond` while letting the informer's fake time run: whenever the network is quiet for a
 * moment and a timer (a restart delay) is pending, the clock jumps to it.
 */
async function untilTicking(clock: FakeClock, cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
    if (!cond()) clock.runNext();
  }
}

/** One turn of the event loop, for the in-flight callbacks of a stopped informer to run. */
const settled = () => new Promise((r) => setImmediate(r));

function kubeConfigFor(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

const cleanups: (() => Promise<void>)[] = [];

function closing<T extends { close(): void }>(api: T): T {
  cleanups.push(async () => api.close());
  return api;
}
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  opts: {
    backoff?: Partial<import('../src/kube/informer.ts').BackoffOptions>;
    minWatchIntervalMs?: number;
    transform?: <T extends KubeObject>(obj: T) => T;
  } = {},
) {
  const server = new ListWatchServer();
  await server.start();
  cleanups.push(() => server.stop());
  const kc = kubeConfigFor(server.url);
  const clock = new FakeClock();
  const api = createKubeApi({ kubeConfig: kc, timeoutMs: 2000 });
  cleanups.push(async () => api.close());
  const informer = new ResilientInformer<KubeObject & { data?: Record<string, string> }>({
    kubeConfig: kc,
    api,
    resource: RESOURCES.configMap,
    namespace: 'test',
    labelSelector: 'petrel.dev/managed-by=petrel',
    backoff: { initialMs: 20, maxMs: 200, factor: 2, jitter: 0, resetAfterMs: 60_000, ...opts.backoff },
    minWatchIntervalMs: opts.minWatchIntervalMs ?? 0,
    clock,
    ...(opts.transform ? { transform: opts.transform } : {}),
  });
  cleanups.push(() => informer.stop());
  const events = {
    add: [] as string[],
    update: [] as string[],
    delete: [] as string[],
    errors: 0,
    restarts: [] as RestartInfo[],
    synced: 0,
    connects: 0,
  };
  informer.on('add', (o) => events.add.push(o.metadata?.name ?? ''));
  informer.on('update', (o) => events.update.push(o.metadata?.name ?? ''));
  informer.on('delete', (o) => events.delete.push(o.metadata?.name ?? ''));
  informer.on('error', () => events.errors++);
  informer.on('restart', (r) => events.restarts.push(r));
  informer.on('synced', () => events.synced++);
  informer.on('connect', () => events.connects++);
  return { server, informer, events, api, clock };
}

describe('ResilientInformer', () => {
  it('lists, syncs, then follows adds, updates and deletes into its cache', async () => {
    const { server, informer, events } = await setup();
    server.put('a', { v: '1' });
    expect(informer.synced).toBe(false);
    await informer.start();
    await informer.waitForSync(AbortSignal.timeout(5000));
    expect(informer.synced).toBe(true);
    expect(events.synced).toBe(1);
    expect(informer.get('test', 'a')?.data).toEqual({ v: '1' });

    const list = server.requests.find((r) => r.kind === 'list');
    expect(list?.path).toBe('/api/v1/namespaces/test/configmaps');
    expect(list?.query.get('labelSelector')).toBe('petrel.dev/managed-by=petrel');
    await until(() => server.requests.some((r) => r.kind === 'watch'), 'watch');
    expect(server.requests.find((r) => r.kind === 'watch')?.query.get('labelSelector')).toBe(
      'petrel.dev/managed-by=petrel',
    );

    server.put('b', { v: '1' });
    server.put('a', { v: '2' });
    server.remove('b');
    await until(() => events.delete.includes('b'), 'delete event');
    expect(events.add).toEqual(['a', 'b']);
    expect(events.update).toEqual(['a']);
    expect(informer.get('test', 'a')?.data).toEqual({ v: '2' });
    expect(informer.list('test').map((o) => o.metadata?.name)).toEqual(['a']);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['a']);
    expect(events.errors).toBe(0);
  });

  it('restarts after a non-410 watch error, resuming from its resourceVersion without losing events', async () => {
    const { server, informer, events, clock } = await setup();
    server.put('a', { v: '1' });
    server.watchPlan = ['stream', 'fail500'];
    await informer.start();
    await informer.waitForSync();
    await until(() => server.requests.filter((r) => r.kind === 'watch').length === 1, 'first watch');
    // The connection breaks; the next watch gets a 500, the one after that works again.
    server.failWatches();
    server.put('b', { v: 'during outage' });
    await untilTicking(clock, () => informer.get('test', 'b') !== undefined, 'event from the outage');
    expect(events.errors).toBeGreaterThanOrEqual(1);
    expect(events.restarts.length).toBeGreaterThanOrEqual(1);
    expect(events.restarts[0]?.attempt).toBe(1);
    expect(events.restarts[0]?.delayMs).toBe(20);
    // No relist was needed: the watch resumed from the last resourceVersion.
    expect(server.requests.filter((r) => r.kind === 'list')).toHaveLength(1);
    const watches = server.requests.filter((r) => r.kind === 'watch');
    expect(Number(watches.at(-1)?.query.get('resourceVersion'))).toBeGreaterThan(100);
    server.put('c', { v: '1' });
    await until(() => informer.get('test', 'c') !== undefined, 'later event');
  });

  it('does not add the reconnect spacing on top of a backoff delay', async () => {
    const { server, informer, events, clock } = await setup({ minWatchIntervalMs: 1000 });
    // The server ends the watch (reconnect at once), the reconnect fails with 500, then backoff.
    server.watchPlan = ['stream', 'fail500'];
    await informer.start();
    await informer.waitForSync();
    await until(() => server.openWatchCount() === 1, 'first watch');
    clock.advance(1000);
    server.endWatches();
    server.put('x', { v: '1' });
    await until(() => events.restarts.length === 1, 'restart after the failed reconnect');
    // Only the backoff delay is pending: the 1 s spacing is not added on top of it.
    expect(clock.pending()).toEqual([20]);
    clock.advance(20);
    await until(() => informer.get('test', 'x') !== undefined, 'event after the failure');
    expect(events.restarts).toHaveLength(1);
    expect(clock.pending()).toEqual([]);
  });

  it('relists after 410 Gone (HTTP status or watch ERROR event) without counting it as a failure', async () => {
    const { server, informer, events } = await setup();
    server.put('a', { v: '1' });
    server.watchPlan = ['gone410', 'event410', 'stream'];
    await informer.start();
    await informer.waitForSync();
    await until(() => server.requests.filter((r) => r.kind === 'list').length === 3, 'two relists');
    await until(() => server.requests.filter((r) => r.kind === 'watch').length === 3, 'third watch');
    expect(events.restarts).toEqual([]);
    expect(events.errors).toBe(0);
    server.put('z', { v: '1' });
    await until(() => informer.get('test', 'z') !== undefined, 'event after relist');
  });

  it('retries a failing initial list with growing, capped backoff and syncs once it works', async () => {
    const { server, informer, events, clock } = await setup({ backoff: { initialMs: 10, maxMs: 25 } });
    server.listPlan = ['fail500', 'fail500', 'fail500', 'ok'];
    await informer.start();
    await untilTicking(clock, () => informer.synced, 'sync');
    expect(events.restarts.map((r) => r.delayMs)).toEqual([10, 20, 25]);
    expect(events.restarts.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(events.errors).toBe(3);
    expect(events.synced).toBe(1);
  });

  it('starts the backoff over after a healthy period', async () => {
    const clock = new FakeClock();
    const server = new ListWatchServer();
    await server.start();
    cleanups.push(() => server.stop());
    const kc = kubeConfigFor(server.url);
    const informer = new ResilientInformer({
      kubeConfig: kc,
      api: closing(createKubeApi({ kubeConfig: kc })),
      resource: RESOURCES.configMap,
      namespace: 'test',
      backoff: { initialMs: 5, maxMs: 1000, factor: 2, jitter: 0, resetAfterMs: 1000 },
      minWatchIntervalMs: 0,
      clock,
    });
    cleanups.push(() => informer.stop());
    const delays: number[] = [];
    informer.on('restart', (r) => delays.push(r.delayMs));
    server.listPlan = ['fail500', 'fail500'];
    await informer.start();
    await untilTicking(clock, () => informer.synced, 'sync');
    expect(delays).toEqual([5, 10]);
    clock.advance(5000); // healthy for a while
    await until(() => server.openWatchCount() === 1, 'watch open');
    server.watchPlan = ['fail500'];
    server.failWatches();
    await until(() => delays.length === 3, 'third restart');
    expect(delays[2]).toBe(5);
  });

  it('applies jitter within its bounds', async () => {
    const server = new ListWatchServer();
    await server.start();
    cleanups.push(() => server.stop());
    const kc = kubeConfigFor(server.url);
    const randoms = [0, 1];
    const clock = new FakeClock();
    const informer = new ResilientInformer({
      kubeConfig: kc,
      api: closing(createKubeApi({ kubeConfig: kc })),
      resource: RESOURCES.configMap,
      backoff: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.2, resetAfterMs: 60_000 },
      random: () => randoms.shift() ?? 0.5,
      clock,
    });
    cleanups.push(() => informer.stop());
    const delays: number[] = [];
    informer.on('restart', (r) => delays.push(r.delayMs));
    server.listPlan = ['fail500', 'fail500'];
    await informer.start();
    await untilTicking(clock, () => informer.synced, 'sync');
    expect(delays).toEqual([80, 240]);
    // Without a namespace the informer lists across all namespaces.
    expect(server.requests[0]?.path).toBe('/api/v1/configmaps');
  });

  it('spaces out reconnects when the server closes every watch at once (no hot loop)', async () => {
    const { server, informer, clock } = await setup({ minWatchIntervalMs: 100 });
    server.watchPlan = Array.from({ length: 100 }, () => 'closeAtOnce' as const);
    await informer.start();
    await informer.waitForSync();
    const watches = () => server.requests.filter((r) => r.kind === 'watch').length;
    // Each reconnect waits out the rest of the 100 ms since the last one opened, and no longer.
    for (let n = 1; n <= 4; n++) {
      await until(
        () => watches() === n && clock.pending().length === 1,
        `watch ${n} closed, next one spaced`,
      );
      expect(clock.pending()).toEqual([100]);
      clock.advance(99);
      expect(watches()).toBe(n);
      clock.advance(1);
    }
    await until(() => watches() === 5, 'fifth watch');
  });

  it('leaves no connection, timer or request behind after stop, even mid-list', async () => {
    const { server, informer, events, api, clock } = await setup();
    server.put('a', { v: '1' });
    await informer.start();
    await informer.waitForSync();
    await until(() => server.openWatchCount() === 1, 'watch open');
    await informer.stop();
    await until(() => server.openWatchCount() === 0, 'watch closed', 2000);
    // What is left is the client's idle keep-alive connection from the list; closing the client ends it.
    api.close();
    await until(() => server.openSockets() === 0, 'sockets closed', 2000);
    const count = server.requests.length;
    server.put('b', { v: '1' });
    await settled();
    // Every reconnect or restart would go through a pending timer or an open connection: none is left.
    expect(clock.pending()).toEqual([]);
    expect(server.requests.length).toBe(count);
    expect(informer.get('test', 'b')).toBeUndefined();
    expect(events.restarts).toEqual([]);

    // Stopped while the (slow) list is in flight: no watch is opened afterwards.
    const second = await setup();
    second.server.listPlan = ['slow'];
    await second.informer.start();
    await until(() => second.server.requests.length === 1, 'list request');
    await second.informer.stop();
    // The list was aborted: the server sees its connection close before its slow answer.
    await until(() => second.server.abortedLists === 1, 'list aborted');
    await settled();
    expect(second.clock.pending()).toEqual([]);
    expect(second.server.requests.map((r) => r.kind)).toEqual(['list']);
    expect(second.informer.synced).toBe(false);
    expect(second.server.openWatchCount()).toBe(0);
    second.api.close();
    await until(() => second.server.openSockets() === 0, 'sockets closed', 2000);
  });

  it('reopens a watch the server ended normally, without an error or restart', async () => {
    const { server, informer, events } = await setup();
    await informer.start();
    await informer.waitForSync();
    await until(() => server.requests.some((r) => r.kind === 'watch'), 'watch');
    server.endWatches();
    await until(() => server.requests.filter((r) => r.kind === 'watch').length === 2, 'second watch');
    server.put('n', { v: '1' });
    await until(() => informer.get('test', 'n') !== undefined, 'event on the new watch');
    expect(events.errors).toBe(0);
    expect(events.restarts).toEqual([]);
    expect(server.requests.filter((r) => r.kind === 'list')).toHaveLength(1);
  });

  it('passes every listed and watched object through its transform before caching or telling anyone', async () => {
    const seen: string[] = [];
    const { server, informer } = await setup({
      transform: (obj) => {
        seen.push(obj.metadata?.name ?? '');
        const labels = obj.metadata?.labels;
        if (labels) delete labels['petrel.dev/managed-by'];
        return obj;
      },
    });
    const added: KubeObject[] = [];
    informer.on('add', (o) => added.push(o));
    informer.on('update', (o) => added.push(o));
    server.put('listed', { v: '1' });
    await informer.start();
    await informer.waitForSync(AbortSignal.timeout(5000));
    await until(() => server.requests.some((r) => r.kind === 'watch'), 'watch');
    server.put('watched', { v: '1' });
    server.put('listed', { v: '2' });
    await until(() => informer.get('test', 'listed')?.data?.v === '2', 'update');
    expect(seen).toEqual(['listed', 'watched', 'listed']);
    for (const name of ['listed', 'watched'])
      expect(informer.get('test', name)?.metadata?.labels).toEqual({});
    expect(added.map((o) => o.metadata?.labels)).toEqual([{}, {}, {}]);
  });

  it('sends petrel/<version from package.json> as the User-Agent of its lists and watches', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const { server, informer } = await setup();
    await informer.start();
    await informer.waitForSync();
    await until(() => server.requests.some((r) => r.kind === 'watch'), 'watch');
    const agents = (kind: 'list' | 'watch') =>
      server.requests.filter((r) => r.kind === kind).map((r) => r.userAgent);
    expect(agents('list')).toEqual([`petrel/${version}`]);
    expect(agents('watch')).toEqual([`petrel/${version}`]);

    // A component name goes after the version, on the client's requests as on the informer's watches.
    const kc = kubeConfigFor(server.url);
    const api = closing(createKubeApi({ kubeConfig: kc, userAgent: 'petrel-controller' }));
    const named = new ResilientInformer({
      kubeConfig: kc,
      api,
      resource: RESOURCES.configMap,
      namespace: 'test',
      userAgent: 'petrel-controller',
      clock: new FakeClock(),
    });
    cleanups.push(() => named.stop());
    const before = server.requests.length;
    await named.start();
    await named.waitForSync();
    await until(() => server.requests.slice(before).some((r) => r.kind === 'watch'), 'second watch');
    expect(server.requests.slice(before).map((r) => r.userAgent)).toEqual([
      `petrel/${version} (petrel-controller)`,
      `petrel/${version} (petrel-controller)`,
    ]);
  });

  it('waitForSync rejects when its signal aborts first', async () => {
    const { server, informer, events } = await setup();
    server.listPlan = Array.from({ length: 50 }, () => 'fail500' as const);
    await informer.start();
    const abort = new AbortController();
    const waiting = informer.waitForSync(abort.signal);
    await until(() => events.restarts.length === 1, 'first failed list');
    abort.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    expect(informer.synced).toBe(false);
  });
});
