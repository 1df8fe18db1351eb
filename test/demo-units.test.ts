import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DemoUsageError, parseDemoArgs } from '../dev/cli/demo.ts';
import { DEMO_APP, demoCanary, demoDeployment, releasePatch } from '../dev/demo/app.ts';
import type { DemoEvent } from '../dev/demo/events.ts';
import {
  CanaryEvents,
  CanaryProgress,
  failedChecksSince,
  outcomeReason,
  thresholdsOf,
} from '../dev/demo/observe.ts';
import { renderTerminal, weightBar } from '../dev/demo/render-terminal.ts';
import { createReporter, jsonLine } from '../dev/demo/reporter.ts';
import { SCENARIOS, scenarioReleases } from '../dev/demo/scenarios.ts';
import { DemoAbortedError, DemoTimeoutError, pollUntil, sleep, within } from '../dev/demo/wait.ts';
import { parseBehaviour } from '../dev/sandbox/traffic.ts';
import { canarySchema, validateCanary } from '../src/api/index.ts';

const plain = { color: false };

function collect(): { out: Writable; text: () => string } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { out, text: () => chunks.join('') };
}

describe('scenarios', () => {
  it('releases a healthy v2 then a v3 with errors by default, and one release per single scenario', () => {
    expect(scenarioReleases('default').map((r) => [r.name, r.kind, r.expect.phase])).toEqual([
      ['v2', 'healthy', 'Succeeded'],
      ['v3', 'errors', 'Failed'],
    ]);
    expect(scenarioReleases('all').map((r) => r.kind)).toEqual(['healthy', 'errors', 'latency']);
    expect(scenarioReleases('all').map((r) => r.name)).toEqual(['v2', 'v3', 'v4']);
    expect(scenarioReleases('latency')).toMatchObject([
      { name: 'v2', expect: { phase: 'Failed', failedMetric: 'request-duration' } },
    ]);
    expect(scenarioReleases('errors')[0]?.expect.failedMetric).toBe('request-success-rate');
    for (const name of SCENARIOS) {
      const images = scenarioReleases(name).map((r) => r.image);
      expect(new Set(images).size).toBe(images.length);
    }
  });

  it('gives every release behaviour the simulator accepts and that crosses the Canary thresholds as expected', () => {
    for (const release of scenarioReleases('all')) {
      const { behaviour, problems } = parseBehaviour(
        demoDeployment(release.image, release.behaviour).spec.template.metadata.annotations,
      );
      expect(problems).toEqual([]);
      expect(behaviour).toMatchObject(release.behaviour);
      const breaksSuccessRate = (1 - behaviour.errorRatio) * 100 < DEMO_APP.minSuccessRatePercent;
      const breaksLatency = behaviour.latencyP99Ms > DEMO_APP.maxRequestDurationMs;
      expect(breaksSuccessRate).toBe(release.expect.failedMetric === 'request-success-rate');
      expect(breaksLatency).toBe(release.expect.failedMetric === 'request-duration');
    }
  });

  it('builds a Canary that passes the schema with the short demo intervals', () => {
    const canary = canarySchema.parse(demoCanary());
    expect(canary.spec.analysis.interval).toBe('3s');
    expect(canary.spec.analysis.threshold).toBe(2);
    expect(canary.spec.analysis.metrics.map((m) => [m.name, m.thresholdRange])).toEqual([
      ['request-success-rate', { min: 99 }],
      ['request-duration', { max: 500 }],
    ]);
  });

  it('releases a version by patching the image and the behaviour annotations of the pod template', () => {
    const [v3] = scenarioReleases('errors');
    const patch = releasePatch(v3!.image, v3!.behaviour);
    expect(patch.spec.template.spec.containers[0]?.image).toBe(v3!.image);
    expect(patch.spec.template.metadata.annotations['sim.petrel.dev/error-ratio']).toBe('0.1');
  });
});

