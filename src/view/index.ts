/**
 * What a person sees of a rollout, as data: `viewCanary(canary, events, { now, freezes })` for one
 * Canary (phase and holds, weight and step n of N, checks against thresholds, next step, release
 * windows, revisions, recent events), `canaryRow` for a table line, `explainCanary` for sentences.
 * Pure (imports only api/ and rollout/): `petrel get`/`explain` draw it on a terminal, and a web page
 * can send the same objects to a browser. Inputs are the objects as the API server returns them.
 */
export { canaryRow, type ViewOptions, viewCanary } from './canary-view.ts';
export { analysisViews, checkViews, lastAnalysis, thresholdText } from './checks.ts';
export { eventView, isEventOf, type KubeEventLike, recentEvents } from './events.ts';
export { explainCanary } from './explain.ts';
export type * from './model.ts';
export { readCanary } from './read.ts';
export { stepOf, weightSchedule } from './steps.ts';
