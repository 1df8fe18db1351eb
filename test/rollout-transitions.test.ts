import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Canary } from '../src/api/canary.ts';
import {
  ANY_LIVE_PHASE,
  DECISION_TABLE,
  decide,
  GATE_TYPES,
  isDeclaredTransition,
  MANUAL_ACTIONS,
  type Observations,
  PHASES,
  type Phase,
  pairsOf,
  planObservations,
  START,
  TRANSITIONS,
  type Transition,
} from '../src/rollout/index.ts';

// The phase changes `decide` makes are exactly those TRANSITIONS declares, and src/rollout/README.md draws
// exactly TRANSITIONS.

const T0 = Date.parse('2026-01-01T00:00:00Z');
const README = new URL('../src/rollout/README.md', import.meta.url);
const BEGIN = '<!-- BEGIN TRANSITIONS';
const END = '<!-- END TRANSITIONS -->';

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const revision = fc.constantFrom('r0', 'r1', 'r2');
const time = fc.integer({ min: -700_000, max: 100_000 }).map((ms) => new Date(T0 + ms).toISOString());
const ROLLOUT: Phase[] = ['Waiting', 'Progressing', 'WaitingPromotion', 'Promoting', 'Finalising'];

const spec = fc.record({
  suspend: fc.oneof(
    { weight: 9, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  skipAnalysis: fc.oneof(
    { weight: 5, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  progressDeadlineSeconds: fc.integer({ min: 1, max: 600 }),
  analysis: fc.record({
    interval: fc.constantFrom('10s', '1m'),
    threshold: fc.integer({ min: 1, max: 3 }),
    metrics: fc.constantFrom([], [{ name: 'request-success-rate', thresholdRange: { min: 99 } }]),
    webhooks: fc
      .subarray([...GATE_TYPES, 'rollout' as const])
      .map((types) => types.map((type) => ({ name: type, type, url: 'http://hooks.test/' }))),
    schedule: fc.oneof(
      fc.record({ stepWeight: fc.integer({ min: 1, max: 60 }), maxWeight: fc.integer({ min: 1, max: 100 }) }),
      fc.record({
        stepWeights: fc
          .uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 4 })
          .map((w) => [...w].sort((a, b) => a - b)),
      }),
      fc.record({ iterations: fc.integer({ min: 1, max: 3 }) }),
    ),
  }),
});

const status = fc.record(
  {
    phase: fc.constantFrom(...PHASES),
    canaryWeight: fc.integer({ min: 0, max: 100 }),
    failedChecks: fc.integer({ min: 0, max: 3 }),
    iterations: fc.integer({ min: 0, max: 3 }),
    lastAppliedSpec: revision,
    lastPromotedSpec: revision,
    lastTransitionTime: time,
    lastStepTime: time,
  },
  { requiredKeys: [] },
);

const workload = fc.record({ revision, replicas: fc.integer({ min: 0, max: 3 }), ready: fc.boolean() });
const observations = fc.record({
  target: workload,
  primary: opt(workload),
  routes: opt(fc.constantFrom({ primary: 100, canary: 0 }, { primary: 70, canary: 30 })),
  checks: opt(
    fc.array(fc.record({ metric: fc.constant('m'), passed: fc.boolean(), reason: fc.constant('r') })),
  ),
  webhooks: opt(
    fc.dictionary(
      fc.constantFrom(...GATE_TYPES),
      fc.record({ pending: fc.boolean(), open: fc.boolean(), detail: fc.constant('answer') }),
    ),
  ),
  manual: opt(fc.record({ action: fc.constantFrom(...MANUAL_ACTIONS), by: fc.constant('bob') })),
});

/** Any state at all, and states biased towards a rollout in flight (where most transitions are). */
const tick = fc
  .tuple(spec, opt(status), observations, fc.boolean(), fc.constantFrom(...ROLLOUT))
  .map(([s, st, obs, inFlight, phase]) => {
    const { schedule, ...analysis } = s.analysis;
    let current: Canary['status'] = st;
    const o = { ...obs } as Observations;
    if (inFlight) {
      current = { ...st, phase, lastAppliedSpec: o.target.revision };
      o.primary ??= { revision: 'r0', replicas: 1, ready: true };
      o.target = { ...o.target, replicas: Math.max(1, o.target.replicas), ready: true };
      delete o.manual;
      o.webhooks = Object.fromEntries(
        Object.entries(o.webhooks ?? {}).map(([k, g]) => [k, { ...g, pending: false }]),
      );
    }
    // A valid Canary as written, without the schema's defaults (decide applies the same ones): parsing
    // every run would make the test many times slower.
    const canary = {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'test', generation: 1 },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        service: { port: 9898 },
        suspend: s.suspend && !inFlight,
        skipAnalysis: s.skipAnalysis,
        progressDeadlineSeconds: s.progressDeadlineSeconds,
        analysis: { ...analysis, ...schedule },
        revertOnDeletion: false,
        provider: 'istio',
      },
      ...(current ? { status: current } : {}),
    } as unknown as Canary;
    return { canary, obs: o };
  });

const key = (from: Phase | typeof START, to: Phase) => `${from} -> ${to}`;

