import type { AnalysisStatus, CheckEvidence } from '../api/analysis-spec.ts';
import type { Canary, CanaryStatus } from '../api/canary.ts';
import type { GateObservations, GateType } from './gates.ts';
import type { ManualAction } from './manual.ts';
import type { DecisionReasonCode } from './reasons.ts';
import type { FreezeObservation } from './windows.ts';

/** What the controller saw of one Deployment, read from the informer cache. */
export interface WorkloadObservation {
  /** Revision hash of the pod template the workload runs (for the primary: the promoted target revision). */
  revision: string;
  /** Desired replicas (spec.replicas). */
  replicas: number;
  /** The rollout of the current pod template is complete and every desired replica is available. */
  ready: boolean;
}

/** One metric check as the metrics package reports it (its `CheckResult`). */
export interface CheckObservation {
  metric: string;
  value?: number;
  min?: number;
  max?: number;
  passed: boolean;
  /** Human text naming the metric, its value and the threshold, or the error. */
  reason: string;
  /** The error's stable code when the check could not be evaluated. */
  code?: string;
  /** A failed `rollout` webhook with muteAlert: its failure raises no alert. */
  muted?: boolean;
  /**
   * Finer than `passed` (issue 17): 'inconclusive' (not enough evidence yet) and 'hold' (no data with
   * onNoData: hold, or an unreachable backend) keep the weight without counting a failure.
   */
  verdict?: 'pass' | 'fail' | 'inconclusive' | 'hold';
  /** A failure whose evidence is conclusive at the check's alpha: rolls back at once, whatever the threshold. */
  conclusive?: boolean;
  /** Evaluated and recorded, alerted when it would have failed, never acted on. */
  dryRun?: boolean;
  /** A relative check's evidence, rounded for people. */
  evidence?: CheckEvidence;
  /** A hold that should reach people (an unreachable backend), not only the log. */
  alert?: boolean;
}

export interface Weights {
  primary: number;
  canary: number;
  /** The primary's traffic is also copied to the canary (spec.analysis.mirror); absent means not. */
  mirrored?: boolean;
}

/** Everything `decide` needs to know about the world; gathered from caches (and Prometheus when due). */
export interface Observations {
  target: WorkloadObservation;
  /** Undefined while the primary Deployment does not exist. */
  primary?: WorkloadObservation;
  /** Live weights read back from the mesh; undefined while the routes do not exist. */
  routes?: Weights;
  /** Present only when `planObservations` said checks are due on this tick. */
  checks?: CheckObservation[];
  /** With `checks`: the relative checks' state and evidence after this step, written to status.analysis. */
  analysis?: AnalysisStatus;
  /** Answers of the webhook gates `planObservations` said are due on this tick. */
  webhooks?: GateObservations;
  /** A manual action asked for through the Canary's annotations (petrel promote|abort|pause|resume). */
  manual?: ManualAction;
  /** ReleaseFreezes that select this canary; their start/end are checked against now. */
  freezes?: FreezeObservation[];
}

export type EventSeverity = 'Normal' | 'Warning';

/**
 * Side effects are data. The controller records the decision first (its events as status.notices, see
 * `withNotices`), then the executor runs the rest in order; each follows from the recorded status.
 */
export type Action =
  | { type: 'ensurePrimary' }
  /** Keeps `<autoscaler>-primary` in line with spec.autoscalerRef; a missing source HPA is a warning. */
  | { type: 'syncPrimaryAutoscaler' }
  | { type: 'ensureRoutes' }
  | { type: 'setWeights'; weights: Weights }
  | { type: 'scaleTarget'; replicas: number }
  | { type: 'promotePrimary' }
  /** `muteAlert`: recorded as a Kubernetes event, but no alert is sent for it (webhooks[].muteAlert). */
  | {
      type: 'event';
      severity: EventSeverity;
      reason: DecisionReasonCode;
      message: string;
      muteAlert?: boolean;
    }
  /** Removes the manual-action annotation once the action was carried out. */
  | { type: 'clearManualAction' };

export interface Reason {
  /** Stable CamelCase code, used as the event and condition reason. */
  code: DecisionReasonCode;
  message: string;
  severity: EventSeverity;
}

export interface Decision {
  status: CanaryStatus;
  actions: Action[];
  /** Come back after this long; undefined when only a change in the world should wake this canary. */
  requeueAfterMs?: number;
  reason: Reason;
}

export interface ObservationPlan {
  /** Whether metric checks must be run (and passed in `Observations.checks`) on this tick. */
  checks: boolean;
  /** Webhook gates whose answers must be passed in `Observations.webhooks` on this tick. */
  webhooks?: GateType[];
}

export type { Canary, CanaryStatus };
