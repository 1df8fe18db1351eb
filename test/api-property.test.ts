import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Document, isScalar, parse, stringify, visit } from 'yaml';
import {
  ALERT_PROVIDER_TYPES,
  ALERT_SEVERITIES,
  BUILTIN_METRICS,
  buildCrds,
  CANARY_PHASES,
  CANARY_PROVIDERS,
  formatDuration,
  parseDuration,
  validateAgainstCrdSchema,
  validateAlertProvider,
  validateCanary,
  validateMetricTemplate,
  WEBHOOK_TYPES,
} from '../src/api/index.ts';

// No fixed seed: every run explores new inputs; a failure prints the seed to replay it.
const RUNS = { numRuns: Number(process.env.PETREL_PROPERTY_RUNS ?? 200) } as const;

const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$/);
const weight = fc.integer({ min: 1, max: 100 });
const unit = fc.constantFrom('ms', 's', 'm', 'h');
const duration = fc
  .tuple(
    fc.integer({ min: 1, max: 120 }),
    fc.constantFrom('s', 'm', 'h'),
    fc.array(fc.tuple(fc.nat(999), unit), { maxLength: 2 }),
  )
  .map(([n, u, rest]) => `${n}${u}${rest.map(([m, v]) => `${m}${v}`).join('')}`);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const text = fc.string({ minLength: 1, maxLength: 12 });
const stringMap = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), {
  maxKeys: 3,
});
const url = fc.webUrl({ validSchemes: ['http', 'https'] });
const ref = fc.record({ name: dnsLabel, namespace: dnsLabel }, { requiredKeys: ['name'] });

const thresholdRange = fc.oneof(
  fc.record({ min: finite }),
  fc.record({ max: finite }),
  fc.tuple(finite, finite).map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) })),
);

const metric = fc.oneof(
  fc.record(
    { name: fc.constantFrom(...BUILTIN_METRICS), thresholdRange, interval: duration },
    { requiredKeys: ['name'] },
  ),
  fc.record(
    {
      name: dnsLabel.filter((n) => !(BUILTIN_METRICS as readonly string[]).includes(n)),
      templateRef: ref,
      thresholdRange,
      interval: duration,
      templateVariables: stringMap,
    },
    { requiredKeys: ['name', 'templateRef'] },
  ),
);

const webhook = fc.record(
  {
    name: text,
    type: fc.constantFrom(...WEBHOOK_TYPES),
    url,
    timeout: duration,
    metadata: stringMap,
    retries: fc.integer({ min: 0, max: 10 }),
    muteAlert: fc.boolean(),
  },
  { requiredKeys: ['name', 'url'] },
);

const alert = fc.record(
  { name: text, severity: fc.constantFrom(...ALERT_SEVERITIES), providerRef: ref },
  { requiredKeys: ['name', 'providerRef'] },
);

function uniqueByName<T extends { name: string }>(arb: fc.Arbitrary<T>) {
  return fc.uniqueArray(arb, { selector: (item) => item.name, maxLength: 3 });
}

const stepping = fc.oneof(
  fc.record({ stepWeight: weight }, { requiredKeys: [] }),
  fc
    .uniqueArray(weight, { minLength: 1, maxLength: 6 })
    .map((ws) => ({ stepWeights: [...ws].sort((a, b) => a - b) })),
);

// Istio validates what Petrel passes through, so the generated values are drawn from valid Istio shapes.
const istioMatch = fc.array(
  fc.constantFrom<Record<string, unknown>>(
    { uri: { prefix: '/api' } },
    { headers: { 'x-user': { exact: 'insider' } } },
    { method: { exact: 'GET' }, ignoreUriCase: true },
    { queryParams: { beta: { regex: '^on$' } } },
  ),
  { maxLength: 2 },
);
const istioTrafficPolicy = fc.constantFrom<Record<string, unknown>>(
  { tls: { mode: 'ISTIO_MUTUAL' } },
  { loadBalancer: { simple: 'LEAST_REQUEST' } },
  {
    connectionPool: { http: { http1MaxPendingRequests: 10 } },
    outlierDetection: { consecutive5xxErrors: 3 },
  },
);
const istioHeaders = fc.constantFrom<Record<string, unknown>>(
  { request: { set: { 'x-canary': 'yes' } } },
  { response: { remove: ['x-internal'] } },
);
const istioCors = fc.constantFrom<Record<string, unknown>>({
  allowOrigins: [{ exact: 'https://app.test' }],
  allowMethods: ['GET', 'POST'],
  maxAge: '24h',
});

