import { describe, expect, it } from 'vitest';
import type { ReleaseWindows } from '../src/api/release-windows.ts';
import {
  advanceAnswer,
  evaluateReleaseWindows,
  type FreezeObservation,
  formatInstant,
  startAnswer,
} from '../src/rollout/windows.ts';

const at = (iso: string) => new Date(iso);
const iso = (d: Date | undefined) => d?.toISOString();

const officeHours: ReleaseWindows = {
  windows: [
    { schedule: '0 9 * * 1-5', duration: '8h', timeZone: 'Europe/Berlin', appliesTo: ['Start', 'Advance'] },
  ],
  outside: 'Hold',
};

describe('release windows: weekdays 9-17 Europe/Berlin', () => {
  it.each([
    // [now (UTC), open?, next change (UTC)]
    ['2026-03-27T07:59:59Z', false, '2026-03-27T08:00:00.000Z'], // Friday 08:59:59 CET
    ['2026-03-27T08:00:00Z', true, '2026-03-27T16:00:00.000Z'], // Friday 09:00 CET: an opening counts as open
    ['2026-03-27T15:59:59Z', true, '2026-03-27T16:00:00.000Z'],
    ['2026-03-27T16:00:00Z', false, '2026-03-30T07:00:00.000Z'], // closes at 17:00 CET; Monday is CEST
    ['2026-03-28T12:00:00Z', false, '2026-03-30T07:00:00.000Z'], // Saturday
    ['2026-03-30T07:00:00Z', true, '2026-03-30T15:00:00.000Z'], // Monday 09:00-17:00 CEST
  ])('at %s open=%s, next change %s', (now, open, next) => {
    const answer = evaluateReleaseWindows(officeHours, [], at(now));
    expect(answer.mayStart).toBe(open);
    expect(answer.mayAdvance).toBe(open);
    expect(iso(answer.nextChangeAt)).toBe(next);
  });

  it('names the next opening in the window time zone', () => {
    const answer = advanceAnswer(officeHours, at('2026-03-28T12:00:00Z'));
    expect(answer).toEqual({
      allowed: false,
      code: 'OutsideReleaseWindow',
      reason:
        'outside every release window that allows a rollout to advance: next opening 2026-03-30 09:00 Europe/Berlin (2026-03-30T07:00:00Z)',
      nextChangeAt: at('2026-03-30T07:00:00Z'),
    });
  });

  it('no windows: always allowed, nothing to wake for', () => {
    expect(evaluateReleaseWindows(undefined, [], at('2026-03-28T03:00:00Z'))).toEqual({
      mayStart: true,
      mayAdvance: true,
      reason: '',
    });
  });

  it('scopes: a Start-only window leaves advancing free at any time', () => {
    const spec: ReleaseWindows = {
      windows: [{ schedule: '0 10 * * 2-4', duration: '2h', timeZone: 'UTC', appliesTo: ['Start'] }],
      outside: 'Hold',
    };
    const answer = evaluateReleaseWindows(spec, [], at('2026-03-28T12:00:00Z'));
    expect(answer.mayStart).toBe(false);
    expect(answer.mayAdvance).toBe(true);
    expect(iso(answer.nextChangeAt)).toBe('2026-03-31T10:00:00.000Z');
  });

  it('back-to-back windows count as one: the change is at the end of the chain', () => {
    const spec: ReleaseWindows = {
      windows: [
        { schedule: '0 8 * * *', duration: '4h', timeZone: 'UTC', appliesTo: ['Start', 'Advance'] },
        { schedule: '0 12 * * *', duration: '2h', timeZone: 'UTC', appliesTo: ['Start', 'Advance'] },
      ],
      outside: 'Hold',
    };
    expect(iso(advanceAnswer(spec, at('2026-05-05T09:00:00Z')).nextChangeAt)).toBe(
      '2026-05-05T14:00:00.000Z',
    );
  });
});