describe('CanaryProgress', () => {
  const check = (time: string, metric: string, verdict: 'pass' | 'fail', value: number, weight = 10) => ({
    time,
    metric,
    verdict,
    value,
    weight,
    reason: `${metric} ${value}`,
  });

  it('reports phase and weight changes once, and each new check once', () => {
    const progress = new CanaryProgress();
    expect(progress.observe(undefined, 'v2')).toEqual([]);
    expect(progress.observe({ phase: 'Progressing', canaryWeight: 0 }, 'v2')).toEqual([
      { type: 'phase', release: 'v2', phase: 'Progressing', weight: 0, failedChecks: 0 },
    ]);
    expect(progress.observe({ phase: 'Progressing', canaryWeight: 0 }, 'v2')).toEqual([]);
    expect(progress.observe({ phase: 'Progressing', canaryWeight: 10 }, 'v2')).toEqual([
      { type: 'weight', release: 'v2', weight: 10 },
    ]);
    const first = check('2026-01-01T00:00:03.000Z', 'request-success-rate', 'pass', 100);
    const thresholds = thresholdsOf({
      analysis: { metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] },
    });
    const events = progress.observe(
      { phase: 'Progressing', canaryWeight: 20, history: [first] },
      'v2',
      thresholds,
    );
    expect(events).toEqual([
      {
        type: 'check',
        release: 'v2',
        metric: 'request-success-rate',
        value: 100,
        min: 99,
        passed: true,
        weight: 10,
        reason: 'request-success-rate 100',
      },
      { type: 'weight', release: 'v2', weight: 20 },
    ]);
    const second = check('2026-01-01T00:00:06.000Z', 'request-success-rate', 'fail', 80, 20);
    const later = progress.observe(
      { phase: 'Failed', canaryWeight: 0, failedChecks: 1, history: [first, second] },
      'v3',
    );
    expect(later.map((e) => e.type)).toEqual(['check', 'phase']);
    expect(later[0]).toMatchObject({ passed: false, value: 80, release: 'v3' });
    expect(later[1]).toEqual({ type: 'phase', release: 'v3', phase: 'Failed', weight: 0, failedChecks: 1 });
  });

  it('finds the failed checks of a release and the reason of its outcome', () => {
    const status = {
      phase: 'Failed' as const,
      history: [
        check('2026-01-01T00:00:01.000Z', 'request-success-rate', 'fail', 50),
        check('2026-01-01T00:00:09.000Z', 'request-duration', 'fail', 900),
        check('2026-01-01T00:00:09.000Z', 'request-success-rate', 'pass', 100),
      ],
      conditions: [{ type: 'Promoted', status: 'False' as const, reason: 'Failed', message: 'rolled back' }],
    };
    expect(failedChecksSince(status, Date.parse('2026-01-01T00:00:05.000Z'))).toEqual([
      { metric: 'request-duration', value: 900, reason: 'request-duration 900' },
    ]);
    expect(outcomeReason(status)).toBe('rolled back');
    expect(outcomeReason(undefined)).toBe('');
  });
});

describe('thresholdsOf', () => {
  it('reads each metric threshold from the spec and ignores what is not a number', () => {
    const of = thresholdsOf({
      analysis: {
        metrics: [
          { name: 'request-duration', thresholdRange: { max: 500 } },
          { name: 'odd', thresholdRange: { min: '1', max: 2 } },
          { name: 'bare' },
        ],
      },
    });
    expect(of('request-duration')).toEqual({ max: 500 });
    expect(of('odd')).toEqual({ max: 2 });
    expect(of('bare')).toBeUndefined();
    expect(of('missing')).toBeUndefined();
    expect(thresholdsOf(undefined)('x')).toBeUndefined();
    expect(thresholdsOf({ analysis: { metrics: 'nope' } })('x')).toBeUndefined();
  });
});

describe('CanaryEvents', () => {
  it('reports Canary events once, again when their count grows, and ignores other objects', () => {
    const events = new CanaryEvents();
    const event = {
      metadata: { name: 'podinfo.1', namespace: 'demo' },
      involvedObject: { kind: 'Canary', name: 'podinfo' },
      type: 'Warning',
      reason: 'CheckFailed',
      message: 'halt advancement',
      count: 1,
    };
    expect(events.observe(event, 'v3')).toEqual({
      type: 'event',
      release: 'v3',
      severity: 'Warning',
      reason: 'CheckFailed',
      message: 'halt advancement',
    });
    expect(events.observe(event, 'v3')).toBeUndefined();
    expect(events.observe({ ...event, count: 2 }, 'v3')).toMatchObject({ reason: 'CheckFailed' });
    expect(events.observe({ ...event, involvedObject: { kind: 'Deployment', name: 'podinfo' } }, 'v3')).toBe(
      undefined,
    );
  });
});