const analysis = fc
  .tuple(
    fc.record(
      {
        interval: duration,
        threshold: fc.integer({ min: 1, max: 20 }),
        maxWeight: weight,
        stepWeightPromotion: weight,
        iterations: fc.integer({ min: 1, max: 20 }),
        match: istioMatch,
        metrics: uniqueByName(metric),
        webhooks: uniqueByName(webhook),
        alerts: uniqueByName(alert),
      },
      { requiredKeys: [] },
    ),
    stepping,
    fc.option(fc.record({ mirror: fc.constant(true), mirrorWeight: fc.integer({ min: 0, max: 100 }) }), {
      nil: undefined,
    }),
  )
  .map(([base, steps, mirror]) => ({ ...base, ...steps, ...mirror }));

const service = fc.record(
  {
    port: fc.integer({ min: 1, max: 65535 }),
    targetPort: fc.oneof(fc.integer({ min: 1, max: 65535 }), dnsLabel),
    portName: dnsLabel,
    gateways: fc.array(dnsLabel, { maxLength: 2 }),
    hosts: fc.array(dnsLabel, { maxLength: 2 }),
    trafficPolicy: istioTrafficPolicy,
    retries: fc.record({ attempts: fc.nat(5), perTryTimeout: duration, retryOn: text }, { requiredKeys: [] }),
    timeout: duration,
    headers: istioHeaders,
    match: istioMatch,
    corsPolicy: istioCors,
    appProtocol: fc.constantFrom('http', 'grpc', 'kubernetes.io/h2c'),
    portDiscovery: fc.boolean(),
    rewrite: fc.constantFrom<Record<string, unknown>>({ uri: '/' }, { authority: 'app.test' }),
    apex: fc.record({ labels: stringMap, annotations: stringMap }, { requiredKeys: [] }),
  },
  { requiredKeys: ['port'] },
);

const status = fc.record(
  {
    phase: fc.constantFrom(...CANARY_PHASES),
    canaryWeight: fc.integer({ min: 0, max: 100 }),
    failedChecks: fc.nat(10),
    iterations: fc.nat(10),
    lastAppliedSpec: text,
    lastTransitionTime: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    trackedConfigs: stringMap,
  },
  { requiredKeys: [] },
);

const canaryInput = fc
  .record(
    {
      apiVersion: fc.constant('petrel.dev/v1alpha1'),
      kind: fc.constant('Canary'),
      metadata: fc.record(
        { name: dnsLabel, namespace: dnsLabel, labels: stringMap },
        { requiredKeys: ['name'] },
      ),
      spec: fc.record(
        {
          targetRef: fc.record(
            { apiVersion: fc.constant('apps/v1'), kind: fc.constant('Deployment'), name: dnsLabel },
            { requiredKeys: ['kind', 'name'] },
          ),
          service,
          analysis,
          progressDeadlineSeconds: fc.integer({ min: 1, max: 86_400 }),
          skipAnalysis: fc.boolean(),
          suspend: fc.boolean(),
          revertOnDeletion: fc.boolean(),
          // gatewayapi:v1 needs gatewayRefs and refuses the Istio-only fields: gatewayCanaryInput below.
          provider: fc.constantFrom(...CANARY_PROVIDERS.filter((p) => p !== 'gatewayapi:v1')),
        },
        { requiredKeys: ['targetRef', 'service'] },
      ),
      status,
    },
    { requiredKeys: ['apiVersion', 'kind', 'metadata', 'spec'] },
  )
  .map((input) => coherent({ ...input, spec: withinCanaryRules(input.spec) }));

/**
 * Drops the field combinations validateCanary refuses as meaningless together (src/api/combinations.ts),
 * so every generated Canary is one the API accepts: no weights with provider kubernetes, no promotion steps
 * without weight steps, no mirror with A/B matches, stepWeight at most maxWeight.
 */
function coherent<T extends { spec: { provider?: string; analysis?: Record<string, unknown> } }>(
  input: T,
): T {
  const analysis = { ...(input.spec.analysis ?? {}) };
  const drop = (...fields: string[]) => {
    for (const f of fields) delete analysis[f];
  };
  if (input.spec.provider === 'kubernetes') {
    drop('stepWeight', 'stepWeights', 'maxWeight', 'mirror', 'mirrorWeight', 'stepWeightPromotion', 'match');
    analysis.iterations ??= 1;
  } else {
    if (analysis.iterations !== undefined) drop('stepWeightPromotion');
    if ((analysis.match as unknown[] | undefined)?.length) drop('mirror', 'mirrorWeight');
    const max = (analysis.maxWeight as number | undefined) ?? 50;
    if (typeof analysis.stepWeight === 'number' && analysis.stepWeight > max)
      analysis.maxWeight = analysis.stepWeight;
  }
  return { ...input, spec: { ...input.spec, analysis } };
}

