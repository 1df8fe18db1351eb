import type { CheckObservation } from './types.ts';

export interface Verdict {
  passed: boolean;
  /** The failed checks' reasons, joined: what the rollback or halt reason quotes. */
  failures: string;
  /** Conclusive failures (a relative check's anytime-valid test): roll back at once. */
  conclusive?: string;
  /** Checks that hold the weight without counting a failure (inconclusive, no data on hold, unreachable). */
  held?: string;
  /** Whether a hold should be alerted (an unreachable backend), not only logged. */
  alert?: boolean;
  /** Dry-run checks that would have failed: recorded and alerted, never acted on. */
  wouldHaveFailed?: string;
}

/**
 * A step passes only when every check passed; a check that could not run counts as failed. Dry-run
 * checks never act; a conclusive failure rolls back at once; inconclusive and held checks keep the
 * weight (`held`) when nothing failed.
 */
export function judge(checks: readonly CheckObservation[]): Verdict {
  const acting = checks.filter((c) => !c.dryRun);
  const failed = acting.filter((c) => !c.passed && !isHold(c));
  const conclusive = failed.filter((c) => c.conclusive);
  const held = acting.filter((c) => !c.passed && isHold(c));
  const wouldHaveFailed = checks.filter(
    (c) => c.dryRun && !c.passed && c.verdict !== 'inconclusive' && c.verdict !== 'hold',
  );
  return {
    passed: failed.length === 0,
    failures: failed.map((c) => c.reason).join('; '),
    ...(conclusive.length > 0 ? { conclusive: conclusive.map((c) => c.reason).join('; ') } : {}),
    ...(held.length > 0 ? { held: held.map((c) => c.reason).join('; ') } : {}),
    ...(held.some((c) => c.alert) ? { alert: true } : {}),
    ...(wouldHaveFailed.length > 0
      ? { wouldHaveFailed: wouldHaveFailed.map((c) => c.reason).join('; ') }
      : {}),
  };
}

function isHold(check: CheckObservation): boolean {
  return check.verdict === 'inconclusive' || check.verdict === 'hold';
}
