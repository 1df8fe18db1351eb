import { ago, formatDuration } from '../../view/durations.ts';
import type { CanaryView, CheckView, EventView } from '../../view/model.ts';
import type { Style } from './style.ts';

const BAR_WIDTH = 20;
const LABEL_WIDTH = 11;

/** `[######--------------]`: the canary's share of traffic, one mark per 5%. */
export function weightBar(weight: number): string {
  const filled = Math.round((Math.max(0, Math.min(100, weight)) / 100) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
}

/** The first 12 characters of a revision hash, as git shortens commits. */
export function shortRevision(revision: string | undefined): string {
  return revision ? revision.slice(0, 12) : '-';
}

/** A time as HH:MM:SS UTC when it is today, else the full RFC 3339. */
function clock(rfc3339: string | undefined, now: Date): string {
  if (!rfc3339) return '-';
  const at = new Date(rfc3339);
  if (Number.isNaN(at.getTime())) return rfc3339;
  const iso = at.toISOString();
  return iso.slice(0, 10) === now.toISOString().slice(0, 10)
    ? `${iso.slice(11, 19)}Z`
    : iso.replace('.000Z', 'Z');
}

function phaseStyle(phase: string, style: Style): (text: string) => string {
  if (phase === 'Succeeded') return style.good;
  if (phase === 'Failed') return style.bad;
  if (phase === 'Progressing' || phase === 'Promoting' || phase === 'Finalising') return style.accent;
  return style.warn;
}

const label = (text: string, style: Style) => style.bold(text.padEnd(LABEL_WIDTH));

/** The terminal view of one rollout, one string per line. */
export function renderCanary(view: CanaryView, style: Style, now: Date): string[] {
  const lines: string[] = [];
  lines.push(`${label('Canary', style)} ${view.namespace}/${view.name}`);
  const since = view.since ? `  since ${clock(view.since, now)} (${ago(view.since, now) ?? '?'})` : '';
  lines.push(`${label('Phase', style)} ${phaseStyle(view.phase, style)(view.phase)}${style.dim(since)}`);
  for (const hold of view.holds)
    lines.push(`${' '.repeat(LABEL_WIDTH)} ${style.warn(`${hold.kind}: ${hold.message}`)}`);
  const { step } = view;
  const stepText =
    step.mode === 'weights'
      ? `step ${step.current} of ${step.total}${step.schedule.length ? ` (${step.schedule.join(', ')})` : ''}`
      : `iteration ${step.current} of ${step.total}`;
  lines.push(
    `${label('Weight', style)} ${weightBar(view.weight)} ${String(view.weight).padStart(3)}%  ${stepText}`,
  );
  if (view.nextStepInMs !== undefined) {
    lines.push(
      `${label('Next step', style)} ${view.nextStepInMs === 0 ? 'due now' : `in ${formatDuration(view.nextStepInMs)}`}`,
    );
  }
  const failed = `${view.failedChecks}/${view.threshold}`;
  lines.push(
    `${label('Failed', style)} ${view.failedChecks > 0 ? style.bad(failed) : failed} checks (rolled back at ${view.threshold})`,
  );
  if (view.window) lines.push(`${label('Window', style)} ${windowText(view)}`);
  const { target, primary, newRevisionWaiting } = view.revisions;
  const targetText = newRevisionWaiting ? 'a new revision (waiting to start)' : shortRevision(target);
  const promoted = !newRevisionWaiting && target !== undefined && target === primary;
  lines.push(
    `${label('Revisions', style)} target ${targetText}  primary ${shortRevision(primary)}${promoted ? style.dim('  (promoted)') : ''}`,
  );
  if (view.message) lines.push(`${label('Message', style)} ${view.message}`);
  lines.push('');
  const checkedAt = view.checkedAt ? style.dim(`  last analysis ${clock(view.checkedAt, now)}`) : '';
  lines.push(`${style.bold('Checks')}${checkedAt}`);
  if (view.checks.length === 0) lines.push(style.dim('  no metrics in spec.analysis'));
  lines.push(...checkLines(view.checks, style));
  lines.push('');
  lines.push(style.bold('Events'));
  if (view.events.length === 0) lines.push(style.dim('  none yet'));
  lines.push(...eventLines(view.events, style, now));
  return lines;
}

function windowText(view: CanaryView): string {
  const w = view.window!;
  const open = w.mayStart && w.mayAdvance;
  const state = open
    ? 'open'
    : !w.mayStart && !w.mayAdvance
      ? 'closed'
      : w.mayStart
        ? 'may start, may not advance'
        : 'may advance, may not start';
  const change = w.nextChange ? `; ${open ? 'closes' : 'next opening'} ${w.nextChange}` : '';
  return `${state}${change}`;
}

/** One line per check: verdict, metric, value, threshold; the reason of a failed one below it. */
export function checkLines(checks: readonly CheckView[], style: Style): string[] {
  const width = Math.max(6, ...checks.map((c) => c.metric.length));
  const lines: string[] = [];
  for (const check of checks) {
    const verdict =
      check.verdict === 'fail'
        ? style.bad('FAIL')
        : check.verdict === 'pass'
          ? style.good('pass')
          : style.dim('....');
    const value = check.value === undefined ? '-' : formatValue(check.value);
    const at = check.weight === undefined ? '' : style.dim(`  at ${check.weight}%`);
    lines.push(
      `  ${verdict}  ${check.metric.padEnd(width)}  ${value.padStart(10)}  threshold ${check.threshold}${at}`,
    );
    if (check.verdict === 'fail' && check.reason) lines.push(`        ${style.dim(check.reason)}`);
  }
  return lines;
}

/** Values as the checks compute them, without float noise: 99.50000001 -> 99.5. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}

function eventLines(events: readonly EventView[], style: Style, now: Date): string[] {
  const width = Math.max(6, ...events.map((e) => e.reason.length));
  return events.map((e) => {
    const type = e.type === 'Warning' ? style.warn('Warning') : 'Normal ';
    const count = e.count > 1 ? style.dim(` (x${e.count})`) : '';
    return `  ${clock(e.time, now).padEnd(9)}  ${type}  ${e.reason.padEnd(width)}  ${e.message}${count}`;
  });
}
