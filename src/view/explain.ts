import { type ViewOptions, viewCanary } from './canary-view.ts';
import { analysisViews, lastAnalysis } from './checks.ts';
import { ago, formatDuration } from './durations.ts';
import type { KubeEventLike } from './events.ts';
import type { CanaryView, CheckView } from './model.ts';
import { readCanary } from './read.ts';

/** `petrel explain`: why the canary is where it is, the evidence of the last decision, and what comes next. */
export interface Explanation {
  view: CanaryView;
  /** Sentences: where the canary is, why, what holds it, traffic, revisions, windows. */
  why: string[];
  /** The checks of the last analysis, failed first; undefined before any analysis. */
  evidence?: { time: string; weight: number; checks: CheckView[] };
  /** Sentences: what the controller does next and what a person can do. */
  next: string[];
}

export function explainCanary(
  raw: unknown,
  events: readonly KubeEventLike[],
  opts: ViewOptions,
): Explanation {
  const view = viewCanary(raw, events, opts);
  const { canary } = readCanary(raw);
  const entries = lastAnalysis(canary.status?.history);
  const first = entries[0];
  const evidence = first
    ? { time: first.time, weight: first.weight, checks: analysisViews(canary, entries) }
    : undefined;
  return { view, why: why(view, opts.now), ...(evidence ? { evidence } : {}), next: next(view) };
}

function why(view: CanaryView, now: Date): string[] {
  const lines: string[] = [];
  const since = view.since
    ? ` since ${view.since}${ago(view.since, now) ? ` (${ago(view.since, now)} ago)` : ''}`
    : '';
  lines.push(`Canary ${view.namespace}/${view.name} is ${view.phase}${since}.`);
  if (view.message) lines.push(`Last decision: ${sentence(view.message)}`);
  for (const hold of view.holds) lines.push(`Held (${hold.kind}): ${sentence(hold.message)}`);
  const { step } = view;
  const stepText =
    step.mode === 'weights'
      ? `step ${step.current} of ${step.total} (weights ${step.schedule.join(', ')})`
      : `iteration ${step.current} of ${step.total}`;
  lines.push(
    `Traffic: ${view.weight}% to the canary, ${100 - view.weight}% to the primary; ${stepText}. Failed checks: ${view.failedChecks} of ${view.threshold} (the canary is rolled back at ${view.threshold}).`,
  );
  const { target, primary, newRevisionWaiting } = view.revisions;
  if (newRevisionWaiting) {
    lines.push(
      `A new revision of the target waits to start its rollout; the primary runs ${primary ?? 'no promoted revision yet'}.`,
    );
  } else if (target || primary) {
    const same = target !== undefined && target === primary;
    lines.push(
      same
        ? `The primary runs the target's revision ${target}: nothing is left to roll out.`
        : `The target's revision is ${target ?? 'not applied yet'}; the primary runs ${primary ?? 'no promoted revision yet'}.`,
    );
  }
  if (view.window) {
    const w = view.window;
    const now = `Release windows and freezes: a rollout may ${w.mayStart ? '' : 'not '}start and may ${w.mayAdvance ? '' : 'not '}advance now`;
    lines.push(`${now}${w.nextChange ? `; that changes at ${w.nextChange}` : ''}.`);
  }
  return lines;
}

