import { describe, expect, it } from 'vitest';
import { renderExplanation } from '../src/cli/explain.ts';
import { renderCanary, weightBar } from '../src/cli/get/render-canary.ts';
import { renderTable } from '../src/cli/get/render-table.ts';
import { PLAIN, styleFor } from '../src/cli/get/style.ts';
import {
  canaryRow,
  explainCanary,
  type KubeEventLike,
  viewCanary,
  weightSchedule,
} from '../src/view/index.ts';
import { readCanary } from '../src/view/read.ts';

const NOW = new Date('2026-03-28T12:00:00Z'); // a Saturday
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes is the point
const ESCAPE = /\u001b/;

function canary(status: Record<string, unknown>, spec: Record<string, unknown> = {}, annotations = {}) {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'demo', annotations },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: {
        interval: '1m',
        threshold: 3,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [
          { name: 'request-success-rate', thresholdRange: { min: 99 } },
          { name: 'request-duration', thresholdRange: { max: 500 } },
        ],
      },
      ...spec,
    },
    status,
  };
}

const progressing = {
  phase: 'Progressing',
  canaryWeight: 30,
  failedChecks: 1,
  lastAppliedSpec: 'b'.repeat(64),
  lastPromotedSpec: 'a'.repeat(64),
  lastTransitionTime: '2026-03-28T11:58:00Z',
  lastStepTime: '2026-03-28T11:59:40Z',
  conditions: [
    { type: 'Promoted', status: 'Unknown', reason: 'Progressing', message: 'advance canary weight 20 -> 30' },
  ],
  history: [
    {
      time: '2026-03-28T11:58:40Z',
      weight: 10,
      metric: 'request-success-rate',
      value: 99.9,
      verdict: 'pass',
      reason: 'ok',
    },
    {
      time: '2026-03-28T11:58:40Z',
      weight: 10,
      metric: 'request-duration',
      value: 120,
      verdict: 'pass',
      reason: 'ok',
    },
    {
      time: '2026-03-28T11:59:40Z',
      weight: 20,
      metric: 'request-success-rate',
      value: 99.50000001,
      verdict: 'pass',
      reason: 'ok',
    },
    {
      time: '2026-03-28T11:59:40Z',
      weight: 20,
      metric: 'request-duration',
      value: 612,
      verdict: 'fail',
      reason: 'request-duration 612ms > max 500ms',
    },
  ],
};

const events: KubeEventLike[] = [
  {
    type: 'Normal',
    reason: 'NewRevision',
    message: 'new revision',
    lastTimestamp: '2026-03-28T11:58:00Z',
    count: 1,
  },
  {
    type: 'Warning',
    reason: 'CheckFailed',
    message: 'halt advancement',
    lastTimestamp: '2026-03-28T11:59:40Z',
    count: 2,
    involvedObject: { kind: 'Canary', name: 'podinfo', namespace: 'demo' },
  },
];

