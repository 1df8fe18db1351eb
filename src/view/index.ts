export { canaryRow, type ViewOptions, viewCanary } from './canary-view.ts';
export { analysisViews, checkViews, lastAnalysis, thresholdText } from './checks.ts';
export { eventView, isEventOf, type KubeEventLike, recentEvents } from './events.ts';
export { explainCanary } from './explain.ts';
export type * from './model.ts';
export { readCanary } from './read.ts';
export { stepOf, weightSchedule } from './steps.ts';
