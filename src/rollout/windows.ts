import type { Cron } from 'croner';
import { parseDuration } from '../api/duration.ts';
import {
  parseWindowSchedule,
  type ReleaseWindow,
  type ReleaseWindowScope,
  type ReleaseWindows,
} from '../api/release-windows.ts';

/** A ReleaseFreeze that selects the canary, as the controller read it; decide checks its times against now. */
export interface FreezeObservation {
  name: string;
  reason?: string;
  /** RFC 3339; unset: from the freeze's creation. */
  start?: string;
  /** RFC 3339, exclusive; unset: until the freeze is deleted. */
  end?: string;
}

/** Whether one scope (starting a rollout, or advancing it) is allowed now, why not, and until when. */
export interface ScopeAnswer {
  allowed: boolean;
  /**
   * Stable code when not allowed, empty when allowed: for starting `ReleaseFrozen` or
   * `WaitingForReleaseWindow`, for advancing `OutsideReleaseWindow`.
   */
  /** Empty when allowed. */
  code: '' | 'ReleaseFrozen' | 'WaitingForReleaseWindow' | 'OutsideReleaseWindow';
  /** Why not, naming the next opening time; empty when allowed. */
  reason: string;
  /** The next instant the answer changes; undefined when only a change of the spec or the freezes can change it. */
  nextChangeAt?: Date;
}

export interface ReleaseWindowAnswer {
  mayStart: boolean;
  mayAdvance: boolean;
  /** Why starting (first) or advancing is held; empty when both are allowed. */
  reason: string;
  /** The earliest instant either answer changes. */
  nextChangeAt?: Date;
}

// Overlapping or back-to-back windows (and a freeze ending while windows are closed) are followed link
// by link; after this many links without a change the answer counts as unchanging.
const MAX_LINKS = 64;

interface CompiledWindow {
  cron: Cron;
  durationMs: number;
  timeZone: string;
}

/**
 * Starting is allowed inside a window that appliesTo Start and outside every active freeze; advancing
 * inside a window that appliesTo Advance. A scope no window applies to is always allowed.
 * Example: windows `0 9 * * 1-5` for 8h in Europe/Berlin, now Saturday 2026-03-28 12:00 UTC:
 * `{ mayStart: false, mayAdvance: false, nextChangeAt: 2026-03-30T07:00Z }` (Monday 09:00 CEST).
 */
export function evaluateReleaseWindows(
  spec: ReleaseWindows | undefined,
  freezes: readonly FreezeObservation[],
  now: Date,
): ReleaseWindowAnswer {
  const start = startAnswer(spec, freezes, now);
  const advance = advanceAnswer(spec, now);
  const changes = [start.nextChangeAt, advance.nextChangeAt].filter((d): d is Date => d !== undefined);
  return {
    mayStart: start.allowed,
    mayAdvance: advance.allowed,
    reason: start.reason || advance.reason,
    ...(changes.length > 0 ? { nextChangeAt: new Date(Math.min(...changes.map((d) => d.getTime()))) } : {}),
  };
}

/** May a new revision begin its rollout now? Windows that appliesTo Start, and every active freeze. */
export function startAnswer(
  spec: ReleaseWindows | undefined,
  freezes: readonly FreezeObservation[],
  now: Date,
): ScopeAnswer {
  const windows = compile(spec, 'Start');
  const allowedAt = (t: number) => windowsOpenAt(windows, t) && activeFreezes(freezes, t).length === 0;
  const nowMs = now.getTime();
  const allowed = allowedAt(nowMs);
  const nextChangeAt = nextChange(nowMs, allowed, allowedAt, (t) => {
    const frozen = activeFreezes(freezes, t);
    // Nothing opens while a freeze holds: the earliest change is when every active freeze has ended.
    if (frozen.length > 0) return latestEnd(frozen);
    return earliest([nextWindowChange(windows, t), ...freezeBoundariesAfter(freezes, t)]);
  });
  if (allowed) return { allowed, code: '', reason: '', ...(nextChangeAt ? { nextChangeAt } : {}) };
  const frozen = activeFreezes(freezes, nowMs);
  const when = nextChangeAt ? describeNext(nextChangeAt, windows) : undefined;
  if (frozen.length > 0) {
    const names = frozen.map((f) => (f.reason ? `${f.name} (${f.reason})` : f.name)).join(', ');
    return {
      allowed,
      code: 'ReleaseFrozen',
      reason: `new rollouts are frozen by ReleaseFreeze ${names}: ${when ? `the rollout may start at ${when}` : 'the rollout starts when the freeze is deleted'}`,
      ...(nextChangeAt ? { nextChangeAt } : {}),
    };
  }
  return {
    allowed,
    code: 'WaitingForReleaseWindow',
    reason: `outside every release window that allows a rollout to start: next opening ${when ?? 'none scheduled'}`,
    ...(nextChangeAt ? { nextChangeAt } : {}),
  };
}