describe('the view of one rollout', () => {
  it('walks the schedule the state machine walks', () => {
    const { canary: c } = readCanary(canary(progressing));
    expect(weightSchedule(c)).toEqual([10, 20, 30, 40, 50]);
    const { canary: explicit } = readCanary(
      canary({}, { analysis: { stepWeights: [5, 25, 60], metrics: [] } }),
    );
    expect(weightSchedule(explicit)).toEqual([5, 25, 60]);
  });

  it('shows weight, step n of N, countdown, checks failed first with thresholds, revisions and events', () => {
    const view = viewCanary(canary(progressing), events, { now: NOW });
    expect(view).toMatchObject({
      phase: 'Progressing',
      weight: 30,
      maxWeight: 50,
      step: { mode: 'weights', current: 3, total: 5 },
      failedChecks: 1,
      threshold: 3,
      nextStepInMs: 40_000,
      holds: [],
      revisions: { target: 'b'.repeat(64), primary: 'a'.repeat(64) },
      checkedAt: '2026-03-28T11:59:40Z',
      // The latest of the Promoted condition and the events: the CheckFailed event.
      message: 'halt advancement',
    });
    expect(view.checks.map((c) => [c.metric, c.verdict, c.value, c.threshold])).toEqual([
      ['request-duration', 'fail', 612, '<= 500'],
      ['request-success-rate', 'pass', 99.50000001, '>= 99'],
    ]);
    expect(view.events.map((e) => e.reason)).toEqual(['NewRevision', 'CheckFailed']);
    const lines = renderCanary(view, PLAIN, NOW).join('\n');
    expect(lines).toContain(`Weight      ${weightBar(30)}  30%  step 3 of 5 (10, 20, 30, 40, 50)`);
    expect(lines).toContain('Next step   in 40s');
    expect(lines).toMatch(/FAIL {2}request-duration\s+612 {2}threshold <= 500/);
    expect(lines).toMatch(/pass {2}request-success-rate\s+99.5 {2}threshold >= 99/);
    expect(lines).toContain('target bbbbbbbbbbbb  primary aaaaaaaaaaaa');
    expect(lines).toContain('(x2)');
    expect(lines).not.toMatch(ESCAPE);
  });

  it('names what holds a paused canary, and the table does not call it just Progressing', () => {
    const paused = {
      ...progressing,
      conditions: [
        ...progressing.conditions,
        {
          type: 'Paused',
          status: 'True',
          reason: 'Paused',
          message: 'paused by bob: nothing moves until petrel resume',
        },
      ],
    };
    const view = viewCanary(canary(paused), [], { now: NOW });
    expect(view.holds).toEqual([
      { kind: 'paused', message: 'paused by bob: nothing moves until petrel resume' },
    ]);
    expect(view.nextStepInMs).toBeUndefined();
    expect(canaryRow(canary(paused), { now: NOW })).toMatchObject({
      phase: 'Progressing (paused)',
      note: 'paused by bob: nothing moves until petrel resume',
      step: '3/5',
      failedChecks: '1/3',
    });
    expect(explainCanary(canary(paused), [], { now: NOW }).next).toEqual([
      'Nothing moves until petrel resume podinfo -n demo.',
    ]);
  });

  it('shows the next release window opening when a window holds the canary (#19)', () => {
    const windows = {
      releaseWindows: { windows: [{ schedule: '0 9 * * 1-5', duration: '8h', timeZone: 'Europe/Berlin' }] },
    };
    const held = {
      ...progressing,
      phase: 'Waiting',
      conditions: [
        ...progressing.conditions,
        {
          type: 'Held',
          status: 'True',
          reason: 'OutsideReleaseWindow',
          message:
            'outside every release window that allows a rollout to advance: next opening 2026-03-30 09:00',
        },
      ],
    };
    const view = viewCanary(canary(held, windows), [], { now: NOW });
    expect(view.window).toEqual({
      mayStart: false,
      mayAdvance: false,
      nextChangeAt: '2026-03-30T07:00:00.000Z',
      nextChange: '2026-03-30 09:00 Europe/Berlin (2026-03-30T07:00:00Z)',
      reason: expect.stringContaining('outside every release window'),
    });
    expect(view.holds[0]?.kind).toBe('window');
    expect(renderCanary(view, PLAIN, NOW).join('\n')).toContain(
      'Window      closed; next opening 2026-03-30 09:00 Europe/Berlin (2026-03-30T07:00:00Z)',
    );
    const explained = explainCanary(canary(held, windows), [], { now: NOW });
    expect(explained.next).toEqual([
      'The rollout resumes at 2026-03-30 09:00 Europe/Berlin (2026-03-30T07:00:00Z), when the next release window opens.',
    ]);
  });

  it('shows when a freeze ends for a canary it holds', () => {
    const frozen = {
      phase: 'Waiting',
      canaryWeight: 0,
      lastAppliedSpec: 'a',
      lastPromotedSpec: 'a',
      conditions: [
        {
          type: 'Held',
          status: 'True',
          reason: 'ReleaseFrozen',
          message: 'new rollouts are frozen by ReleaseFreeze year-end',
        },
      ],
    };
    const freezes = [{ name: 'year-end', end: '2026-03-29T00:00:00Z' }];
    const view = viewCanary(canary(frozen), [], { now: NOW, freezes });
    expect(view.holds).toEqual([
      { kind: 'freeze', message: 'new rollouts are frozen by ReleaseFreeze year-end' },
    ]);
    expect(view.window).toMatchObject({
      mayStart: false,
      mayAdvance: true,
      nextChangeAt: '2026-03-29T00:00:00.000Z',
    });
    // The status still names the promoted revision as the last applied: the waiting one is not rolled out yet.
    expect(view.revisions).toEqual({ target: 'a', primary: 'a', newRevisionWaiting: true });
    expect(renderCanary(view, PLAIN, NOW).join('\n')).toContain(
      'target a new revision (waiting to start)  primary a\n',
    );
    expect(explainCanary(canary(frozen), [], { now: NOW, freezes }).next[0]).toBe(
      'The rollout starts at 2026-03-29 00:00 UTC (2026-03-29T00:00:00Z), when the freeze ends.',
    );
  });

  it('explains a rollback with the evidence of the last analysis, failed first, and offers retry', () => {
    const failed = {
      ...progressing,
      phase: 'Failed',
      canaryWeight: 0,
      failedChecks: 3,
      conditions: [
        {
          type: 'Promoted',
          status: 'False',
          reason: 'Failed',
          message: 'canary failed 3 check(s), the threshold: rolling back',
        },
      ],
    };
    const explanation = explainCanary(canary(failed), events, { now: NOW });
    expect(explanation.evidence).toMatchObject({ time: '2026-03-28T11:59:40Z', weight: 20 });
    expect(explanation.evidence?.checks.map((c) => c.metric)).toEqual([
      'request-duration',
      'request-success-rate',
    ]);
    expect(explanation.why[0]).toBe('Canary demo/podinfo is Failed since 2026-03-28T11:58:00Z (2m00s ago).');
    expect(explanation.next.at(-1)).toBe(
      `petrel retry podinfo -n demo starts the rollout of revision ${'b'.repeat(64)} again from weight 0.`,
    );
    const text = renderExplanation(explanation, PLAIN);
    expect(text).toContain(
      'Evidence of the last analysis (2026-03-28T11:59:40Z, canary at 20%): 1 of 2 check(s) failed',
    );
    expect(text).toContain('request-duration 612ms > max 500ms');
  });

  it('says what the next step does: the threshold reached rolls back, the top promotes', () => {
    const atTop = { ...progressing, canaryWeight: 50, failedChecks: 2 };
    const [sentence] = explainCanary(canary(atTop), [], { now: NOW }).next;
    expect(sentence).toBe(
      'In 40s the checks (request-duration, request-success-rate) run: if every check passes, the canary is promoted; if a check fails, that is 3 of 3: the canary is rolled back.',
    );
    const [middle] = explainCanary(canary(progressing), [], { now: NOW }).next;
    expect(middle).toContain('the weight goes from 30% to 40%');
    expect(middle).toContain('failed checks become 2 of 3 and the canary stays where it is');
  });

  it('still shows a canary whose spec is invalid, with its problems', () => {
    const broken = canary({ phase: 'Initialized' }, { analysis: { stepWeight: 500 } });
    const view = viewCanary(broken, [], { now: NOW });
    expect(view.holds[0]).toMatchObject({
      kind: 'invalid',
      message: expect.stringContaining('spec.analysis.stepWeight'),
    });
    expect(explainCanary(broken, [], { now: NOW }).next[0]).toContain(
      'Nothing moves until the spec is fixed',
    );
  });

  it('draws a table kubectl style, colours only where asked', () => {
    const rows = [canaryRow(canary(progressing), { now: NOW })];
    const table = renderTable(rows, PLAIN, { allNamespaces: true, now: NOW });
    expect(table[0]).toMatch(/^NAMESPACE\s+NAME\s+PHASE\s+WEIGHT\s+STEP\s+FAILED\s+AGE\s+NOTE$/);
    expect(table[1]).toMatch(/^demo\s+podinfo\s+Progressing\s+30%\s+3\/5\s+1\/3\s+2m00s$/);
    expect(styleFor({ isTTY: true }, {}).bad('x')).toMatch(ESCAPE);
    expect(styleFor({ isTTY: false }, {}).bad('x')).toBe('x');
    expect(styleFor({ isTTY: true }, { NO_COLOR: '1' }).bad('x')).toBe('x');
    expect(styleFor({ isTTY: false }, { FORCE_COLOR: '1' }).bad('x')).toMatch(ESCAPE);
  });
});

describe('the shape of src/view', () => {
  it('stays pure: it imports only api/ and rollout/ (and no Node or npm module), so any front end can use it', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('../src/view/', import.meta.url);
    const imports = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) =>
        [...readFileSync(new URL(f, dir), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]),
      );
    expect(imports.filter((i) => !/^\.\/|^\.\.\/(api|rollout)\//.test(i ?? ''))).toEqual([]);
  });
});
