import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notification } from '../src/notifiers/notification.ts';
import { createNotifier } from '../src/notifiers/notifier.ts';
import { HookCallError } from '../src/outbound/errors.ts';
import { OutboundProxy, ProxyConfigError, proxyFromEnv } from '../src/outbound/proxy.ts';
import { callWebhook } from '../src/webhooks/client.ts';
import { webhookPayload } from '../src/webhooks/payload.ts';
import { selfSignedCertificate } from './support/tls.ts';
import { HookReceiver } from './webhooks-receiver.ts';

const HOST = 'alerts.example.test';

/**
 * A tiny forward proxy on 127.0.0.1: absolute-form requests for http targets, CONNECT tunnels for https
 * ones. It resolves every *.example.test to 127.0.0.1, so the client never needs to.
 */
class TinyProxy {
  readonly seen: { method: string; target: string; auth?: string }[] = [];
  refuseConnect = false;
  url = '';
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor() {
    this.server = http.createServer((req, res) => {
      this.seen.push({
        method: req.method ?? '',
        target: req.url ?? '',
        auth: req.headers['proxy-authorization'],
      });
      const target = new URL(req.url ?? '');
      const headers = { ...req.headers };
      delete headers['proxy-authorization'];
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method: req.method,
          headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      this.seen.push({ method: 'CONNECT', target: req.url ?? '', auth: req.headers['proxy-authorization'] });
      if (this.refuseConnect) return void socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      const port = Number((req.url ?? '').split(':').pop());
      const upstream = net.connect(port, '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      this.sockets.add(upstream);
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const note: Notification = {
  canary: 'podinfo',
  namespace: 'shop',
  phase: 'Failed',
  weight: 0,
  severity: 'error',
  reason: 'Failed',
  message: 'rolled back',
  time: '2026-12-03T00:00:00.000Z',
};

describe('proxy settings from the environment', () => {
  it('is off without a proxy variable; lowercase names win; a bare host:port means http://', () => {
    expect(proxyFromEnv({})).toBeUndefined();
    expect(proxyFromEnv({ NO_PROXY: '*' })).toBeUndefined();
    const proxy = proxyFromEnv({
      http_proxy: 'http://lower:1',
      HTTP_PROXY: 'http://upper:2',
      HTTPS_PROXY: 'corp:3128',
    });
    expect(proxy?.proxyFor(new URL('http://hooks.example.com/x'))?.host).toBe('lower:1');
    expect(proxy?.proxyFor(new URL('https://hooks.example.com/x'))?.href).toBe('http://corp:3128/');
  });

  it('refuses a proxy it cannot use, naming the variable but never its value', () => {
    for (const value of ['socks5://user:s3cr3t@proxy:1080', 'http://user:s3cr3t@[bad']) {
      let err: unknown;
      try {
        proxyFromEnv({ HTTPS_PROXY: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProxyConfigError);
      expect((err as ProxyConfigError).code).toBe('PROXY_CONFIG');
      expect((err as Error).message).toContain('HTTPS_PROXY');
      expect((err as Error).message).not.toContain('s3cr3t');
    }
  });

  it('reads NO_PROXY as Go does: domains with their subdomains, .subdomains only, IPs, CIDRs, ports; loopback always direct', () => {
    const proxy = new OutboundProxy({
      httpProxy: new URL('http://proxy:3128'),
      httpsProxy: new URL('http://proxy:3128'),
      noProxy:
        'example.com, .internal, *.svc.cluster.local, 10.0.0.0/8, 192.168.1.5, api.corp:8443, [fd00::1]:80',
    });
    const cases: [string, boolean][] = [
      ['https://hooks.slack.com/services/x', true],
      ['https://example.com/', false],
      ['https://a.example.com/', false],
      ['https://notexample.com/', true],
      ['http://internal/', true],
      ['http://x.internal/', false],
      ['http://svc.cluster.local/', true],
      ['http://hook.shop.svc.cluster.local/', false],
      ['http://10.1.2.3/', false],
      ['http://11.0.0.1/', true],
      ['http://192.168.1.5:8080/', false],
      ['https://api.corp:8443/', false],
      ['https://api.corp/', true],
      ['http://[fd00::1]/', false],
      ['http://[fd00::1]:81/', true],
      ['http://localhost:9/', false],
      ['http://127.0.0.2/', false],
      ['http://[::1]:80/', false],
    ];
    for (const [url, proxied] of cases)
      expect([url, proxy.proxyFor(new URL(url)) !== undefined]).toEqual([url, proxied]);
    const none = new OutboundProxy({ httpsProxy: new URL('http://proxy:3128'), noProxy: '*' });
    expect(none.proxyFor(new URL('https://hooks.slack.com/'))).toBeUndefined();
    expect(
      new OutboundProxy({ httpsProxy: new URL('http://proxy:3128') }).proxyFor(new URL('http://plain/')),
    ).toBeUndefined();
  });
});

describe('posts through a local proxy', () => {
  const proxy = new TinyProxy();
  const receiver = new HookReceiver();
  let secure: https.Server;
  let securePort = 0;
  const secureBodies: { path: string; body: unknown }[] = [];
  let dir = '';
  let ca: Buffer;
  let route: OutboundProxy;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'petrel-proxy-'));
    const { cert, key } = await selfSignedCertificate(dir, `DNS:${HOST}`);
    ca = cert;
    secure = https.createServer({ cert, key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        secureBodies.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    securePort = (secure.address() as AddressInfo).port;
    await Promise.all([proxy.start(), receiver.start()]);
    route = proxyFromEnv(
      {
        HTTPS_PROXY: `http://petrel:p%40ss@${proxy.url}`,
        HTTP_PROXY: `http://petrel:p%40ss@${proxy.url}`,
        NO_PROXY: 'direct.example.test',
      },
      { tls: { ca } },
    )!;
  });

  afterAll(async () => {
    route?.close();
    secure?.closeAllConnections();
    await Promise.all([
      proxy.stop(),
      receiver.stop(),
      new Promise<void>((resolve) => (secure ? secure.close(() => resolve()) : resolve())),
    ]);
    await rm(dir, { recursive: true, force: true });
  });

  const credentials = `Basic ${Buffer.from('petrel:p@ss').toString('base64')}`;

  it('sends an alert to an http target as an absolute-form request, with the proxy credentials', async () => {
    const port = new URL(receiver.url).port;
    await createNotifier(
      { type: 'webhook', address: `http://${HOST}:${port}/alert?x=1` },
      { proxy: route },
    ).post(note);
    expect(proxy.seen.at(-1)).toEqual({
      method: 'POST',
      target: `http://${HOST}:${port}/alert?x=1`,
      auth: credentials,
    });
    expect(receiver.on('/alert?x=1').map((r) => r.body)).toEqual([note]);
  });

  it('sends an alert to an https target through a CONNECT tunnel, TLS end to end with the target', async () => {
    const seenBefore = proxy.seen.length;
    const notifier = createNotifier(
      { type: 'slack', address: `https://${HOST}:${securePort}/services/s3cr3t` },
      { proxy: route },
    );
    await notifier.post(note);
    await notifier.post(note);
    // Two posts, one tunnel: the connection is kept alive and reused.
    expect(proxy.seen.slice(seenBefore)).toEqual([
      { method: 'CONNECT', target: `${HOST}:${securePort}`, auth: credentials },
    ]);
    expect(secureBodies.filter((b) => b.path === '/services/s3cr3t')).toHaveLength(2);
    // The proxy saw the host and port only, never the path that holds the credential.
    expect(JSON.stringify(proxy.seen)).not.toContain('s3cr3t');
  });

  it('sends webhooks through the proxy too', async () => {
    const hook = {
      name: 'audit',
      type: 'event' as const,
      url: `https://${HOST}:${securePort}/webhook`,
      metadata: {},
    };
    const out = await callWebhook(
      hook,
      webhookPayload({ metadata: { name: 'podinfo', namespace: 'shop' } }, hook),
      {
        proxy: route,
      },
    );
    expect(out).toMatchObject({ ok: true, status: 200 });
    expect(secureBodies.some((b) => b.path === '/webhook')).toBe(true);
  });

  it('goes direct for NO_PROXY hosts and loopback addresses', async () => {
    const seenBefore = proxy.seen.length;
    await createNotifier({ type: 'webhook', address: `${receiver.url}/loopback` }, { proxy: route }).post(
      note,
    );
    expect(receiver.on('/loopback')).toHaveLength(1);
    expect(route.proxyFor(new URL(`https://direct.example.test:${securePort}/`))).toBeUndefined();
    expect(proxy.seen.length).toBe(seenBefore);
  });

  it('fails with a network error, not retried, when the proxy refuses the tunnel', async () => {
    proxy.refuseConnect = true;
    try {
      const refused = new OutboundProxy({ httpsProxy: new URL(`http://${proxy.url}`) }, { tls: { ca } });
      const err = await createNotifier(
        { type: 'slack', address: `https://${HOST}:${securePort}/services/s3cr3t` },
        { proxy: refused },
      )
        .post(note)
        .catch((e: unknown) => e);
      refused.close();
      expect(err).toBeInstanceOf(HookCallError);
      expect(err).toMatchObject({ code: 'HOOK_NETWORK', retryable: false });
      expect((err as Error).message).toBe('proxy answered HTTP 407 to CONNECT');
    } finally {
      proxy.refuseConnect = false;
    }
  });
});
