/**
 * Durations as written in Petrel resources: one or more `<integer><unit>` parts, units ms, s, m, h
 * (e.g. `30s`, `1m`, `1h30m`, `500ms`). Fractions are refused because metric intervals are pasted
 * into PromQL range selectors, which only accept whole numbers.
 */
const WHOLE = /^(?:\d+(?:ms|s|m|h))+$/;
const PART = /(\d+)(ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

export class InvalidDurationError extends Error {
  readonly code = 'INVALID_DURATION';
  override readonly name = 'InvalidDurationError';
  constructor(readonly input: unknown) {
    super(
      `invalid duration ${JSON.stringify(input)}: write whole numbers with units ms, s, m or h, such as 30s, 1m or 1h30m`,
    );
  }
}

/** Parses a duration such as `1h30m` into milliseconds; throws InvalidDurationError. */
export function parseDuration(text: string): number {
  if (typeof text !== 'string' || !WHOLE.test(text)) throw new InvalidDurationError(text);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!;
  if (!Number.isSafeInteger(total)) throw new InvalidDurationError(text);
  return total;
}

export function isDuration(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

/** Renders milliseconds in the same notation parseDuration reads (largest units first). */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`cannot format ${ms} ms as a duration`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit]!;
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
