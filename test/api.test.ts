import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ALERT_SEVERITIES,
  type CanaryInput,
  canarySchema,
  formatDuration,
  formatIssues,
  InvalidDurationError,
  InvalidSpecError,
  PETREL_API_VERSION,
  PETREL_GROUP,
  PETREL_VERSION,
  parseDuration,
  unsupportedProviderMessage,
  validateAlertProvider,
  validateCanary,
  validateMetricTemplate,
  validatePetrelResource,
  WEBHOOK_TYPES,
} from '../src/api/index.ts';

function canary(spec: Record<string, unknown> = {}, analysis?: Record<string, unknown>): CanaryInput {
  return {
    apiVersion: 'petrel.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      targetRef: { kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      ...(analysis ? { analysis } : {}),
      ...spec,
    },
  } as CanaryInput;
}

function metricTemplate(spec: Record<string, unknown>) {
  return {
    apiVersion: PETREL_API_VERSION,
    kind: 'MetricTemplate',
    metadata: { name: 'm', namespace: 'test' },
    spec,
  };
}

function alertProvider(spec: Record<string, unknown>) {
  return {
    apiVersion: PETREL_API_VERSION,
    kind: 'AlertProvider',
    metadata: { name: 'a', namespace: 'test' },
    spec,
  };
}

function valid(input: unknown) {
  const result = validateCanary(input);
  if (!result.ok) throw new Error(`expected valid, got ${JSON.stringify(result.issues)}`);
  return result.value;
}

function issuesOf(result: { ok: boolean; issues?: { path: string; message: string }[] }) {
  expect(result.ok).toBe(false);
  return result.issues!;
}

describe('constants', () => {
  it('name the group and version', () => {
    expect([PETREL_GROUP, PETREL_VERSION, PETREL_API_VERSION]).toEqual([
      'petrel.dev',
      'v1alpha1',
      'petrel.dev/v1alpha1',
    ]);
  });
});

