import type { Canary, CanaryStatus } from '../api/canary.ts';
import { intervalOf } from './step.ts';
import type { Decision, Observations, Reason } from './types.ts';

const DEFAULT_THRESHOLD = 5;
const DEFAULT_DEADLINE_SECONDS = 600;

/** What the rules of one tick read. `status` is this tick's copy: the rules of a step update it as they go. */
export interface Context {
  canary: Canary;
  obs: Observations;
  now: Date;
  nowMs: number;
  status: CanaryStatus;
  /** Name of the target Deployment (the canary). */
  target: string;
  /** Name of the primary Deployment. */
  primary: string;
  intervalMs: number;
  threshold: number;
  deadlineSeconds: number;
  /** Events to record whatever the tick decides (a dry-run check that would have failed). */
  notes?: Reason[];
}

/** A rule of the decision table: a decision, or undefined to let the next rule look. */
export type Rule = (ctx: Context) => Decision | undefined;

/** The last rule of a phase: always decides. */
export type Handler = (ctx: Context) => Decision;

export function contextOf(canary: Canary, obs: Observations, now: Date): Context {
  const target = canary.spec.targetRef.name;
  const ctx: Context = {
    canary,
    obs,
    now,
    nowMs: now.getTime(),
    status: { ...(canary.status ?? {}) },
    target,
    primary: `${target}-primary`,
    intervalMs: intervalOf(canary),
    threshold: canary.spec.analysis?.threshold ?? DEFAULT_THRESHOLD,
    deadlineSeconds: canary.spec.progressDeadlineSeconds ?? DEFAULT_DEADLINE_SECONDS,
  };
  if (canary.metadata.generation !== undefined) ctx.status.observedGeneration = canary.metadata.generation;
  return ctx;
}
