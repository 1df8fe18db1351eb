import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readBytes } from './body.ts';
import { ApiError, badRequest } from './errors.ts';
import type { FaultInjector } from './faults.ts';
import type { RequestLog } from './request-log.ts';

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = (await readBytes(req, 64 * 1024)).toString('utf8');
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('admin request body is not valid JSON');
  }
}

function parseOrThrow<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof z.ZodError) {
      const detail = error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      throw badRequest(`invalid fault: ${detail}`);
    }
    if (error instanceof Error && !(error instanceof ApiError)) throw badRequest(error.message);
    throw error;
  }
}

export const ADMIN_USAGE = {
  'GET /_sandbox/faults': 'the active faults',
  'POST /_sandbox/faults/errors':
    '{verb?, resource?, rate?, status: 500|503|429|409, retryAfterSeconds?, times?} -> {id}',
  'POST /_sandbox/faults/latency': '{verb?, resource?, ms} -> {id}',
  'POST /_sandbox/faults/watches': '{resource?, closeAfterEvents?, closeAfterSeconds?} -> {id}',
  'POST /_sandbox/faults/drop-watches': '?resource=PLURAL -> {closed}',
  'POST /_sandbox/faults/gone': 'every open watch ends with 410 and old resourceVersions expire',
  'DELETE /_sandbox/faults/ID': 'remove one fault',
  'DELETE /_sandbox/faults': 'remove all faults',
  'GET /_sandbox/requests': 'request counters per verb and resource',
  'DELETE /_sandbox/requests': 'reset the request log',
};

/** The admin endpoint under /_sandbox: fault switches and the request log, over HTTP. */
export class AdminApi {
  constructor(
    private readonly faults: FaultInjector,
    private readonly requestLog: RequestLog,
  ) {}

  async handle(
    method: string,
    path: string[],
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const [area, action, extra] = path;
    if (area === 'faults') {
      if (method === 'GET' && !action) return reply(res, 200, this.faults.describe());
      if (method === 'DELETE' && !action) {
        this.faults.reset();
        return reply(res, 200, { reset: true });
      }
      if (method === 'DELETE' && action && !extra) {
        if (!this.faults.remove(action)) throw new ApiError(404, 'NotFound', `no fault with id "${action}"`);
        return reply(res, 200, { removed: action });
      }
      if (method === 'POST') {
        switch (action) {
          case 'errors': {
            const body = await readJson(req);
            return reply(res, 201, { id: parseOrThrow(() => this.faults.injectError(body as never)) });
          }
          case 'latency': {
            const body = await readJson(req);
            return reply(res, 201, { id: parseOrThrow(() => this.faults.addLatency(body as never)) });
          }
          case 'watches': {
            const body = await readJson(req);
            return reply(res, 201, { id: parseOrThrow(() => this.faults.limitWatches(body as never)) });
          }
          case 'drop-watches':
            return reply(res, 200, { closed: this.faults.dropWatches(query.get('resource') ?? '*') });
          case 'gone':
            this.faults.forceGone();
            return reply(res, 200, { expired: true });
        }
      }
    }
    if (area === 'requests' && !action) {
      if (method === 'GET')
        return reply(res, 200, { total: this.requestLog.total, counts: this.requestLog.counts() });
      if (method === 'DELETE') {
        this.requestLog.reset();
        return reply(res, 200, { reset: true });
      }
    }
    reply(res, 404, { message: 'unknown admin endpoint', endpoints: ADMIN_USAGE });
  }
}