function next(view: CanaryView): string[] {
  const ref = `${view.name} -n ${view.namespace}`;
  const hold = view.holds[0];
  if (hold?.kind === 'invalid')
    return [
      'Nothing moves until the spec is fixed: see the message above and run petrel lint on the manifest.',
    ];
  if (hold?.kind === 'suspended') return ['Nothing moves until spec.suspend is set to false.'];
  if (hold?.kind === 'paused') return [`Nothing moves until petrel resume ${ref}.`];
  if (hold?.kind === 'window' || hold?.kind === 'freeze') {
    const when = view.window?.nextChange;
    const starting = view.weight === 0 && view.step.current === 0;
    return [
      when
        ? `The rollout ${starting ? 'starts' : 'resumes'} at ${when}, when the ${hold.kind === 'freeze' ? 'freeze ends' : 'next release window opens'}.`
        : `The rollout waits until the ${hold.kind === 'freeze' ? 'freeze is deleted (petrel unfreeze)' : 'release windows change'}.`,
    ];
  }
  switch (view.phase) {
    case 'Initializing':
      return [
        'The primary Deployment is being created; once it is ready the canary is Initialized and waits for a new revision.',
      ];
    case 'Initialized':
    case 'Succeeded':
      return [idleNext(view)];
    case 'Failed':
      return failedNext(view, ref);
    case 'Waiting':
    case 'Progressing':
    case 'WaitingPromotion':
      return progressingNext(view, ref);
    case 'Promoting':
      return [
        'The primary is rolling out the promoted revision; once it is ready, all traffic goes back to it (Finalising) and the canary is scaled to zero.',
      ];
    case 'Finalising':
      return [
        'All traffic is going back to the primary and the canary is scaled to zero; then the canary is Succeeded.',
      ];
    default:
      return ['Nothing to do while the canary is being deleted.'];
  }
}

function idleNext(view: CanaryView): string {
  const first =
    view.step.mode === 'weights'
      ? `at weight ${view.step.schedule[0] ?? view.maxWeight}`
      : 'with its first analysis';
  const window =
    view.window && !view.window.mayStart && view.window.nextChange
      ? `; it would wait for ${view.window.nextChange} to start`
      : '';
  return `All traffic is on the primary. Nothing happens until the target Deployment changes: a new revision starts a rollout ${first}${window}.`;
}

function failedNext(view: CanaryView, ref: string): string[] {
  const lines = [
    'All traffic stays on the primary and the canary is scaled to zero. A new revision of the target starts a new rollout.',
  ];
  const { target, primary } = view.revisions;
  if (target && target !== primary)
    lines.push(`petrel retry ${ref} starts the rollout of revision ${target} again from weight 0.`);
  return lines;
}

function progressingNext(view: CanaryView, ref: string): string[] {
  const lines: string[] = [];
  const hold = view.holds[0];
  if (hold?.kind === 'gate') lines.push(`A gate holds the rollout: ${sentence(hold.message)}`);
  if (view.phase === 'WaitingPromotion')
    lines.push(
      'The canary is promoted once the confirm-promotion gate opens; the analysis goes on meanwhile.',
    );
  const when =
    view.nextStepInMs === undefined
      ? 'At the next step'
      : view.nextStepInMs === 0
        ? 'Now'
        : `In ${formatDuration(view.nextStepInMs)}`;
  const { step } = view;
  const metrics = view.checks.map((c) => c.metric);
  const failing = view.failedChecks + 1;
  const onFail =
    failing >= view.threshold
      ? `if a check fails, that is ${failing} of ${view.threshold}: the canary is rolled back`
      : `if a check fails, failed checks become ${failing} of ${view.threshold} and the canary stays where it is`;
  if (step.mode === 'weights' && view.weight === 0) {
    lines.push(
      `${when} the canary gets its first share of traffic, ${step.schedule[0] ?? view.maxWeight}%, once it is ready (no analysis before that).`,
    );
  } else {
    const top = step.mode === 'weights' ? step.current >= step.total : step.current + 1 >= step.total;
    const onPass = top
      ? 'the canary is promoted'
      : step.mode === 'weights'
        ? `the weight goes from ${view.weight}% to ${step.schedule[step.current] ?? view.maxWeight}%`
        : `iteration ${step.current + 1} of ${step.total} is counted`;
    const what = metrics.length > 0 ? `the checks (${metrics.join(', ')}) run` : 'the next step is taken';
    lines.push(`${when} ${what}: if every check passes, ${onPass}; ${onFail}.`);
  }
  lines.push(
    `petrel promote ${ref} promotes now; petrel abort ${ref} rolls back; petrel pause ${ref} holds it.`,
  );
  return lines;
}

/** Ends a message as a sentence. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
