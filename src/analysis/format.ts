/** Rounds for people: at most `digits` decimals, no float noise (90.8999999 → 90.9). */
export function roundTo(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  const rounded = Math.round(value * factor) / factor;
  return Object.is(rounded, -0) ? 0 : rounded;
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
