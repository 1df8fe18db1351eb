import { HookCallError } from './errors.ts';

/** Bytes of a response body kept; the rest is never read. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

export interface PostJsonOptions {
  timeoutMs: number;
  maxResponseBytes?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
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
 * rejects with a HookCallError whose message names the status but never the URL.
 */
export async function postJson(
  url: string,
  payload: unknown,
  opts: PostJsonOptions,
): Promise<PostJsonResult> {
  const cap = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...opts.headers },
      body: JSON.stringify(payload),
      signal,
      redirect: 'manual',
    });
  } catch (err) {
    throw toCallError(err, timeout, opts.timeoutMs, opts.signal);
  }
  let read: { text: string; truncated: boolean; bytes: number };
  try {
    read = await readCapped(res, cap);
  } catch (err) {
    throw toCallError(err, timeout, opts.timeoutMs, opts.signal);
  }
  if (res.status < 200 || res.status > 299) {
    throw new HookCallError(`answered HTTP ${res.status}${summary(read.text)}`, {
      code: 'HOOK_STATUS',
      status: res.status,
      retryable: res.status === 429 || res.status >= 500,
    });
  }
  return { status: res.status, body: read.text, truncated: read.truncated, bytesRead: read.bytes };
}

async function readCapped(
  res: Response,
  cap: number,
): Promise<{ text: string; truncated: boolean; bytes: number }> {
  if (!res.body) return { text: '', truncated: false, bytes: 0 };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = cap - bytes;
      if (value.byteLength > room) {
        chunks.push(value.subarray(0, room));
        bytes += room;
        truncated = true;
        break;
      }
      chunks.push(value);
      bytes += value.byteLength;
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated, bytes };
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
  // fetch's own messages can name the host and path; keep only the system error code.
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
