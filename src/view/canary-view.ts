import type { Canary, CanaryCondition } from '../api/canary.ts';
import { isInRollout } from '../rollout/phases.ts';
import { HELD_CONDITION } from '../rollout/release-gate.ts';
import { stepRemainingMs } from '../rollout/step.ts';
import { maxWeightOf } from '../rollout/weights.ts';
import { advanceAnswer, type FreezeObservation, formatInstant, startAnswer } from '../rollout/windows.ts';
import { checkViews, lastAnalysis } from './checks.ts';
import { type KubeEventLike, recentEvents } from './events.ts';
import type { CanaryRow, CanaryView, EventView, HoldView, WindowView } from './model.ts';
import { readCanary } from './read.ts';
import { stepOf } from './steps.ts';

export interface ViewOptions {
  now: Date;
  /** The ReleaseFreezes that select the canary, when the caller read them. */
  freezes?: readonly FreezeObservation[];
  /** How many recent events to keep (default 5). */
  eventLimit?: number;
}

const DEFAULT_THRESHOLD = 5;
/** Events that say a gate holds the rollout at its current step. */
const GATE_REASONS = new Set([
  'WaitingForConfirmation',
  'TrafficIncreaseHeld',
  'WaitingPromotion',
  'WebhookPending',
]);

/**
 * The view of one rollout from the Canary as the API server has it and the Events about it. Pure: the
 * same inputs always give the same view, so a terminal, a JSON document or a web page can show it.
 */
export function viewCanary(raw: unknown, events: readonly KubeEventLike[], opts: ViewOptions): CanaryView {
  const { canary, problems } = readCanary(raw);
  const status = canary.status ?? {};
  const phase = status.phase ?? 'Initializing';
  const recent = recentEvents(events, opts.eventLimit ?? 5);
  const holds = holdsOf(canary, recent, problems);
  const window = windowOf(canary, opts);
  const nextStepInMs =
    isInRollout(phase) && holds.length === 0 && phase !== 'Waiting'
      ? stepRemainingMs(canary, status, opts.now.getTime())
      : undefined;
  const checkedAt = lastAnalysis(status.history)[0]?.time;
  return {
    namespace: canary.metadata.namespace ?? '',
    name: canary.metadata.name ?? '',
    phase,
    message: latestMessage(canary, recent),
    holds,
    weight: status.canaryWeight ?? 0,
    maxWeight: maxWeightOf(canary.spec.analysis ?? {}),
    step: stepOf(canary),
    failedChecks: status.failedChecks ?? 0,
    threshold: canary.spec.analysis?.threshold ?? DEFAULT_THRESHOLD,
    ...(nextStepInMs === undefined ? {} : { nextStepInMs }),
    ...(window ? { window } : {}),
    checks: checkViews(canary),
    ...(checkedAt ? { checkedAt } : {}),
    events: recent,
    revisions: {
      ...(status.lastAppliedSpec ? { target: status.lastAppliedSpec } : {}),
      ...(status.lastPromotedSpec ? { primary: status.lastPromotedSpec } : {}),
      ...(newRevisionWaiting(canary, recent) ? { newRevisionWaiting: true } : {}),
    },
    ...(status.lastTransitionTime ? { since: status.lastTransitionTime } : {}),
  };
}

/** The line of the table of canaries for one Canary. */
export function canaryRow(raw: unknown, opts: ViewOptions): CanaryRow {
  const view = viewCanary(raw, [], opts);
  const failed = view.checks.find((c) => c.verdict === 'fail');
  const note =
    view.holds[0]?.message ??
    (view.phase === 'Failed' && failed
      ? `${failed.metric} ${failed.value ?? '-'} (${failed.threshold})`
      : '');
  return {
    namespace: view.namespace,
    name: view.name,
    phase: view.holds[0] && view.holds[0].kind === 'paused' ? `${view.phase} (paused)` : view.phase,
    weight: view.weight,
    step: `${view.step.current}/${view.step.total}`,
    failedChecks: `${view.failedChecks}/${view.threshold}`,
    note,
    ...(view.since ? { since: view.since } : {}),
  };
}

/** The start holds of release-gate.ts: a new revision waits to begin its rollout. */
const START_HOLDS = new Set(['ReleaseFrozen', 'WaitingForReleaseWindow']);

