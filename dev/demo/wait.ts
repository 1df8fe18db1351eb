/** A demo step did not finish within its deadline; the message says which step and how long it had. */
export class DemoTimeoutError extends Error {
  override readonly name = 'DemoTimeoutError';
  readonly code = 'DEMO_TIMEOUT';
}

/** The demo was asked to stop (Ctrl-C, SIGTERM) while waiting. */
export class DemoAbortedError extends Error {
  override readonly name = 'DemoAbortedError';
  readonly code = 'DEMO_ABORTED';
  constructor() {
    super('the demo was stopped');
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new DemoAbortedError();
}

/** Resolves after `ms`, or rejects with DemoAbortedError as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new DemoAbortedError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DemoAbortedError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Checks every `intervalMs` until `check` returns a value. Bounded: throws DemoTimeoutError naming
 * `what` after `timeoutMs`, and DemoAbortedError when `signal` aborts.
 */
export async function pollUntil<T>(
  what: string,
  check: () => T | undefined,
  opts: { timeoutMs: number; signal: AbortSignal; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  while (true) {
    throwIfAborted(opts.signal);
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      throw new DemoTimeoutError(`${what} did not happen within ${Math.round(opts.timeoutMs / 1000)}s`);
    }
    await sleep(Math.min(opts.intervalMs ?? 100, Math.max(1, deadline - Date.now())), opts.signal);
  }
}

/** Awaits `promise` for at most `timeoutMs`, or until `signal` aborts. */
export async function within<T>(
  what: string,
  promise: Promise<T>,
  opts: { timeoutMs: number; signal: AbortSignal },
): Promise<T> {
  throwIfAborted(opts.signal);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new DemoTimeoutError(`${what} did not happen within ${Math.round(opts.timeoutMs / 1000)}s`),
            ),
          opts.timeoutMs,
        );
        onAbort = () => reject(new DemoAbortedError());
        opts.signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) opts.signal.removeEventListener('abort', onAbort);
  }
}