describe('terminal rendering', () => {
  it('draws the weight as a bar of twenty cells', () => {
    expect(weightBar(0)).toBe(`[${'░'.repeat(20)}]   0%`);
    expect(weightBar(30)).toBe(`[${'█'.repeat(6)}${'░'.repeat(14)}]  30%`);
    expect(weightBar(100)).toBe(`[${'█'.repeat(20)}] 100%`);
    expect(weightBar(250)).toBe(weightBar(100));
  });

  it('shows each check with its value against its threshold, and the outcome against the expectation', () => {
    const check = renderTerminal(
      {
        type: 'check',
        release: 'v3',
        metric: 'request-success-rate',
        value: 89.5,
        passed: false,
        weight: 10,
        reason: 'request-success-rate 89.5% < min 99%',
      },
      12_345,
      plain,
    );
    expect(check).toBe('[ 12.3s] v3  check   ✗ request-success-rate 89.5% < min 99% (at weight 10)\n');
    const outcome = renderTerminal(
      {
        type: 'outcome',
        release: 'v3',
        phase: 'Failed',
        expected: 'Failed',
        ok: true,
        reason: 'canary failed 2 check(s)',
        failedChecks: [],
        durationMs: 6_600,
      },
      20_000,
      plain,
    );
    expect(outcome).toContain('v3  outcome Failed in 6.6s ✓ as expected: canary failed 2 check(s)');
    expect(renderTerminal({ type: 'weight', release: 'v2', weight: 20 }, 0, plain)).toContain(weightBar(20));
  });

  it('renders every event type, in colour only when asked', () => {
    const samples: DemoEvent[] = [
      { type: 'setup', step: 'prometheus', detail: 'http://127.0.0.1:1' },
      {
        type: 'ready',
        scenario: 'default',
        releases: ['v2'],
        namespace: 'demo',
        apiServerUrl: 'u',
        kubeconfig: 'k',
        prometheusUrl: 'p',
        prometheusPid: 1,
      },
      { type: 'release', release: 'v2', image: 'i', description: 'd', expect: { phase: 'Succeeded' } },
      { type: 'pause', release: 'v3', seconds: 7, why: 'w' },
      { type: 'phase', release: 'v2', phase: 'Succeeded', weight: 0, failedChecks: 0 },
      { type: 'event', release: 'v2', severity: 'Warning', reason: 'CheckFailed', message: 'm' },
      { type: 'keep', kubeconfig: '/tmp/k', apiServerUrl: 'u', prometheusUrl: 'p' },
      { type: 'stopping', why: 'SIGINT' },
      { type: 'error', code: 'X', message: 'boom' },
    ];
    for (const event of samples) {
      const text = renderTerminal(event, 0, plain);
      expect(text.endsWith('\n')).toBe(true);
      expect(text).not.toContain('\u001b[');
    }
    expect(renderTerminal(samples[6]!, 0, plain)).toContain('export KUBECONFIG=/tmp/k');
    expect(renderTerminal(samples[4]!, 0, { color: true })).toContain('\u001b[32mSucceeded\u001b[0m');
  });
});

describe('JSON stream', () => {
  it('writes one object per line with type and time first', () => {
    const line = jsonLine({ type: 'weight', release: 'v2', weight: 30 }, new Date('2026-01-01T00:00:00Z'));
    expect(line).toBe('{"type":"weight","time":"2026-01-01T00:00:00.000Z","release":"v2","weight":30}\n');
    const sink = collect();
    const reporter = createReporter('json', { out: sink.out, now: () => new Date(0) });
    reporter.emit({ type: 'setup', step: 'a', detail: 'b' });
    reporter.emit({ type: 'stopping', why: 'c' });
    const lines = sink.text().trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(['setup', 'stopping']);
  });
});

