import type { CliIo } from '../run.ts';

export interface StopSignal {
  signal: AbortSignal;
  /** Resolves when the user asked to stop (Ctrl-C, SIGTERM, the caller's signal, stdout closed). */
  stopped: Promise<void>;
  /** Removes the process signal handlers. */
  dispose(): void;
}

/**
 * How a long-running view ends: Ctrl-C (SIGINT) or SIGTERM is a normal end (exit 0), and so is the reader
 * of stdout going away (`| head`). `io.signal` lets a caller in the same process stop it too.
 */
export function stopSignal(io: CliIo): StopSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  io.stdout.once('error', stop);
  if (io.signal?.aborted) stop();
  io.signal?.addEventListener('abort', stop, { once: true });
  const stopped = new Promise<void>((resolve) => {
    if (controller.signal.aborted) resolve();
    else controller.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  return {
    signal: controller.signal,
    stopped,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.stdout.off('error', stop);
      io.signal?.removeEventListener('abort', stop);
    },
  };
}
