import { afterEach } from 'vitest';

/**
 * A list the calling describe block pushes stop functions onto (controllers, traffic loops, recorders);
 * after each test they run last-first, so what started last stops first.
 */
export function useCleanups(timeoutMs = 60_000): (() => Promise<void>)[] {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, timeoutMs);
  return cleanups;
}