/** May a rollout in flight take its next step now? Windows that appliesTo Advance; freezes do not hold steps. */
export function advanceAnswer(spec: ReleaseWindows | undefined, now: Date): ScopeAnswer {
  const windows = compile(spec, 'Advance');
  const allowedAt = (t: number) => windowsOpenAt(windows, t);
  const nowMs = now.getTime();
  const allowed = allowedAt(nowMs);
  const nextChangeAt = nextChange(nowMs, allowed, allowedAt, (t) => nextWindowChange(windows, t));
  if (allowed) return { allowed, code: '', reason: '', ...(nextChangeAt ? { nextChangeAt } : {}) };
  return {
    allowed,
    code: 'OutsideReleaseWindow',
    reason: `outside every release window that allows a rollout to advance: next opening ${describeNext(nextChangeAt, windows)}`,
    ...(nextChangeAt ? { nextChangeAt } : {}),
  };
}

function compile(spec: ReleaseWindows | undefined, scope: ReleaseWindowScope): CompiledWindow[] {
  return (spec?.windows ?? [])
    .filter((w) => (w.appliesTo ?? ['Start', 'Advance']).includes(scope))
    .map(compileWindow);
}

// Compiled once per spec object: the state machine asks on every tick, and a Canary's spec is replaced,
// never edited, when it changes.
const compiled = new WeakMap<ReleaseWindow, CompiledWindow>();

function compileWindow(window: ReleaseWindow): CompiledWindow {
  let known = compiled.get(window);
  if (!known) {
    const timeZone = window.timeZone ?? 'UTC';
    known = {
      cron: parseWindowSchedule(window.schedule, timeZone),
      durationMs: parseDuration(window.duration),
      timeZone,
    };
    compiled.set(window, known);
  }
  return known;
}

/** The most recent opening at or before `at` (an opening exactly at `at` counts). */
function lastOpening(window: CompiledWindow, at: number): number | undefined {
  return window.cron.previousRuns(1, new Date(at + 1))[0]?.getTime();
}

function closesAt(window: CompiledWindow, at: number): number | undefined {
  const opened = lastOpening(window, at);
  return opened !== undefined && at < opened + window.durationMs ? opened + window.durationMs : undefined;
}

function windowsOpenAt(windows: CompiledWindow[], at: number): boolean {
  return windows.length === 0 || windows.some((w) => closesAt(w, at) !== undefined);
}

/** When the open/closed answer of a set of windows changes after `at`; undefined for an empty set. */
function nextWindowChange(windows: CompiledWindow[], at: number): number | undefined {
  if (windows.length === 0) return undefined;
  const closes = windows.map((w) => closesAt(w, at)).filter((t): t is number => t !== undefined);
  if (closes.length > 0) return Math.max(...closes);
  return earliest(windows.map((w) => w.cron.nextRun(new Date(at))?.getTime()));
}

function nextChange(
  fromMs: number,
  allowedNow: boolean,
  allowedAt: (t: number) => boolean,
  candidateAfter: (t: number) => number | undefined,
): Date | undefined {
  let at = fromMs;
  for (let link = 0; link < MAX_LINKS; link++) {
    const candidate = candidateAfter(at);
    if (candidate === undefined || candidate <= at) return undefined;
    if (allowedAt(candidate) !== allowedNow) return new Date(candidate);
    at = candidate;
  }
  return undefined;
}

export function activeFreezes(freezes: readonly FreezeObservation[], at: number): FreezeObservation[] {
  return freezes.filter((f) => {
    const start = instant(f.start);
    const end = instant(f.end);
    return (start === undefined || start <= at) && (end === undefined || at < end);
  });
}

function freezeBoundariesAfter(freezes: readonly FreezeObservation[], at: number): (number | undefined)[] {
  return freezes.flatMap((f) => [instant(f.start), instant(f.end)]).filter((t) => t !== undefined && t > at);
}

/** An unreadable time counts as unset: a freeze someone meant to declare holds rather than lapses. */
function instant(rfc3339: string | undefined): number | undefined {
  if (rfc3339 === undefined) return undefined;
  const ms = Date.parse(rfc3339);
  return Number.isFinite(ms) ? ms : undefined;
}

/** When all of these freezes are over; undefined when one of them holds until it is deleted. */
function latestEnd(freezes: readonly FreezeObservation[]): number | undefined {
  const ends = freezes.map((f) => instant(f.end));
  return ends.some((t) => t === undefined) ? undefined : Math.max(...(ends as number[]));
}

function earliest(times: (number | undefined)[]): number | undefined {
  const known = times.filter((t): t is number => t !== undefined);
  return known.length > 0 ? Math.min(...known) : undefined;
}

/** `2026-03-30 09:00 Europe/Berlin (2026-03-30T07:00:00Z)`, in the zone of the first window (else UTC). */
function describeNext(at: Date | undefined, windows: CompiledWindow[]): string {
  if (!at) return 'none scheduled';
  return formatInstant(at, windows[0]?.timeZone ?? 'UTC');
}

export function formatInstant(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const local = `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}`;
  return `${local} ${timeZone} (${at.toISOString().replace('.000Z', 'Z')})`;
}
