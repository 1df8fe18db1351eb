import type { ClientRequest, IncomingMessage } from 'node:http';
import { HookCallError, withoutUrl } from './errors.ts';
import { directRoute, type OutboundProxy, ProxyTunnelError } from './proxy.ts';

/** Bytes of a response body kept; the rest is never read. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

export interface PostJsonOptions {
  timeoutMs: number;
  maxResponseBytes?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Sends through this proxy where its settings say so; direct when omitted. */
  proxy?: OutboundProxy;
}

export interface PostJsonResult {
  status: number;
  /** At most `maxResponseBytes` of the body, decoded as UTF-8. */
  body: string;
  /** The body was longer than the cap and was cut off. */
  truncated: boolean;
  bytesRead: number;
}

/**
 * POSTs JSON and reads at most `maxResponseBytes` of the answer; the timeout covers the whole exchange,
 * body included, so a server that trickles bytes forever is cut off too. A 2xx resolves, anything else
 * rejects with a HookCallError whose message names the status but never the URL. Redirects are not followed.
 * Built on node:http rather than fetch because fetch in Node 20 cannot go through a proxy.
 */
export async function postJson(
  url: string,
  payload: unknown,
  opts: PostJsonOptions,
): Promise<PostJsonResult> {
  const cap = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  let answer: Answer;
  let target: URL;
  try {
    target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:')
      throw new TypeError('not an http(s) URL');
    const route = opts.proxy ? opts.proxy.route(target) : directRoute(target);
    const body = Buffer.from(JSON.stringify(payload));
    const request = route.request({
      ...route.options,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.byteLength),
        'user-agent': 'petrel',
        ...route.options.headers,
        ...opts.headers,
      },
    });
    answer = await exchange(request, body, cap, signal);
  } catch (err) {
    throw toCallError(err, timeout, opts.timeoutMs, opts.signal);
  }
  if (answer.status < 200 || answer.status > 299) {
    throw new HookCallError(`answered HTTP ${answer.status}${summary(withoutUrl(answer.text, target))}`, {
      code: 'HOOK_STATUS',
      status: answer.status,
      retryable: answer.status === 429 || answer.status >= 500,
    });
  }
  return { status: answer.status, body: answer.text, truncated: answer.truncated, bytesRead: answer.bytes };
}

interface Answer {
  status: number;
  text: string;
  truncated: boolean;
  bytes: number;
}

/** Sends the body and reads the answer up to `cap` bytes; an abort of `signal` ends both sides at once. */
function exchange(req: ClientRequest, body: Buffer, cap: number, signal: AbortSignal): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let response: IncomingMessage | undefined;
    const fail = (err: unknown) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    };
    const onAbort = () => {
      const reason = signal.reason instanceof Error ? signal.reason : new Error('aborted');
      req.destroy(reason);
      response?.destroy(reason);
      fail(reason);
    };
    // Listened to for the request's whole life: a destroyed request can report more than one error.
    req.on('error', fail);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('response', (res) => {
      response = res;
      const chunks: Buffer[] = [];
      let bytes = 0;
      let finished = false;
      const done = (truncated: boolean) => {
        finished = true;
        signal.removeEventListener('abort', onAbort);
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          truncated,
          bytes,
        });
      };
      res.on('data', (chunk: Buffer) => {
        if (finished) return;
        const room = cap - bytes;
        if (chunk.byteLength > room) {
          chunks.push(chunk.subarray(0, room));
          bytes += room;
          // The rest is never read: the connection is closed rather than drained.
          res.destroy();
          done(true);
          return;
        }
        chunks.push(chunk);
        bytes += chunk.byteLength;
      });
      res.once('end', () => done(false));
      res.on('error', fail);
    });
    req.end(body);
  });
}

function summary(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim().slice(0, 200);
  return text ? `: ${text}` : '';
}

function toCallError(
  err: unknown,
  timeout: AbortSignal,
  timeoutMs: number,
  caller?: AbortSignal,
): HookCallError {
  if (err instanceof HookCallError) return err;
  if (timeout.aborted) {
    return new HookCallError(`no answer within ${timeoutMs}ms`, { code: 'HOOK_TIMEOUT', retryable: true });
  }
  if (caller?.aborted || isAbort(err))
    return new HookCallError('call cancelled', { code: 'HOOK_ABORTED', retryable: false });
  if (err instanceof ProxyTunnelError) {
    return new HookCallError(err.message, {
      code: 'HOOK_NETWORK',
      retryable: err.status === undefined || err.status >= 500,
    });
  }
  // Node's own messages can name the host and path; keep only the system error code.
  const sys = systemCode(err);
  return new HookCallError(`connection failed${sys ? ` (${sys})` : ''}`, {
    code: 'HOOK_NETWORK',
    retryable: true,
  });
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

function systemCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
    current = current.cause;
  }
  return undefined;
}
