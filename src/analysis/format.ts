/** Rounds for people: at most `digits` decimals, no float noise (90.8999999 → 90.9). */
export function roundTo(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  const rounded = Math.round(value * factor) / factor;
  return Object.is(rounded, -0) ? 0 : rounded;
}

/**
 * Rounds a rate for a sentence to `digits` significant figures and at most 3 decimals: 9.998 → 10,
 * 12.345 → 12.3, 0.05234 → 0.052. Counters read through rate() carry a trace of noise that a
 * person should not have to see.
 */
export function significant(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  return roundTo(value, Math.min(3, Math.max(0, digits - 1 - magnitude)));
}

/** `+1.25`, `-0.5`, `0`: a signed difference for reasons. */
export function signed(value: number, digits = 2): string {
  const rounded = roundTo(value, digits);
  return rounded > 0 ? `+${rounded}` : String(rounded);
}

/** 12345 → "12,345". */
export function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}