describe('the transitions decide makes', () => {
  it('every phase has a row in the decision table', () => {
    expect(Object.keys(DECISION_TABLE).sort()).toEqual([...PHASES].sort());
  });

  it('are exactly those TRANSITIONS declares, over random states', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(tick, fc.integer({ min: 0, max: 100_000 }), ({ canary, obs }, dt) => {
        const from = canary.status?.phase;
        const to = decide(canary, obs, new Date(T0 + dt)).status.phase;
        if (!isDeclaredTransition(from, to))
          throw new Error(`undeclared transition ${from ?? START} -> ${to}`);
        if (to) seen.add(key(from ?? START, to));
      }),
      { numRuns: 15_000, seed: 12 },
    );
    const declared = TRANSITIONS.flatMap(pairsOf).map(([from, to]) => key(from, to));
    expect(declared.filter((pair) => !seen.has(pair))).toEqual([]);
  });

  it('stay declared over random histories of one canary, gates and manual actions included', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
      fc.record({ kind: fc.constant('revision' as const), revision }),
      fc.record({ kind: fc.constant('checks' as const), pass: fc.boolean() }),
      fc.record({
        kind: fc.constant('gate' as const),
        type: fc.constantFrom(...GATE_TYPES),
        open: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('manual' as const), action: opt(fc.constantFrom(...MANUAL_ACTIONS)) }),
      fc.record({ kind: fc.constant('ready' as const), target: fc.boolean(), primary: fc.boolean() }),
    );
    fc.assert(
      fc.property(tick, fc.array(event, { maxLength: 60 }), ({ canary: start }, events) => {
        let canary: Canary = { ...start, status: {} };
        const obs: Observations = { target: { revision: 'r0', replicas: 1, ready: true } };
        let now = T0;
        for (const e of events) {
          if (e.kind === 'wait') now += e.ms;
          if (e.kind === 'revision') obs.target = { ...obs.target, revision: e.revision, ready: false };
          if (e.kind === 'gate')
            obs.webhooks = { ...obs.webhooks, [e.type]: { pending: false, open: e.open, detail: 'd' } };
          if (e.kind === 'manual') obs.manual = e.action ? { action: e.action, by: 'bob' } : undefined;
          if (e.kind === 'ready') {
            obs.target = { ...obs.target, ready: e.target };
            if (obs.primary) obs.primary = { ...obs.primary, ready: e.primary };
          }
          const tickObs: Observations = { ...obs };
          if (e.kind === 'checks' && planObservations(canary, new Date(now)).checks) {
            tickObs.checks = [{ metric: 'm', passed: e.pass, reason: 'r' }];
          }
          const d = decide(canary, tickObs, new Date(now));
          const from = canary.status?.phase;
          if (!isDeclaredTransition(from, d.status.phase)) {
            throw new Error(`undeclared transition ${from ?? START} -> ${d.status.phase} (${d.reason.code})`);
          }
          for (const a of d.actions) {
            if (a.type === 'ensurePrimary')
              obs.primary ??= { revision: obs.target.revision, replicas: 1, ready: false };
            if (a.type === 'promotePrimary' && obs.primary)
              obs.primary = { ...obs.primary, revision: obs.target.revision };
            if (a.type === 'scaleTarget') obs.target = { ...obs.target, replicas: a.replicas };
            if (a.type === 'setWeights') obs.routes = a.weights;
            if (a.type === 'clearManualAction') obs.manual = undefined;
          }
          canary = { ...canary, status: d.status };
        }
      }),
      { numRuns: 300, seed: 12 },
    );
  });
});

describe('src/rollout/README.md', () => {
  it('draws TRANSITIONS', () => {
    const text = readFileSync(README, 'utf8');
    const begin = text.indexOf(BEGIN);
    const end = text.indexOf(END);
    expect(begin, `${BEGIN} marker`).toBeGreaterThanOrEqual(0);
    expect(end, `${END} marker`).toBeGreaterThan(begin);
    const drawn = text.slice(text.indexOf('\n', begin) + 1, end);
    expect(drawn, 'README is out of date with src/rollout/transitions.ts: paste the expected text').toBe(
      renderTransitions(TRANSITIONS),
    );
  });
});

/** The README's block: a Mermaid state diagram and a table, both from TRANSITIONS. */
function renderTransitions(transitions: readonly Transition[]): string {
  const node = (from: string) => (from === ANY_LIVE_PHASE ? 'AnyLivePhase' : from);
  const fromsOf = (t: Transition) => (t.from === ANY_LIVE_PHASE ? [ANY_LIVE_PHASE] : t.from);
  const diagram = [
    '```mermaid',
    'stateDiagram-v2',
    `  state "${ANY_LIVE_PHASE}" as AnyLivePhase`,
    ...transitions.flatMap((t) => fromsOf(t).map((from) => `  ${node(from)} --> ${t.to}: ${t.when}`)),
    '```',
  ];
  const table = [
    '| From | To | When |',
    '| --- | --- | --- |',
    ...transitions.map((t) => `| ${fromsOf(t).join(', ')} | ${t.to} | ${t.when} |`),
  ];
  return `${[...diagram, '', ...table].join('\n')}\n`;
}
