import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

/** One probe's answer: ok, or why not (the reason is shown to whoever asks, so no secrets). */
export interface ProbeResult {
  ok: boolean;
  reason?: string;
}

export interface ControllerServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** 0.0.0.0 in a pod (probes and scrapes come from outside), 127.0.0.1 in tests. */
  host: string;
  /** Prometheus exposition text and its content type. */
  metrics: () => Promise<string>;
  metricsContentType: string;
  /** Liveness: false only when the process cannot recover by itself and should be restarted. */
  live: () => ProbeResult;
  /** Readiness: caches synced and the controller able to act (standbys included, so they stay warm). */
  ready: () => ProbeResult;
  logger: Logger;
}

export interface ControllerServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Serves /metrics, /healthz and /readyz; GET and HEAD only, no request bodies read. */
export async function startControllerServer(options: ControllerServerOptions): Promise<ControllerServer> {
  const probe = (res: ServerResponse, head: boolean, result: ProbeResult) => {
    const body = result.ok ? 'ok\n' : `not ok: ${result.reason ?? 'unknown'}\n`;
    res.writeHead(result.ok ? 200 : 503, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(head ? undefined : body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    const head = req.method === 'HEAD';
    switch (path) {
      case '/metrics': {
        const text = await options.metrics();
        res.writeHead(200, { 'content-type': options.metricsContentType, 'cache-control': 'no-store' });
        res.end(head ? undefined : text);
        return;
      }
      case '/healthz':
      case '/livez':
        probe(res, head, options.live());
        return;
      case '/readyz':
        probe(res, head, options.ready());
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(head ? undefined : 'not found: try /metrics, /healthz or /readyz\n');
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'metrics server request failed',
      );
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  options.logger.info({ url }, 'serving /metrics, /healthz and /readyz');
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
