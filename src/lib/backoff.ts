/** Capped exponential backoff, the one formula every retry in Petrel uses. */
export interface BackoffPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** No delay exceeds this. */
  maxMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /** Spread as a fraction of the delay, e.g. 0.2 for ±20 %; default 0 (none). */
  jitter?: number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry).
 * initial 500, factor 2, max 30 000: attempts 1, 2, 3, 7, 8 -> 500, 1000, 2000, 30 000 (capped), 30 000.
 * With jitter 0.2 each delay is spread uniformly over ±20 % and then capped again.
 */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const factor = policy.factor ?? 2;
  const base = Math.min(policy.maxMs, policy.initialMs * factor ** Math.max(0, attempt - 1));
  const jitter = policy.jitter ?? 0;
  if (jitter === 0) return base;
  const spread = base * jitter * (2 * random() - 1);
  return Math.max(0, Math.min(policy.maxMs, Math.round(base + spread)));
}
