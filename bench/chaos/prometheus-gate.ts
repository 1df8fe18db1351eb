import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through in front of the real Prometheus that the controller and the traffic simulator talk to, so a
 * killed Prometheus can be replaced by a new one behind the same address. For a namespace put "down",
 * every query naming it has its connection cut, as when Prometheus is killed; other canaries' queries still
 * pass, so one canary's outage does not decide the others' outcome.
 */
export class PrometheusGate {
  private server?: Server;
  private readonly down = new Set<string>();
  cut = 0;
  passed = 0;
  url = '';

  constructor(private upstream: string) {}

  /** Where queries go from now on: the Prometheus started after one was killed. */
  setUpstream(url: string): void {
    this.upstream = url;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const upstream = new URL(this.upstream);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = safeDecode(`${req.url ?? ''} ${body.toString('utf8')}`);
        // An outage stops every query for the canary, isOnline probes included.
        if ([...this.down].some((ns) => text.includes(`"${ns}"`))) {
          this.cut++;
          req.socket.destroy();
          return;
        }
        this.passed++;
        const forward = request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: upstream.host, 'content-length': String(body.byteLength) },
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', () => res.destroy());
        forward.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Prometheus is gone for this namespace's queries until `restore`. */
  kill(namespace: string): void {
    this.down.add(namespace);
  }

  restore(namespace: string): void {
    this.down.delete(namespace);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