const gatewayRef = fc.record(
  { name: dnsLabel, namespace: dnsLabel, sectionName: dnsLabel, port: fc.integer({ min: 1, max: 65535 }) },
  { requiredKeys: ['name'], noNullPrototype: true },
);
const valueMatches = fc.dictionary(
  dnsLabel,
  fc.oneof(
    fc.record({ exact: text }, { noNullPrototype: true }),
    fc.record({ regex: text }, { noNullPrototype: true }),
  ),
  {
    maxKeys: 2,
    noNullPrototype: true,
  },
);
const httpMatch = fc.record(
  {
    uri: fc.oneof(
      fc.record({ exact: dnsLabel.map((s) => `/${s}`) }, { noNullPrototype: true }),
      fc.record({ prefix: dnsLabel.map((s) => `/${s}`) }, { noNullPrototype: true }),
      fc.record({ regex: text }, { noNullPrototype: true }),
    ),
    method: fc.record({ exact: fc.constantFrom('GET', 'POST', 'DELETE') }, { noNullPrototype: true }),
    headers: valueMatches,
    queryParams: valueMatches,
  },
  { requiredKeys: [], noNullPrototype: true },
);

/** A Gateway API Canary: gatewayRefs, matches an HTTPRoute can express, none of the Istio-only fields. */
const gatewayCanaryInput = fc
  .tuple(
    canaryInput,
    fc.array(gatewayRef, { minLength: 1, maxLength: 3 }),
    fc.array(httpMatch, { maxLength: 2 }),
    fc.array(httpMatch, { maxLength: 2 }),
  )
  .map(([canary, gatewayRefs, serviceMatch, abMatch]) => {
    const service: Record<string, unknown> = { ...canary.spec.service };
    for (const istioOnly of ['gateways', 'trafficPolicy', 'retries', 'corsPolicy', 'headers'])
      delete service[istioOnly];
    const analysis: Record<string, unknown> = { ...canary.spec.analysis };
    delete analysis.mirrorWeight;
    return {
      ...canary,
      spec: {
        ...canary.spec,
        provider: 'gatewayapi:v1',
        service: { ...service, gatewayRefs, match: serviceMatch },
        analysis: { ...analysis, match: abMatch },
      },
    };
  })
  .map(coherent);

/**
 * Shapes a generated spec to the rules between fields (src/api/canary-rules.ts): no weight steps with
 * iterations, stepWeight within maxWeight, and blue/green only (iterations, no Istio fields) for provider
 * kubernetes. The rules themselves are tested case by case in test/api-compat.test.ts.
 */
function withinCanaryRules<
  S extends { provider?: string; analysis?: Record<string, unknown>; service: Record<string, unknown> },
>(spec: S): S {
  const analysis = { ...spec.analysis };
  const service = { ...spec.service };
  if (spec.provider === 'kubernetes') {
    analysis.iterations ??= 1;
    for (const field of ['mirror', 'mirrorWeight', 'match']) delete analysis[field];
    for (const field of [
      'gateways',
      'hosts',
      'trafficPolicy',
      'retries',
      'timeout',
      'headers',
      'match',
      'corsPolicy',
      'rewrite',
    ])
      delete service[field];
  }
  if (analysis.iterations !== undefined) {
    delete analysis.stepWeight;
    delete analysis.stepWeights;
  }
  const max = (analysis.maxWeight as number | undefined) ?? 50;
  if (typeof analysis.stepWeight === 'number' && analysis.stepWeight > max) analysis.stepWeight = max;
  return { ...spec, analysis, service };
}

const metricTemplateInput = fc.record({
  apiVersion: fc.constant('petrel.dev/v1alpha1'),
  kind: fc.constant('MetricTemplate'),
  metadata: fc.record({ name: dnsLabel, namespace: dnsLabel }),
  spec: fc.record({
    provider: fc.record(
      { type: fc.constant('prometheus'), address: url, secretRef: fc.record({ name: dnsLabel }) },
      { requiredKeys: ['type'] },
    ),
    query: fc.string({ minLength: 1, maxLength: 40 }).filter((q) => q.trim().length > 0),
  }),
});

