import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

export interface Received {
  path: string;
  body: unknown;
  time: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: unknown) => void;

/** A real HTTP server on 127.0.0.1:0 that records every JSON POST and answers through `handler`. */
export class HookReceiver {
  readonly received: Received[] = [];
  private server?: Server;
  private readonly sockets = new Set<import('node:net').Socket>();
  handler: Handler = (_req, res) => res.writeHead(200).end('ok');
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        this.received.push({ path: req.url ?? '', body, time: Date.now() });
        this.handler(req, res, body);
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

/** One receiver for the calling test file: started before its tests, stopped after them. */
export function useHookReceiver(): HookReceiver {
  const receiver = new HookReceiver();
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());
  return receiver;
}
