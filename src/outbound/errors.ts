import { scrubSecrets } from '../lib/redact.ts';

/** Why a webhook or notification call did not get a 2xx answer. Decide on `code`, never the message. */
export type HookErrorCode = 'HOOK_TIMEOUT' | 'HOOK_NETWORK' | 'HOOK_STATUS' | 'HOOK_ABORTED';

/**
 * A failed HTTP call to a webhook or chat endpoint. The message never contains the URL: for Slack, Teams
 * and Discord the URL is the credential.
 */
export class HookCallError extends Error {
  override readonly name = 'HookCallError';
  readonly code: HookErrorCode;
  readonly status?: number;
  /** Worth another attempt: timeouts, network errors, 429 and 5xx. */
  readonly retryable: boolean;

  constructor(
    message: string,
    opts: { code: HookErrorCode; status?: number; retryable: boolean; cause?: unknown },
  ) {
    // Scrubbed here, where every outbound error is made: an answer body may echo a registered secret.
    super(scrubSecrets(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = opts.code;
    if (opts.status !== undefined) this.status = opts.status;
    this.retryable = opts.retryable;
  }
}

/**
 * An answer body with the called URL taken out: servers echo the request path ("Cannot POST /hooks/T0K3N"),
 * and for chat endpoints the path is the credential, registered or not.
 */
export function withoutUrl(text: string, url: URL): string {
  const parts = [
    url.href,
    `${url.host}${url.pathname}${url.search}`,
    `${url.pathname}${url.search}`,
    url.pathname,
  ]
    .filter((p) => p.length > 1)
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const part of parts) out = out.split(part).join('[URL]');
  return out;
}