describe('release windows across daylight-saving changes (Europe/Berlin)', () => {
  const nightly = (schedule: string, duration: string): ReleaseWindows => ({
    windows: [{ schedule, duration, timeZone: 'Europe/Berlin', appliesTo: ['Start', 'Advance'] }],
    outside: 'Hold',
  });

  it('2026-03-29: a window opening at 02:30, a time that does not exist that day, opens at 03:00 CEST', () => {
    const spec = nightly('30 2 * * *', '1h');
    // The day before: 02:30 CET = 01:30Z.
    expect(iso(advanceAnswer(spec, at('2026-03-28T00:00:00Z')).nextChangeAt)).toBe(
      '2026-03-28T01:30:00.000Z',
    );
    // On the day: the clocks jump from 02:00 to 03:00, the window opens at 03:00 CEST = 01:00Z, for one hour.
    const before = advanceAnswer(spec, at('2026-03-29T00:59:00Z'));
    expect(before.allowed).toBe(false);
    expect(iso(before.nextChangeAt)).toBe('2026-03-29T01:00:00.000Z');
    const inside = advanceAnswer(spec, at('2026-03-29T01:30:00Z'));
    expect(inside.allowed).toBe(true);
    expect(iso(inside.nextChangeAt)).toBe('2026-03-29T02:00:00.000Z');
    // The day after: 02:30 CEST = 00:30Z.
    expect(iso(advanceAnswer(spec, at('2026-03-29T02:00:00Z')).nextChangeAt)).toBe(
      '2026-03-30T00:30:00.000Z',
    );
  });

  it('2026-10-25: a window opening at 02:30, a time that happens twice, opens once (the first time)', () => {
    const spec = nightly('30 2 * * *', '1h');
    const first = advanceAnswer(spec, at('2026-10-25T00:30:00Z')); // 02:30 CEST
    expect(first.allowed).toBe(true);
    expect(iso(first.nextChangeAt)).toBe('2026-10-25T01:30:00.000Z'); // one elapsed hour: 02:30 CET
    const second = advanceAnswer(spec, at('2026-10-25T01:45:00Z')); // 02:45 CET, the second 02:45
    expect(second.allowed).toBe(false);
    expect(iso(second.nextChangeAt)).toBe('2026-10-26T01:30:00.000Z');
    expect(second.reason).toContain('next opening 2026-10-26 02:30 Europe/Berlin (2026-10-26T01:30:00Z)');
  });

  it('office hours stay 09:00-17:00 local on both sides of each change', () => {
    expect(iso(advanceAnswer(officeHours, at('2026-10-23T12:00:00Z')).nextChangeAt)).toBe(
      '2026-10-23T15:00:00.000Z', // Friday 17:00 CEST
    );
    expect(iso(advanceAnswer(officeHours, at('2026-10-24T12:00:00Z')).nextChangeAt)).toBe(
      '2026-10-26T08:00:00.000Z', // Monday 09:00 CET
    );
  });

  it('a duration is elapsed time: 24h from midnight on the short day ends at 01:00 the next day', () => {
    const spec = nightly('0 0 29 3 *', '24h');
    const answer = advanceAnswer(spec, at('2026-03-29T12:00:00Z'));
    expect(answer.allowed).toBe(true);
    expect(iso(answer.nextChangeAt)).toBe('2026-03-29T23:00:00.000Z'); // 2026-03-30 01:00 CEST
  });
});

describe('freezes', () => {
  const yearEnd: FreezeObservation = {
    name: 'year-end',
    reason: 'year-end change freeze',
    start: '2026-12-20T00:00:00+01:00',
    end: '2027-01-03T00:00:00+01:00',
  };

  it('block starting between start and end (end exclusive), never advancing', () => {
    const before = startAnswer(undefined, [yearEnd], at('2026-12-19T22:59:59Z'));
    expect(before).toEqual({ allowed: true, code: '', reason: '', nextChangeAt: at('2026-12-19T23:00:00Z') });
    const during = evaluateReleaseWindows(undefined, [yearEnd], at('2026-12-24T12:00:00Z'));
    expect(during.mayStart).toBe(false);
    expect(during.mayAdvance).toBe(true);
    expect(iso(during.nextChangeAt)).toBe('2027-01-02T23:00:00.000Z');
    expect(during.reason).toBe(
      'new rollouts are frozen by ReleaseFreeze year-end (year-end change freeze): the rollout may start at 2027-01-02 23:00 UTC (2027-01-02T23:00:00Z)',
    );
    expect(startAnswer(undefined, [yearEnd], at('2027-01-02T23:00:00Z')).allowed).toBe(true);
  });

  it('a freeze without times holds while it exists: no time to wake at', () => {
    const answer = startAnswer(undefined, [{ name: 'incident-42' }], at('2026-05-05T09:00:00Z'));
    expect(answer).toEqual({
      allowed: false,
      code: 'ReleaseFrozen',
      reason:
        'new rollouts are frozen by ReleaseFreeze incident-42: the rollout starts when the freeze is deleted',
    });
  });

  it('a freeze ending while the windows are closed: the rollout may start at the next opening', () => {
    const freeze: FreezeObservation = { name: 'weekend', end: '2026-03-28T18:00:00Z' };
    const answer = startAnswer(officeHours, [freeze], at('2026-03-27T12:00:00Z'));
    expect(answer.code).toBe('ReleaseFrozen');
    expect(iso(answer.nextChangeAt)).toBe('2026-03-30T07:00:00.000Z');
    expect(answer.reason).toContain('the rollout may start at 2026-03-30 09:00 Europe/Berlin');
  });

  it('an unreadable time counts as unset: the freeze holds', () => {
    expect(startAnswer(undefined, [{ name: 'typo', end: 'soon' }], at('2026-05-05T09:00:00Z')).allowed).toBe(
      false,
    );
  });
});

describe('formatInstant', () => {
  it('writes the local time in the zone and the UTC instant', () => {
    expect(formatInstant(at('2026-03-30T07:00:00Z'), 'Europe/Berlin')).toBe(
      '2026-03-30 09:00 Europe/Berlin (2026-03-30T07:00:00Z)',
    );
  });
});
