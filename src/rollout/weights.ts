import type { Weights } from './types.ts';

export interface WeightSchedule {
  stepWeight?: number;
  stepWeights?: number[];
  maxWeight?: number;
}

const DEFAULT_MAX_WEIGHT = 50;
const DEFAULT_STEP_WEIGHT = 10;

/** The top of the schedule: the last explicit step when `stepWeights` is given, else `maxWeight`. */
export function maxWeightOf(schedule: WeightSchedule): number {
  const steps = explicitSteps(schedule);
  const max =
    steps.length > 0 ? (steps[steps.length - 1] as number) : (schedule.maxWeight ?? DEFAULT_MAX_WEIGHT);
  return clamp(max);
}

/** The weight after `current`, never above the top of the schedule. */
export function nextWeight(schedule: WeightSchedule, current: number): number {
  const max = maxWeightOf(schedule);
  const steps = explicitSteps(schedule);
  if (steps.length > 0) {
    const next = steps.find((w) => w > current);
    return next === undefined ? max : Math.min(next, max);
  }
  const step = schedule.stepWeight && schedule.stepWeight > 0 ? schedule.stepWeight : DEFAULT_STEP_WEIGHT;
  return Math.min(current + step, max);
}

/**
 * Whether the schedule walks weights. Setting `analysis.iterations` asks for a fixed number of analyses
 * instead (blue/green, or A/B testing with `analysis.match`): the weight is not stepped.
 */
export function hasWeightSteps(schedule: WeightSchedule & { iterations?: number }): boolean {
  return !(schedule.iterations && schedule.iterations > 0);
}

export function weightsFor(canaryWeight: number): Weights {
  const canary = clamp(canaryWeight);
  return { primary: 100 - canary, canary };
}

export function sameWeights(a: Weights | undefined, b: Weights): boolean {
  return (
    a !== undefined &&
    a.primary === b.primary &&
    a.canary === b.canary &&
    (a.mirrored ?? false) === (b.mirrored ?? false)
  );
}

/** The weights with the primary's traffic also mirrored to the canary. */
export function mirroredWeights(canaryWeight: number): Weights {
  return { ...weightsFor(canaryWeight), mirrored: true };
}

/**
 * The weight after `current` when the primary takes traffic back in steps of `stepWeightPromotion` after a
 * promotion (Flagger's semantics); 0 ends the promotion. E.g. 50 with steps of 20: 30, then 10, then 0.
 */
export function nextPromotionWeight(current: number, stepWeightPromotion: number): number {
  return Math.max(0, current - Math.max(1, stepWeightPromotion));
}

function explicitSteps(schedule: WeightSchedule): number[] {
  return (schedule.stepWeights ?? [])
    .filter((w) => w > 0)
    .map(clamp)
    .sort((a, b) => a - b);
}

function clamp(weight: number): number {
  return Math.max(0, Math.min(100, Math.round(weight)));
}
