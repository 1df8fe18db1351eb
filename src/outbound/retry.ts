import { backoffDelay } from '../lib/backoff.ts';
import { HookCallError } from './errors.ts';

export interface RetryOptions {
  /** Attempts after the first one. */
  retries: number;
  /** Delay before the first retry; doubled each time, capped at `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface Attempted<T> {
  value: T;
  attempts: number;
}

/** Runs `fn` until it succeeds, fails with a non-retryable HookCallError, or the retries run out. */
export async function withRetries<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<Attempted<T>> {
  const sleep = opts.sleep ?? defaultSleep;
  const policy = { initialMs: opts.initialDelayMs, maxMs: opts.maxDelayMs ?? 30_000 };
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return { value: await fn(), attempts };
    } catch (err) {
      const retryable = err instanceof HookCallError && err.retryable;
      if (!retryable || attempts > opts.retries) throw new RetriesExhaustedError(err, attempts);
      await sleep(backoffDelay(policy, attempts));
    }
  }
}

/** The last error of a retried call, with how many attempts were made. */
export class RetriesExhaustedError extends Error {
  override readonly name = 'RetriesExhaustedError';
  readonly code = 'RETRIES_EXHAUSTED';
  constructor(
    readonly last: unknown,
    readonly attempts: number,
  ) {
    super(last instanceof Error ? last.message : String(last), { cause: last });
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
