import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RandomSource } from '../../dev/sandbox/traffic/random.ts';
import { type AlertRecord, FAILURE_REASONS } from './invariants.ts';

/**
 * The webhook every AlertProvider points at (through a Secret): a share of posts is answered 500 with a body
 * that echoes the secret token, either in the request path as Express does ("Cannot POST /hooks/...") or
 * alone in a JSON error; the rest are accepted and recorded. For a namespace marked flaky, every post but the
 * terminal ones is refused, so the controller gives up on them and logs the (echoed) error.
 */
export class AlertReceiver {
  private server?: Server;
  readonly accepted: AlertRecord[] = [];
  readonly flaky = new Set<string>();
  posts = 0;
  refused = 0;
  url = '';

  constructor(
    private readonly failureRate: number,
    private readonly random: RandomSource,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.posts++;
        let n: { namespace?: string; reason?: string; key?: string } = {};
        try {
          n = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof n;
        } catch {
          // Not a notification: answered like one.
        }
        const [, , namespace = '', token = ''] = (req.url ?? '').split('/');
        const terminal = n.reason === 'Succeeded' || FAILURE_REASONS.has(n.reason ?? '');
        if ((this.flaky.has(namespace) && !terminal) || this.random() < this.failureRate) {
          this.refused++;
          if (this.random() < 0.5) {
            res.writeHead(500, { 'content-type': 'text/html' });
            res.end(`<!DOCTYPE html><pre>Cannot POST ${req.url}</pre>`);
          } else {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: `token ${token} is not accepted here` }));
          }
          return;
        }
        this.accepted.push({
          namespace: n.namespace ?? '',
          reason: n.reason ?? '',
          ...(n.key ? { key: n.key } : {}),
        });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
