import { Cron } from 'croner';
import { z } from 'zod';
import { durationSchema } from './common.ts';
import { describeValue } from './issues.ts';

/** What a window allows: starting a rollout of a new revision, advancing one step, or both. */
export const RELEASE_WINDOW_SCOPES = ['Start', 'Advance'] as const;
export type ReleaseWindowScope = (typeof RELEASE_WINDOW_SCOPES)[number];

/** What a rollout in flight does while no Advance window is open. */
export const OUTSIDE_WINDOW_ACTIONS = ['Hold', 'Rollback'] as const;
export type OutsideWindowAction = (typeof OUTSIDE_WINDOW_ACTIONS)[number];

export const RELEASE_WINDOW_DEFAULTS = { timeZone: 'UTC', outside: 'Hold' } as const;

/**
 * Standard five-field cron (minute hour day-of-month month day-of-week), as Kubernetes CronJobs
 * write it; croner reads it, including names (MON-FRI) and nicknames (@daily).
 */
export function parseWindowSchedule(schedule: string, timeZone?: string): Cron {
  return new Cron(schedule, { mode: '5-part', ...(timeZone ? { timezone: timeZone } : {}) });
}

/** True when the runtime's time-zone database knows `name` (an IANA name such as Europe/Berlin). */
export function isKnownTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const scheduleSchema = z
  .string()
  .min(1)
  .check((ctx) => {
    try {
      parseWindowSchedule(ctx.value);
    } catch (error) {
      const detail = (error as Error).message.replace(/^CronPattern: /, '');
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `must be a five-field cron expression such as "0 9 * * 1-5" (got ${describeValue(ctx.value)}): ${detail}`,
      });
    }
  });

const timeZoneSchema = z
  .string()
  .min(1)
  .check((ctx) => {
    if (!isKnownTimeZone(ctx.value)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `must be an IANA time zone such as Europe/Berlin or UTC (got ${describeValue(ctx.value)})`,
      });
    }
  });

export const releaseWindowSchema = z
  .strictObject({
    schedule: scheduleSchema.describe(
      'When the window opens: a five-field cron expression (minute hour day month weekday), e.g. "0 9 * * 1-5".',
    ),
    duration: durationSchema(60_000).describe('How long the window stays open after each opening, e.g. 8h.'),
    timeZone: timeZoneSchema
      .describe('IANA time zone the schedule is read in, e.g. Europe/Berlin (default UTC).')
      .default(RELEASE_WINDOW_DEFAULTS.timeZone),
    appliesTo: z
      .array(z.enum(RELEASE_WINDOW_SCOPES))
      .min(1)
      .describe(
        'What the window allows: Start (a new revision may begin its rollout), Advance (a step may be taken), or both (default).',
      )
      .default([...RELEASE_WINDOW_SCOPES]),
  })
  .check((ctx) => {
    const { schedule, timeZone } = ctx.value;
    if (!isKnownTimeZone(timeZone)) return;
    let opens: Date | null = null;
    try {
      opens = parseWindowSchedule(schedule, timeZone).nextRun(new Date(Date.UTC(2000, 0, 1)));
    } catch {
      return; // reported on the schedule field
    }
    if (opens === null) {
      ctx.issues.push({
        code: 'custom',
        input: schedule,
        path: ['schedule'],
        message: `never matches a date (got ${describeValue(schedule)}): the window would never open`,
      });
    }
  });

export const releaseWindowsSchema = z.strictObject({
  windows: z
    .array(releaseWindowSchema)
    .min(1)
    .describe(
      'Allowed windows. A rollout may start (or advance) while any window that appliesTo Start (or Advance) is open; with no window for a scope, that scope is always allowed.',
    ),
  outside: z
    .enum(OUTSIDE_WINDOW_ACTIONS)
    .describe(
      'What a rollout in flight does while no Advance window is open: Hold keeps its weight, Rollback routes all traffic back to the primary and restarts from zero when a window opens (default Hold).',
    )
    .default(RELEASE_WINDOW_DEFAULTS.outside),
});

export type ReleaseWindow = z.output<typeof releaseWindowSchema>;
export type ReleaseWindowInput = z.input<typeof releaseWindowSchema>;
export type ReleaseWindows = z.output<typeof releaseWindowsSchema>;
export type ReleaseWindowsInput = z.input<typeof releaseWindowsSchema>;
