import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActionRequest, ActionResult } from './actions.ts';
import { clientScript } from './client/script.ts';
import { DASHBOARD_CSS, dashboardPage } from './page.ts';
import { allowedHosts, hostAllowed, newToken, refuseWrite, TOKEN_HEADER } from './security.ts';
import type { DashboardStateEvents, Health } from './state.ts';
import type { CanaryView } from './view.ts';

/** What the server reads the cluster from: DashboardState, or a stand-in in tests. */
export interface DashboardSource {
  snapshot(): CanaryView[];
  health(): Health;
  on<K extends keyof DashboardStateEvents>(event: K, fn: (...args: DashboardStateEvents[K]) => void): unknown;
  off<K extends keyof DashboardStateEvents>(
    event: K,
    fn: (...args: DashboardStateEvents[K]) => void,
  ): unknown;
}

export interface DashboardServerOptions {
  /** 0 picks a free port. The server always listens on 127.0.0.1 only. */
  port: number;
  source: DashboardSource;
  /** Carries out a button's action with the user's credentials. */
  act: (request: ActionRequest) => Promise<ActionResult>;
  /** The buttons, in order (MANUAL_ACTIONS). */
  actions: readonly string[];
  /** What is watched, for the page's header: `context kind-dev, namespace test`. */
  scope: string;
  /** The per-process token the page must send with every action; a new random one by default. */
  token?: string;
  /** Called when a request fails unexpectedly; must not throw. */
  onError?: (err: unknown) => void;
}

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

interface Asset {
  type: string;
  body: string | Buffer;
}

/** uPlot's browser build, read from node_modules where npm installed it: nothing is fetched at run time. */
async function uplotAssets(): Promise<Record<string, Asset>> {
  const file = (name: string) => new URL(import.meta.resolve(`uplot/dist/${name}`));
  return {
    '/assets/uPlot.iife.min.js': {
      type: 'text/javascript; charset=utf-8',
      body: await readFile(file('uPlot.iife.min.js')),
    },
    '/assets/uPlot.min.css': { type: 'text/css; charset=utf-8', body: await readFile(file('uPlot.min.css')) },
  };
}

const SECURITY_HEADERS = {
  // Only this server's own scripts, styles and connections; no framing, so no click-jacking of the buttons.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

const ACTION_PATH = /^\/api\/canaries\/([^/]+)\/([^/]+)\/actions\/([^/]+)$/;

/** Serves the dashboard page, its assets, a JSON snapshot, the live stream and the action endpoint. */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const token = options.token ?? newToken();
  const page = dashboardPage({
    token,
    tokenHeader: TOKEN_HEADER,
    actions: [...options.actions],
    scope: options.scope,
  });
  const assets: Record<string, Asset> = {
    '/': { type: 'text/html; charset=utf-8', body: page },
    '/assets/dashboard.js': { type: 'text/javascript; charset=utf-8', body: clientScript() },
    '/assets/dashboard.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
    ...(await uplotAssets()),
  };
  const streams = new Set<ServerResponse>();
  let hosts = new Set<string>();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  const stream = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    const write = (event: string, data: unknown) => {
      // A page that stopped reading is dropped rather than buffered for: on reconnecting it gets a snapshot.
      if (res.writableLength > MAX_UNSENT_BYTES) res.destroy();
      else res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    res.write('retry: 1000\n\n');
    write('snapshot', options.source.snapshot());
    write('health', options.source.health());
    const onChange = (key: string, view: CanaryView | undefined) =>
      write('canary', { key, view: view ?? null });
    const onHealth = (health: Health) => write('health', health);
    options.source.on('change', onChange);
    options.source.on('health', onHealth);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    streams.add(res);
    const end = () => {
      clearInterval(heartbeat);
      options.source.off('change', onChange);
      options.source.off('health', onHealth);
      streams.delete(res);
    };
    req.on('close', end);
    res.on('close', end);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostAllowed(req.headers, hosts)) {
      send(res, 421, { message: `open the dashboard as http://127.0.0.1:${port}/` });
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (req.method === 'POST') {
      const match = ACTION_PATH.exec(path);
      if (!match) {
        send(res, 404, { message: 'not found' });
        return;
      }
      const refusal = refuseWrite(req.headers, hosts, token);
      if (refusal) {
        send(res, 403, { message: refusal });
        return;
      }
      let parts: string[];
      try {
        parts = match.slice(1).map(decodeURIComponent);
      } catch {
        send(res, 400, { message: 'malformed canary or action name in the path' });
        return;
      }
      const [namespace, name, action] = parts as [string, string, string];
      const result = await options.act({ namespace, name, action });
      send(res, result.status, { message: result.message });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD, POST' });
      res.end();
      return;
    }
    if (path === '/api/stream' && req.method === 'GET') {
      stream(req, res);
      return;
    }
    if (path === '/api/canaries') {
      send(res, 200, options.source.snapshot());
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204, SECURITY_HEADERS);
      res.end();
      return;
    }
    const asset = assets[path];
    if (!asset) {
      send(res, 404, { message: 'not found' });
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.onError?.(err);
      if (!res.headersSent) send(res, 500, { message: 'internal error: see the petrel dashboard output' });
      else res.end();
    });
  });
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(port);
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    stop: async () => {
      for (const res of streams) res.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
