/** The view of one rollout, as the terminal view, `petrel explain`, `-o json` and a web page show it. */
export interface CanaryView {
  namespace: string;
  name: string;
  phase: string;
  /** Why the canary is where it is: the Promoted condition's message, else the latest event's. */
  message: string;
  /** What holds the rollout besides its phase, each a short sentence (paused, held by a window, a gate). */
  holds: HoldView[];
  weight: number;
  maxWeight: number;
  /** `n of N`: a weight schedule's step, or the analysis iteration without one. */
  step: StepView;
  failedChecks: number;
  threshold: number;
  /** Milliseconds until the next analysis step is due; only while a rollout is under way and nothing holds it. */
  nextStepInMs?: number;
  /** Release windows and freezes; undefined when the canary has none. */
  window?: WindowView;
  /** Each metric of spec.analysis with its latest value against its threshold, failed first. */
  checks: CheckView[];
  /** When the checks in `checks` were taken (the last analysis), RFC 3339. */
  checkedAt?: string;
  /** The most recent events on the Canary, oldest first. */
  events: EventView[];
  /**
   * `target` is the revision last applied (the one rolled out or failed); a newer one that waits to
   * start (a freeze, a closed window, confirm-rollout) is only known to be there: `newRevisionWaiting`.
   */
  revisions: { target?: string; primary?: string; newRevisionWaiting?: boolean };
  /** When the phase last changed, RFC 3339. */
  since?: string;
}

export type HoldKind = 'suspended' | 'paused' | 'window' | 'freeze' | 'gate' | 'invalid';

export interface HoldView {
  kind: HoldKind;
  message: string;
}

export interface StepView {
  mode: 'weights' | 'iterations';
  /** 0 before the first step. */
  current: number;
  total: number;
  /** The weights of the schedule (mode weights), e.g. [10, 20, 30, 40, 50]. */
  schedule: number[];
}

export interface WindowView {
  /** May a new revision start, and may a rollout in flight advance, right now? */
  mayStart: boolean;
  mayAdvance: boolean;
  /** When the first of those answers changes next (RFC 3339), and that instant in the windows' time zone. */
  nextChangeAt?: string;
  nextChange?: string;
  /** Why starting or advancing is held, naming the next opening; empty when neither is. */
  reason: string;
}

/** A check's latest verdict; inconclusive and hold come from checks judged against the primary. */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'hold' | 'pending';

export interface CheckView {
  metric: string;
  /** `>= 99`, `<= 500`, `99..100`, or `none` (recorded only). */
  threshold: string;
  value?: number;
  verdict: Verdict;
  /** The check's own words: value, threshold, or the error that kept it from being evaluated. */
  reason?: string;
  time?: string;
  weight?: number;
}

export interface EventView {
  type: string;
  reason: string;
  message: string;
  /** RFC 3339 of the latest occurrence. */
  time?: string;
  count: number;
}

/** One line of the table of canaries. */
export interface CanaryRow {
  namespace: string;
  name: string;
  phase: string;
  weight: number;
  step: string;
  failedChecks: string;
  /** A short note: paused, held until ..., the failed check. */
  note: string;
  since?: string;
}