describe('Canary defaults', () => {
  const defaulted = valid(canary());

  it.each([
    ['analysis.interval', defaulted.spec.analysis.interval, '1m'],
    ['analysis.threshold', defaulted.spec.analysis.threshold, 5],
    ['analysis.maxWeight', defaulted.spec.analysis.maxWeight, 50],
    ['analysis.stepWeight', defaulted.spec.analysis.stepWeight, 10],
    ['analysis.metrics', defaulted.spec.analysis.metrics, []],
    ['analysis.webhooks', defaulted.spec.analysis.webhooks, []],
    ['analysis.alerts', defaulted.spec.analysis.alerts, []],
    ['progressDeadlineSeconds', defaulted.spec.progressDeadlineSeconds, 600],
    ['skipAnalysis', defaulted.spec.skipAnalysis, false],
    ['suspend', defaulted.spec.suspend, false],
    ['revertOnDeletion', defaulted.spec.revertOnDeletion, false],
    ['provider', defaulted.spec.provider, 'istio'],
  ])('%s defaults', (_field, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it('defaults metric interval to 1m, webhook type to rollout and alert severity to info', () => {
    const value = valid(
      canary(
        {},
        {
          metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
          webhooks: [{ name: 'load', url: 'http://loadtester.test/' }],
          alerts: [{ name: 'team', providerRef: { name: 'slack' } }],
        },
      ),
    );
    expect(value.spec.analysis.metrics[0]!.interval).toBe('1m');
    expect(value.spec.analysis.webhooks[0]!.type).toBe('rollout');
    expect(value.spec.analysis.alerts[0]!.severity).toBe('info');
  });

  it('leaves stepWeight unset when stepWeights is given', () => {
    const value = valid(canary({}, { stepWeights: [5, 10, 50] }));
    expect(value.spec.analysis.stepWeights).toEqual([5, 10, 50]);
    expect(value.spec.analysis).not.toHaveProperty('stepWeight');
  });

  it('keeps explicit values', () => {
    const value = valid(
      canary(
        {
          progressDeadlineSeconds: 60,
          skipAnalysis: true,
          suspend: true,
          revertOnDeletion: true,
          provider: 'istio',
        },
        { interval: '30s', threshold: 2, maxWeight: 80, stepWeight: 20 },
      ),
    );
    expect(value.spec).toMatchObject({
      progressDeadlineSeconds: 60,
      skipAnalysis: true,
      suspend: true,
      revertOnDeletion: true,
      provider: 'istio',
      analysis: { interval: '30s', threshold: 2, maxWeight: 80, stepWeight: 20 },
    });
    const blueGreen = valid(canary({ provider: 'kubernetes' }, { iterations: 4 }));
    expect(blueGreen.spec).toMatchObject({ provider: 'kubernetes', analysis: { iterations: 4 } });
  });

  it('keeps metadata fields the API server adds', () => {
    const input = canary();
    (input.metadata as Record<string, unknown>).managedFields = [{ manager: 'kubectl' }];
    (input.metadata as Record<string, unknown>).uid = 'abc';
    expect(valid(input).metadata).toMatchObject({ uid: 'abc', managedFields: [{ manager: 'kubectl' }] });
  });

  it('accepts a status written by the controller', () => {
    const input = {
      ...canary(),
      status: {
        phase: 'Progressing',
        canaryWeight: 20,
        failedChecks: 1,
        iterations: 0,
        lastAppliedSpec: 'abc',
        lastTransitionTime: '2026-01-01T00:00:00Z',
        lastStepTime: '2026-01-01T00:01:00Z',
        observedGeneration: 3,
        trackedConfigs: { 'configmap/podinfo': 'f00' },
        conditions: [{ type: 'Promoted', status: 'Unknown', reason: 'Progressing', message: 'step 2' }],
        history: [
          {
            time: '2026-01-01T00:01:00Z',
            weight: 20,
            metric: 'request-success-rate',
            value: 99.5,
            verdict: 'pass',
            reason: 'ok',
          },
        ],
      },
    };
    expect(valid(input).status?.phase).toBe('Progressing');
  });
});

const builtin = { name: 'request-success-rate', thresholdRange: { min: 99 } };

describe('Canary rules', () => {
  it.each<[string, CanaryInput, string, string | RegExp]>([
    [
      'stepWeight below 1',
      canary({}, { stepWeight: 0 }),
      'spec.analysis.stepWeight',
      'must be 1..100 (got 0)',
    ],
    [
      'stepWeight above 100',
      canary({}, { stepWeight: 101 }),
      'spec.analysis.stepWeight',
      'must be 1..100 (got 101)',
    ],
    [
      'maxWeight above 100',
      canary({}, { maxWeight: 150 }),
      'spec.analysis.maxWeight',
      'must be 1..100 (got 150)',
    ],
    [
      'stepWeights entry 0',
      canary({}, { stepWeights: [0, 10] }),
      'spec.analysis.stepWeights[0]',
      'must be 1..100 (got 0)',
    ],
    [
      'fractional weight',
      canary({}, { stepWeight: 2.5 }),
      'spec.analysis.stepWeight',
      'must be a whole number (got 2.5)',
    ],
    [
      'stepWeight and stepWeights together',
      canary({}, { stepWeight: 10, stepWeights: [10, 20] }),
      'spec.analysis.stepWeights',
      'stepWeight and stepWeights are mutually exclusive: keep one of them',
    ],
    [
      'stepWeights not increasing',
      canary({}, { stepWeights: [10, 30, 30] }),
      'spec.analysis.stepWeights[2]',
      'must be greater than the previous step 30 (got 30): weights must increase',
    ],
    [
      'empty stepWeights',
      canary({}, { stepWeights: [] }),
      'spec.analysis.stepWeights',
      'must have at least 1 item',
    ],
    [
      'thresholdRange without bounds',
      canary({}, { metrics: [{ name: 'request-duration', thresholdRange: {} }] }),
      'spec.analysis.metrics[0].thresholdRange',
      'set min, max or both',
    ],
    [
      'thresholdRange min above max',
      canary({}, { metrics: [{ name: 'request-duration', thresholdRange: { min: 5, max: 1 } }] }),
      'spec.analysis.metrics[0].thresholdRange.min',
      'must not be greater than max (5 > 1)',
    ],
    [
      'builtin with templateRef',
      canary({}, { metrics: [{ ...builtin, templateRef: { name: 'x' } }] }),
      'spec.analysis.metrics[0].templateRef',
      /"request-success-rate" is a builtin check and takes no templateRef/,
    ],
    [
      'custom metric without templateRef',
      canary({}, { metrics: [{ name: 'error-rate', thresholdRange: { max: 1 } }] }),
      'spec.analysis.metrics[0].templateRef',
      /required: "error-rate" is not a builtin check \(request-success-rate, request-duration\)/,
    ],
    [
      'duplicate metric names',
      canary({}, { metrics: [builtin, builtin] }),
      'spec.analysis.metrics[1].name',
      'duplicate metric name "request-success-rate": names must be unique',
    ],
    [
      'analysis interval not a duration',
      canary({}, { interval: '1 minute' }),
      'spec.analysis.interval',
      'must be a duration such as 30s, 1m or 1h30m (got "1 minute")',
    ],
    [
      'analysis interval too short',
      canary({}, { interval: '500ms' }),
      'spec.analysis.interval',
      'must be at least 1s (got 500ms)',
    ],
    [
      'metric interval not a duration',
      canary({}, { metrics: [{ ...builtin, interval: '1.5m' }] }),
      'spec.analysis.metrics[0].interval',
      /must be a duration/,
    ],
    [
      'webhook timeout not a duration',
      canary({}, { webhooks: [{ name: 'w', url: 'http://x.test/', timeout: '10' }] }),
      'spec.analysis.webhooks[0].timeout',
      /must be a duration/,
    ],
    [
      'unknown webhook type',
      canary({}, { webhooks: [{ name: 'w', type: 'pre-deploy', url: 'http://x.test/' }] }),
      'spec.analysis.webhooks[0].type',
      `must be one of ${WEBHOOK_TYPES.map((t) => `"${t}"`).join(', ')} (got "pre-deploy")`,
    ],
    [
      'webhook url not http',
      canary({}, { webhooks: [{ name: 'w', url: 'ftp://x.test/' }] }),
      'spec.analysis.webhooks[0].url',
      'must be an absolute http or https URL (value not shown: it may hold a credential)',
    ],
    [
      'unknown alert severity',
      canary({}, { alerts: [{ name: 'a', severity: 'critical', providerRef: { name: 'p' } }] }),
      'spec.analysis.alerts[0].severity',
      `must be one of ${ALERT_SEVERITIES.map((t) => `"${t}"`).join(', ')} (got "critical")`,
    ],
    [
      'unknown provider',
      canary({ provider: 'linkerd' }),
      'spec.provider',
      unsupportedProviderMessage('linkerd'),
    ],
    [
      'mirrorWeight without mirror',
      canary({}, { mirrorWeight: 10 }),
      'spec.analysis.mirrorWeight',
      'needs mirror: true',
    ],
    [
      'unknown spec field',
      canary({ stepWeight: 5 }),
      'spec.stepWeight',
      'unknown field: remove it or check its spelling',
    ],
    [
      'target kind',
      canary({ targetRef: { kind: 'DaemonSet', name: 'x' } }),
      'spec.targetRef.kind',
      'not supported by Petrel: targetRef.kind "DaemonSet"; Petrel rolls out Deployments only (Flagger\'s DaemonSet and Service targets have no equivalent)',
    ],
    ['missing service', canary({ service: undefined }), 'spec.service', 'required'],
    [
      'port out of range',
      canary({ service: { port: 70000 } }),
      'spec.service.port',
      'must be 1..65535 (got 70000)',
    ],
    [
      'bad targetPort',
      canary({ service: { port: 80, targetPort: true } }),
      'spec.service.targetPort',
      'must be a port number or a named container port',
    ],
    ['threshold zero', canary({}, { threshold: 0 }), 'spec.analysis.threshold', 'must be >= 1 (got 0)'],
    [
      'progressDeadlineSeconds zero',
      canary({ progressDeadlineSeconds: 0 }),
      'spec.progressDeadlineSeconds',
      'must be 1..86400 (got 0)',
    ],
    ['wrong type', canary({ suspend: 'yes' }), 'spec.suspend', 'must be a boolean (got "yes")'],
  ])('%s', (_name, input, path, message) => {
    const issues = issuesOf(validateCanary(input));
    const match = issues.find((issue) => issue.path === path);
    expect(match, JSON.stringify(issues)).toBeDefined();
    if (typeof message === 'string') expect(match!.message).toBe(message);
    else expect(match!.message).toMatch(message);
  });

  it('accepts each of the eight webhook types, three severities and both providers', () => {
    for (const type of WEBHOOK_TYPES)
      valid(canary({}, { webhooks: [{ name: 'w', type, url: 'https://x.test/' }] }));
    for (const severity of ALERT_SEVERITIES) {
      valid(canary({}, { alerts: [{ name: 'a', severity, providerRef: { name: 'p', namespace: 'ops' } }] }));
    }
    valid(canary({ provider: 'istio' }));
    // Services have no weights: provider kubernetes analyses by iterations (blue/green).
    valid(canary({ provider: 'kubernetes' }, { iterations: 3 }));
  });

  it('accepts a custom metric with a templateRef and variables, and int-or-string target ports', () => {
    valid(
      canary(
        { service: { port: 80, targetPort: 'http' } },
        {
          metrics: [
            {
              name: 'not-found',
              templateRef: { name: 'nf' },
              thresholdRange: { max: 5 },
              templateVariables: { route: '/api' },
            },
          ],
        },
      ),
    );
    valid(canary({ service: { port: 80, targetPort: 8080 } }));
  });

  it('requires the identity fields and a valid name', () => {
    expect(issuesOf(validateCanary({}))).toEqual([
      { path: 'apiVersion', message: 'required' },
      { path: 'kind', message: 'required' },
      { path: 'metadata', message: 'required' },
      { path: 'spec', message: 'required' },
    ]);
    const input = canary();
    input.metadata.name = 'Pod_Info';
    expect(issuesOf(validateCanary(input))[0]).toEqual({
      path: 'metadata.name',
      message: `must be a lowercase DNS name: letters, digits, '-' and '.' (got "Pod_Info")`,
    });
  });

  it.each([
    null,
    42,
    'canary',
    [],
    { spec: 'x' },
    { apiVersion: 'petrel.dev/v1alpha1', kind: 'Canary', spec: { analysis: [] } },
  ])('returns issues instead of throwing for %j', (input) => {
    expect(validateCanary(input).ok).toBe(false);
  });
});

describe('MetricTemplate', () => {
  it('accepts a prometheus template', () => {
    const result = validateMetricTemplate(
      metricTemplate({ provider: { type: 'prometheus', address: 'http://prometheus:9090' }, query: 'up' }),
    );
    expect(result.ok).toBe(true);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    [
      'unknown provider type',
      { provider: { type: 'datadog' }, query: 'up' },
      'spec.provider.type',
      'not supported by Petrel: metrics provider type "datadog"; Petrel queries Prometheus: use type prometheus',
    ],
    ['empty query', { provider: { type: 'prometheus' }, query: '  ' }, 'spec.query', 'must not be empty'],
    [
      'bad address',
      { provider: { type: 'prometheus', address: 'prometheus:9090' }, query: 'up' },
      'spec.provider.address',
      'must be an absolute http or https URL (value not shown: it may hold a credential)',
    ],
    [
      'secretRef without name',
      { provider: { type: 'prometheus', secretRef: {} }, query: 'up' },
      'spec.provider.secretRef.name',
      'required',
    ],
  ])('%s', (_name, spec, path, message) => {
    expect(issuesOf(validateMetricTemplate(metricTemplate(spec)))).toContainEqual({ path, message });
  });
});

describe('AlertProvider', () => {
  it.each(['slack', 'msteams', 'discord', 'webhook'])('accepts type %s', (type) => {
    expect(validateAlertProvider(alertProvider({ type, secretRef: { name: 's' } })).ok).toBe(true);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    [
      'unknown type',
      { type: 'pagerduty', address: 'https://x.test' },
      'spec.type',
      'must be one of "slack", "msteams", "discord", "webhook" (got "pagerduty")',
    ],
    [
      'neither address nor secretRef',
      { type: 'slack' },
      'spec.address',
      'required: set address or secretRef (a Secret with the key "address")',
    ],
  ])('%s', (_name, spec, path, message) => {
    expect(issuesOf(validateAlertProvider(alertProvider(spec)))).toContainEqual({ path, message });
  });
});

it('never echoes a rejected URL, which may carry a token', () => {
  const address = 'hooks.slack.com/services/T000/B000/SECRETTOKEN';
  const issues = issuesOf(validateAlertProvider(alertProvider({ type: 'slack', address })));
  expect(issues).toEqual([{ path: 'spec.address', message: expect.stringContaining('value not shown') }]);
  expect(JSON.stringify(issues)).not.toContain('SECRETTOKEN');
});

describe('validatePetrelResource', () => {
  it('dispatches on kind and reports an unknown kind', () => {
    expect(validatePetrelResource(canary()).ok).toBe(true);
    expect(validatePetrelResource(alertProvider({ type: 'webhook', address: 'https://x.test/' })).ok).toBe(
      true,
    );
    expect(issuesOf(validatePetrelResource({ apiVersion: PETREL_API_VERSION, kind: 'Rollout' }))).toEqual([
      {
        path: 'kind',
        message: 'must be one of Canary, MetricTemplate, AlertProvider, ReleaseFreeze (got "Rollout")',
      },
    ]);
  });
});

describe('formatIssues and InvalidSpecError', () => {
  it('formats paths with dots and indices, quoting keys that are not identifiers, one entry per unknown key', () => {
    const schema = z.strictObject({
      a: z.array(z.object({ b: z.number() })),
      m: z.record(z.string(), z.number()),
    });
    const result = schema.safeParse({ a: [{ b: 'x' }], m: { 'app.kubernetes.io/name': 'x' }, x: 1, y: 2 });
    expect(result.success).toBe(false);
    const issues = formatIssues(result.error!);
    expect(issues.map((i) => i.path)).toEqual(['a[0].b', 'm["app.kubernetes.io/name"]', 'x', 'y']);
  });

  it('carries a stable code and the issues', () => {
    const error = new InvalidSpecError('Canary', [
      { path: 'spec.analysis.stepWeight', message: 'must be 1..100 (got 0)' },
    ]);
    expect(error.code).toBe('INVALID_SPEC');
    expect(error.message).toBe('invalid Canary: spec.analysis.stepWeight: must be 1..100 (got 0)');
  });

  it('canarySchema can be used directly and gives the same defaults', () => {
    expect(canarySchema.parse(canary())).toEqual(valid(canary()));
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1h1m1s1ms', 3_661_001],
    ['0s', 0],
    ['90m', 5_400_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '',
    '1',
    'm',
    '1.5m',
    '-1m',
    '1d',
    '1 m',
    ' 1m',
    '1m ',
    '1M',
    'abc',
    '1h-30m',
    '99999999999999999h',
  ])('rejects %j with a clear error', (text) => {
    expect(() => parseDuration(text)).toThrow(InvalidDurationError);
    try {
      parseDuration(text);
    } catch (error) {
      expect((error as InvalidDurationError).code).toBe('INVALID_DURATION');
      expect((error as Error).message).toContain('such as 30s, 1m or 1h30m');
    }
  });

  it('rejects non-strings without crashing', () => {
    expect(() => parseDuration(60 as unknown as string)).toThrow(InvalidDurationError);
  });

  it.each([
    [0, '0s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
  ])('formatDuration(%d) is %s and parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
