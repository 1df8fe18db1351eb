import type { Canary } from '../api/canary.ts';
import { hasWeightSteps, maxWeightOf, nextWeight } from '../rollout/weights.ts';
import type { StepView } from './model.ts';

/**
 * The weights a schedule walks through, the state machine's own `nextWeight` applied from 0.
 * Example: stepWeight 10, maxWeight 50 -> [10, 20, 30, 40, 50]; stepWeights [5, 25, 60] -> [5, 25, 60].
 */
export function weightSchedule(canary: Canary): number[] {
  const analysis = canary.spec.analysis ?? {};
  const max = maxWeightOf(analysis);
  const weights: number[] = [];
  let weight = 0;
  while (weight < max && weights.length < 100) {
    const next = nextWeight(analysis, weight);
    if (next <= weight) break;
    weights.push(next);
    weight = next;
  }
  return weights;
}

/**
 * Step n of N. With a weight schedule, n counts the weights reached (weight 30 of 10..50 is 3 of 5, weight
 * 0 is 0 of 5); with `iterations`, the analyses passed.
 */
export function stepOf(canary: Canary): StepView {
  const analysis = canary.spec.analysis ?? {};
  const status = canary.status ?? {};
  if (!hasWeightSteps(analysis)) {
    const total = analysis.iterations ?? 1;
    return { mode: 'iterations', current: Math.min(status.iterations ?? 0, total), total, schedule: [] };
  }
  const schedule = weightSchedule(canary);
  const weight = status.canaryWeight ?? 0;
  const current = schedule.filter((w) => w <= weight).length;
  return { mode: 'weights', current, total: schedule.length, schedule };
}