/**
 * A new revision waits to start: a start hold, a closed confirm-rollout, or Waiting with the last applied
 * revision already promoted (a rollout in flight has applied a revision the primary does not run).
 */
function newRevisionWaiting(canary: Canary, recent: readonly EventView[]): boolean {
  const status = canary.status ?? {};
  if (status.phase !== 'Waiting') return false;
  const held = condition(canary, HELD_CONDITION);
  if (held?.status === 'True') return START_HOLDS.has(held.reason ?? '');
  return (
    recent.at(-1)?.reason === 'WaitingForConfirmation' || status.lastAppliedSpec === status.lastPromotedSpec
  );
}

/**
 * The words of the latest decision: of the Promoted, Held and Paused conditions and the latest event,
 * the most recent (an event wins a tie: it is the decision's own reason). Holds do not rewrite Promoted,
 * so its message alone can be older than what holds the canary now.
 */
function latestMessage(canary: Canary, recent: readonly EventView[]): string {
  const candidates: { time: string; message: string }[] = [];
  for (const type of ['Promoted', HELD_CONDITION, 'Paused']) {
    const c = condition(canary, type);
    if (c?.message && (type === 'Promoted' || c.status === 'True')) {
      candidates.push({ time: c.lastUpdateTime ?? c.lastTransitionTime ?? '', message: c.message });
    }
  }
  const last = recent.at(-1);
  if (last?.message) candidates.push({ time: last.time ?? '', message: last.message });
  let best: { time: string; message: string } | undefined;
  for (const candidate of candidates) if (!best || candidate.time >= best.time) best = candidate;
  return best?.message ?? '';
}

function condition(canary: Canary, type: string): CanaryCondition | undefined {
  return canary.status?.conditions?.find((c) => c.type === type);
}

function holdsOf(canary: Canary, recent: ReturnType<typeof recentEvents>, problems: string[]): HoldView[] {
  const holds: HoldView[] = [];
  const invalid = condition(canary, 'InvalidSpec');
  if (invalid?.status === 'True') holds.push({ kind: 'invalid', message: invalid.message ?? 'invalid spec' });
  else if (problems.length > 0)
    holds.push({ kind: 'invalid', message: `invalid spec: ${problems.join('; ')}` });
  if (canary.spec.suspend) holds.push({ kind: 'suspended', message: 'suspended: spec.suspend is true' });
  const paused = condition(canary, 'Paused');
  if (paused?.status === 'True') holds.push({ kind: 'paused', message: paused.message ?? 'paused' });
  const held = condition(canary, HELD_CONDITION);
  if (held?.status === 'True') {
    holds.push({ kind: held.reason === 'ReleaseFrozen' ? 'freeze' : 'window', message: held.message ?? '' });
  }
  const phase = canary.status?.phase;
  const last = recent.at(-1);
  if (holds.length === 0 && isInRollout(phase) && last && GATE_REASONS.has(last.reason)) {
    holds.push({ kind: 'gate', message: last.message });
  }
  return holds;
}

/** Release windows and the freezes that select the canary: what may happen now, and when that changes. */
function windowOf(canary: Canary, opts: ViewOptions): WindowView | undefined {
  const spec = canary.spec.releaseWindows;
  const freezes = opts.freezes ?? [];
  if (!spec?.windows?.length && freezes.length === 0) return undefined;
  let start: ReturnType<typeof startAnswer>;
  let advance: ReturnType<typeof advanceAnswer>;
  try {
    start = startAnswer(spec, freezes, opts.now);
    advance = advanceAnswer(spec, opts.now);
  } catch (err) {
    return {
      mayStart: true,
      mayAdvance: true,
      reason: `release windows cannot be read: ${(err as Error).message}`,
    };
  }
  const changes = [start.nextChangeAt, advance.nextChangeAt].filter((d): d is Date => d !== undefined);
  const next = changes.length > 0 ? new Date(Math.min(...changes.map((d) => d.getTime()))) : undefined;
  const timeZone = spec?.windows?.[0]?.timeZone ?? 'UTC';
  return {
    mayStart: start.allowed,
    mayAdvance: advance.allowed,
    ...(next ? { nextChangeAt: next.toISOString(), nextChange: formatInstant(next, timeZone) } : {}),
    reason: start.reason || advance.reason,
  };
}
