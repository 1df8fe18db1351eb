/**
 * A short human duration: 45s, 2m05s, 3h10m, 2d4h. Rounded up to the second so a countdown never
 * shows 0s while something is still due.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** How long ago an RFC 3339 time was, from `now`; undefined when it cannot be read. */
export function ago(rfc3339: string | undefined, now: Date): string | undefined {
  if (!rfc3339) return undefined;
  const at = Date.parse(rfc3339);
  return Number.isFinite(at) ? formatDuration(now.getTime() - at) : undefined;
}
