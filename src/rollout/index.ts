export { DECISION_TABLE, decide } from './decide.ts';
export { GATE_TYPES, type GateObservation, type GateObservations, type GateType, hasHook } from './gates.ts';
export { READY, RECONCILING, STALLED, withKstatusConditions } from './kstatus.ts';
export {
  ACTION_ANNOTATION,
  ACTION_AT_ANNOTATION,
  ACTION_BY_ANNOTATION,
  clearManualActionPatch,
  MANUAL_ACTIONS,
  type ManualAction,
  type ManualActionRead,
  type ManualActionType,
  manualActionPatch,
  readManualAction,
} from './manual.ts';
export {
  endsRollout,
  type NoticeProgress,
  noticeKey,
  pendingNotices,
  withDeliveries,
  withNotices,
} from './notices.ts';
export { isInRollout, isSteady, LIVE_PHASES, PHASES, type Phase } from './phases.ts';
export { checksDue, gatesDue, planObservations } from './plan.ts';
export {
  CONTROLLER_REASON_CODES,
  type ControllerReasonCode,
  DECISION_REASON_CODES,
  type DecisionReasonCode,
  type ReasonCode,
  reasons,
} from './reasons.ts';
export { HISTORY_LIMIT, withCondition, withHistory } from './status.ts';
export { intervalOf, stepDue, stepRemainingMs } from './step.ts';
export {
  ANY_LIVE_PHASE,
  isDeclaredTransition,
  pairsOf,
  START,
  TRANSITIONS,
  type Transition,
} from './transitions.ts';
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
