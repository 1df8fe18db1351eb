import type { CanaryWebhook } from '../api/canary.ts';
import { parseDuration } from '../api/duration.ts';
import { HookCallError, type HookErrorCode } from '../outbound/errors.ts';
import { postJson } from '../outbound/post.ts';
import type { OutboundProxy } from '../outbound/proxy.ts';
import { RetriesExhaustedError, withRetries } from '../outbound/retry.ts';
import type { WebhookPayload } from './payload.ts';

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const DEFAULT_WEBHOOK_RETRIES = 2;
export const DEFAULT_RETRY_DELAY_MS = 500;

/** What one webhook call (with its retries) came to. Never carries the URL. */
export interface WebhookOutcome {
  hook: string;
  type: CanaryWebhook['type'];
  /** Any 2xx (200, 201, 202, 203, 204...) is success. */
  ok: boolean;
  status?: number;
  code?: HookErrorCode;
  attempts: number;
  durationMs: number;
  /** Human text: "webhook <name> (<type>) answered HTTP 503 after 3 attempt(s)". */
  message: string;
  responseTruncated?: boolean;
}

export interface WebhookCallOptions {
  signal?: AbortSignal;
  maxResponseBytes?: number;
  retryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** The outbound proxy (HTTPS_PROXY and friends); direct when omitted. */
  proxy?: OutboundProxy;
}

/** Calls one webhook with its timeout and retries; resolves with the outcome, never rejects. */
export async function callWebhook(
  hook: CanaryWebhook,
  payload: WebhookPayload,
  opts: WebhookCallOptions = {},
): Promise<WebhookOutcome> {
  const now = opts.now ?? Date.now;
  const started = now();
  const timeoutMs = hook.timeout ? parseDuration(hook.timeout) : DEFAULT_WEBHOOK_TIMEOUT_MS;
  const label = `webhook ${hook.name} (${hook.type})`;
  try {
    const { value, attempts } = await withRetries(
      () =>
        postJson(hook.url, payload, {
          timeoutMs,
          signal: opts.signal,
          maxResponseBytes: opts.maxResponseBytes,
          proxy: opts.proxy,
        }),
      {
        retries: hook.retries ?? DEFAULT_WEBHOOK_RETRIES,
        initialDelayMs: opts.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
        maxDelayMs: 10_000,
        sleep: opts.sleep,
      },
    );
    return {
      hook: hook.name,
      type: hook.type,
      ok: true,
      status: value.status,
      attempts,
      durationMs: now() - started,
      message: `${label} answered HTTP ${value.status}`,
      ...(value.truncated ? { responseTruncated: true } : {}),
    };
  } catch (err) {
    const attempts = err instanceof RetriesExhaustedError ? err.attempts : 1;
    const last = err instanceof RetriesExhaustedError ? err.last : err;
    const cause = last instanceof HookCallError ? last : undefined;
    return {
      hook: hook.name,
      type: hook.type,
      ok: false,
      ...(cause?.status !== undefined ? { status: cause.status } : {}),
      code: cause?.code ?? 'HOOK_NETWORK',
      attempts,
      durationMs: now() - started,
      message: `${label} ${cause ? cause.message : 'failed'} after ${attempts} attempt(s)`,
    };
  }
}