const alertProviderInput = fc.record({
  apiVersion: fc.constant('petrel.dev/v1alpha1'),
  kind: fc.constant('AlertProvider'),
  metadata: fc.record({ name: dnsLabel }),
  spec: fc
    .tuple(
      fc.record(
        { type: fc.constantFrom(...ALERT_PROVIDER_TYPES), channel: text, username: text },
        { requiredKeys: ['type'] },
      ),
      fc.oneof(fc.record({ address: url }), fc.record({ secretRef: fc.record({ name: dnsLabel }) })),
    )
    .map(([a, b]) => ({ ...a, ...b })),
});

// YAML 1.2 is the library default; 1.1 is how kubectl, Argo CD and Flux read manifests (`yes` is a boolean there).
const roundTrips = {
  '1.2': (value: unknown) => parse(stringify(value)),
  '1.1': (value: unknown) => parse(stringifyYaml11(value), { version: '1.1' }),
};

/**
 * YAML 1.1 as a manifest writer must produce it. The library writes a `<<` key bare even when asked to
 * quote it, and a YAML 1.1 reader takes that for a merge key (a free-form field such as `service.match`
 * may hold any key): tag it as a string.
 */
function stringifyYaml11(value: unknown): string {
  const doc = new Document(value, { version: '1.1' });
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === '<<') {
        pair.key.tag = 'tag:yaml.org,2002:str';
        pair.key.type = 'QUOTE_DOUBLE';
      }
    },
  });
  return doc.toString();
}

const crdSchema = new Map(
  buildCrds().map((crd) => [
    (crd.spec.names as { kind: string }).kind,
    (crd.spec.versions as { schema: { openAPIV3Schema: Record<string, unknown> } }[])[0]!.schema
      .openAPIV3Schema,
  ]),
);

describe.each([
  ['Canary', canaryInput, validateCanary],
  ['Canary', gatewayCanaryInput, validateCanary],
  ['MetricTemplate', metricTemplateInput, validateMetricTemplate],
  ['AlertProvider', alertProviderInput, validateAlertProvider],
] as const)('%s property', (kind, arbitrary, validate) => {
  it('accepts every generated object, and the accepted object survives YAML 1.2 and 1.1 round trips unchanged', () => {
    fc.assert(
      fc.property(arbitrary as fc.Arbitrary<unknown>, (input) => {
        const first = validate(input);
        if (!first.ok) throw new Error(`rejected: ${JSON.stringify(first.issues)}`);
        for (const roundTrip of Object.values(roundTrips)) {
          const copy = roundTrip(first.value);
          expect(copy).toStrictEqual(first.value);
          const second = validate(copy);
          if (!second.ok) throw new Error(`round trip rejected: ${JSON.stringify(second.issues)}`);
          expect(second.value).toStrictEqual(first.value);
        }
      }),
      RUNS,
    );
  });

  it('the generated CRD schema accepts what zod accepts, as written and after defaulting', () => {
    fc.assert(
      fc.property(arbitrary as fc.Arbitrary<unknown>, (input) => {
        const result = validate(input);
        if (!result.ok) throw new Error(`rejected: ${JSON.stringify(result.issues)}`);
        expect(validateAgainstCrdSchema(crdSchema.get(kind)!, input)).toEqual([]);
        expect(validateAgainstCrdSchema(crdSchema.get(kind)!, result.value)).toEqual([]);
      }),
      RUNS,
    );
  });
});

describe('hostile input', () => {
  it('validateCanary never throws, whatever it is given', () => {
    fc.assert(
      fc.property(
        fc.anything({ withNullPrototype: true, withMap: true, withSet: true, withBigInt: true }),
        (input) => {
          expect(validateCanary(input).ok).toBe(false);
        },
      ),
      RUNS,
    );
  });

  it('validateCanary never throws for a Canary with any field replaced by junk', () => {
    fc.assert(
      fc.property(canaryInput, fc.jsonValue(), fc.nat(), (input, junk, pick) => {
        const spec = input.spec as Record<string, unknown>;
        const keys = Object.keys(spec);
        spec[keys[pick % keys.length]!] = junk;
        const result = validateCanary(input);
        if (!result.ok) for (const issue of result.issues) expect(issue.message.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });
});

describe('durations', () => {
  it('formatDuration and parseDuration are inverse', () => {
    fc.assert(
      fc.property(fc.nat(10 * 86_400_000), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
      RUNS,
    );
  });
});
