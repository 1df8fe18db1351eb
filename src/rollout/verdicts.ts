import type { CheckObservation } from './types.ts';

export interface Verdict {
  passed: boolean;
  /** The failed checks' reasons, joined: what the rollback or halt reason quotes. */
  failures: string;
}

/** A step passes only when every check passed; a check that could not run counts as failed. */
export function judge(checks: readonly CheckObservation[]): Verdict {
  const failed = checks.filter((c) => !c.passed);
  return { passed: failed.length === 0, failures: failed.map((c) => c.reason).join('; ') };
}
