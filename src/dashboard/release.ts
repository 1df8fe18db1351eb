import {
  type CanaryObject,
  type CheckPoint,
  checkPoints,
  type ReleaseRecord,
  type WeightPoint,
} from './view.ts';

/** Enough for any weight schedule and hours of checks; the oldest points go first. */
const MAX_POINTS = 500;

/**
 * Remembers one Canary's current release as the watch reports it: a point each time the canary weight
 * changes, and every check the status history reported, beyond the history's own bound. A new revision
 * (`status.lastAppliedSpec`) starts a new release. When the dashboard starts in the middle of a release,
 * the record is rebuilt from the status history (see `seed`).
 *
 * Example: weights seen 0, 10, 10, 20, 0 make the timeline 10, 20, 0: the 0 before the first step is the
 * state before the release, the last 0 its end.
 */
export class ReleaseRecorder {
  private revision: string | undefined;
  private started = false;
  private since = Number.NEGATIVE_INFINITY;
  private readonly timeline: WeightPoint[] = [];
  private readonly checks = new Map<string, CheckPoint[]>();
  private readonly seen = new Map<string, CheckPoint>();

  observe(canary: CanaryObject, now: number): ReleaseRecord {
    const status = canary.status ?? {};
    const revision = typeof status.lastAppliedSpec === 'string' ? status.lastAppliedSpec : undefined;
    const history = checkPoints(status);
    if (!this.started) {
      this.started = true;
      this.revision = revision;
      this.since = releaseStart(
        status,
        history.map((h) => h.weight),
        history.map((h) => h.time),
      );
      for (const entry of history) if (entry.time >= this.since) this.addWeight(entry.time, entry.weight);
    } else if (revision !== this.revision) {
      this.revision = revision;
      this.timeline.length = 0;
      this.checks.clear();
      this.seen.clear();
      // The write that records a new revision also sets lastTransitionTime: the start of this release.
      this.since = timeOf(status.lastTransitionTime) ?? now;
    }
    for (const { metric, ...point } of history) {
      if (point.time < this.since) continue;
      const key = `${point.time}\u0000${metric}`;
      const points = this.checks.get(metric) ?? [];
      const known = this.seen.get(key);
      if (known) {
        // The evidence of a relative check may arrive in a later write than its history entry.
        points[points.indexOf(known)] = point;
      } else {
        points.push(point);
        points.sort((a, b) => a.time - b.time);
        if (points.length > MAX_POINTS) this.seen.delete(`${points.shift()?.time}\u0000${metric}`);
      }
      this.seen.set(key, point);
      this.checks.set(metric, points);
    }
    const weight = typeof status.canaryWeight === 'number' ? status.canaryWeight : 0;
    this.addWeight(now, weight);
    return {
      timeline: [...this.timeline],
      checks: new Map([...this.checks].map(([metric, points]) => [metric, [...points]])),
    };
  }

  private addWeight(time: number, weight: number): void {
    const last = this.timeline.at(-1)?.weight ?? 0;
    if (weight === last) return;
    this.timeline.push({ time, weight });
    if (this.timeline.length > MAX_POINTS) this.timeline.shift();
  }
}

function timeOf(value: unknown): number | undefined {
  const at = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(at) ? at : undefined;
}

/** When the Promoted condition turned Unknown: the moment the current rollout (or its first try) started. */
function promotedSince(status: Record<string, unknown>): number | undefined {
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  const promoted = conditions.find(
    (c): c is { status: string; lastTransitionTime?: string } =>
      c !== null && typeof c === 'object' && (c as { type?: unknown }).type === 'Promoted',
  );
  return promoted?.status === 'Unknown' ? timeOf(promoted.lastTransitionTime) : undefined;
}

/**
 * Where the current release begins in a history that may hold the end of the one before: the later of
 * the rollout's start (while one is in flight) and the last drop in weight (weights only grow within a
 * release; a restarted rollout drops back to its first step while the Promoted condition stays Unknown).
 */
function releaseStart(status: Record<string, unknown>, weights: number[], times: number[]): number {
  let lastDrop = Number.NEGATIVE_INFINITY;
  for (let i = weights.length - 1; i > 0; i--) {
    if ((weights[i] ?? 0) < (weights[i - 1] ?? 0)) {
      lastDrop = times[i] ?? lastDrop;
      break;
    }
  }
  return Math.max(promotedSince(status) ?? Number.NEGATIVE_INFINITY, lastDrop);
}
