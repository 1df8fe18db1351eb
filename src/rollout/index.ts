export { decide, planObservations } from './decide.ts';
export { reasons } from './reasons.ts';
export { HISTORY_LIMIT, withCondition, withHistory } from './status.ts';
export type {
  Action,
  CheckObservation,
  Decision,
  EventSeverity,
  ObservationPlan,
  Observations,
  Reason,
  Weights,
  WorkloadObservation,
} from './types.ts';
export { judge, type Verdict } from './verdicts.ts';
export { maxWeightOf, nextWeight, weightsFor } from './weights.ts';