describe('petrel demo options', () => {
  it('defaults to the default scenario at 100 rps with text output', () => {
    expect(parseDemoArgs([])).toMatchObject({
      scenario: 'default',
      json: false,
      keep: false,
      rps: 100,
      logLevel: 'error',
    });
    expect(
      parseDemoArgs(['--scenario', 'latency', '--json', '--keep', '--rps', '20', '--prometheus', '/x']),
    ).toMatchObject({ scenario: 'latency', json: true, keep: true, rps: 20, prometheusBinary: '/x' });
  });

  it('routes with Istio by default, and with a Gateway API HTTPRoute on --provider gatewayapi', () => {
    expect(parseDemoArgs([]).provider).toBe('istio');
    expect(parseDemoArgs(['--provider', 'gatewayapi']).provider).toBe('gatewayapi:v1');
    expect(parseDemoArgs(['--provider', 'gatewayapi:v1', '--scenario', 'errors'])).toMatchObject({
      provider: 'gatewayapi:v1',
      scenario: 'errors',
    });
    // The demo's Gateway API Canary passes the schema (gatewayRefs and hosts included).
    const canary = validateCanary(demoCanary(DEMO_APP, 'gatewayapi:v1'));
    expect(canary.ok && canary.value.spec.service.gatewayRefs).toEqual([
      { name: 'public', namespace: 'demo' },
    ]);
    expect(canary.ok && canary.value.spec.provider).toBe('gatewayapi:v1');
    expect(validateCanary(demoCanary(DEMO_APP)).ok).toBe(true);
  });

  it.each([
    [['--scenario', 'chaos'], '--scenario must be one of default, all, healthy, errors, latency'],
    [['--rps', '0'], '--rps must be a whole number from 1 to 10000'],
    [['--rps', '1.5'], '--rps must be a whole number'],
    [['--rps', 'many'], '--rps must be a whole number'],
    [['--log-level', 'loud'], '--log-level must be one of'],
    [['--prometheus', ' '], '--prometheus must be the path'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--provider', 'linkerd'], '--provider must be istio or gatewayapi, got "linkerd"'],
  ])('refuses %j naming the flag', (args, message) => {
    expect(() => parseDemoArgs(args)).toThrow(DemoUsageError);
    expect(() => parseDemoArgs(args)).toThrow(message);
  });
});

describe('bounded waits', () => {
  it('polls until a value appears, and times out naming what it waited for', async () => {
    const signal = new AbortController().signal;
    let calls = 0;
    await expect(
      pollUntil('x', () => (++calls >= 3 ? calls : undefined), { timeoutMs: 1000, signal, intervalMs: 5 }),
    ).resolves.toBe(3);
    await expect(
      pollUntil('the canary to fly', () => undefined, { timeoutMs: 30, signal, intervalMs: 5 }),
    ).rejects.toThrow(new DemoTimeoutError('the canary to fly did not happen within 0s'));
    await expect(
      within('a promise', new Promise(() => {}), { timeoutMs: 20, signal }),
    ).rejects.toBeInstanceOf(DemoTimeoutError);
  });

  it('stops waiting at once when aborted', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const sleeping = sleep(10_000, abort.signal);
    abort.abort();
    await expect(sleeping).rejects.toBeInstanceOf(DemoAbortedError);
    await expect(
      pollUntil('never', () => undefined, { timeoutMs: 10_000, signal: abort.signal }),
    ).rejects.toBeInstanceOf(DemoAbortedError);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('the subtle scenario (relative checks)', () => {
  it('releases a healthy 2% v2 and a +1pp v3 over a 2% service, with noise', async () => {
    const { initialVersion, isRelativeScenario } = await import('../dev/demo/scenarios.ts');
    expect(isRelativeScenario('subtle')).toBe(true);
    expect(isRelativeScenario('default')).toBe(false);
    expect(initialVersion('subtle').behaviour.errorRatio).toBe(0.02);
    expect(scenarioReleases('subtle').map((r) => [r.name, r.behaviour.errorRatio, r.expect.phase])).toEqual([
      ['v2', 0.02, 'Succeeded'],
      ['v3', 0.03, 'Failed'],
    ]);
    for (const release of scenarioReleases('subtle')) {
      const { behaviour, problems } = parseBehaviour(
        demoDeployment(release.image, release.behaviour).spec.template.metadata.annotations,
      );
      expect(problems).toEqual([]);
      expect(behaviour.noise).toBeGreaterThan(0);
      expect(behaviour.sharedNoise).toBeGreaterThan(0);
      // A fixed min 99% success rate would roll back even the healthy release.
      expect((1 - behaviour.errorRatio) * 100).toBeLessThan(DEMO_APP.minSuccessRatePercent);
    }
  });

  it('judges both builtins against the primary', () => {
    const canary = canarySchema.parse(demoCanary(DEMO_APP, 'istio', true));
    expect(canary.spec.analysis.metrics.map((m) => [m.name, m.compare?.tolerance, m.thresholdRange])).toEqual(
      [
        ['request-success-rate', '+0.25pp', undefined],
        ['request-duration', '20%', undefined],
      ],
    );
  });
});
