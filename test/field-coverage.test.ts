import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type LintReport, lintSource } from '../src/cli/lint.ts';

/**
 * Every field a CRD accepts either works end to end or is refused. This test walks the schemas in
 * crds/ and fails on any field that is mapped to neither (a) a test that exercises it (the file and the
 * test's exact title, which the file must contain) nor (b) a refusal (a document lint refuses with the
 * expected message). Containers (objects and lists of objects) are covered by their fields.
 */

const ROOT = join(import.meta.dirname, '..');

interface Exercised {
  test: string;
  title: string;
}
interface Refused {
  refusal: { document: Record<string, unknown>; message: string };
}
type Coverage = Exercised | Refused;

const t = (test: string, title: string): Exercised => ({ test: `test/${test}`, title });

const ROUTER = 'router-istio.test.ts';
const FIELDS = 'flagger-fields.test.ts';
const ROLLOUT = 'rollout.test.ts';
const API = 'api.test.ts';
const GATEWAY = t(
  'e2e-gatewayapi.test.ts',
  'promotes a healthy revision through 10..50 by HTTPRoute weights, and the stored route never drifts',
);
const PARENT_REFS = t(
  'router-gatewayapi.test.ts',
  'writes parentRefs with every field the Gateway API allows, for a Gateway listener or a mesh Service',
);
const RELATIVE_PROMOTES = t(
  'e2e-relative-analysis.test.ts',
  'promotes a canary with the same 2% errors as its primary, which a fixed min 99 would roll back',
);
const INCONCLUSIVE = t(
  'metrics-relative.test.ts',
  'an inconclusive check holds up to compare.maxInconclusive steps, then follows compare.onInconclusive',
);
const AFFINITY = t(
  'e2e-session-affinity.test.ts',
  'a user who reached the canary stays on it until the rollout ends, then goes back to the primary',
);

const CANARY: Record<string, Coverage> = {
  'spec.targetRef.apiVersion': t(
    API,
    'accepts a custom metric with a templateRef and variables, and int-or-string target ports',
  ),
  'spec.targetRef.kind': t(
    'runtime-invalid-spec.test.ts',
    '%s: condition and event name the field and what is allowed',
  ),
  'spec.targetRef.name': t(
    ROUTER,
    'creates three services, two destination rules and the virtual service at 100/0',
  ),
  'spec.autoscalerRef.apiVersion': t(FIELDS, '%s: the HPA is read and copied for the primary'),
  'spec.autoscalerRef.kind': t(
    'e2e-configs.test.ts',
    'keeps <autoscaler>-primary in line with spec.autoscalerRef, woken by spec changes only',
  ),
  'spec.autoscalerRef.name': t(
    'kube-deployments.test.ts',
    'keeps <autoscaler>-primary aimed at the primary, in line with the target HPA',
  ),
  'spec.service.port': t(
    ROUTER,
    'creates three services, two destination rules and the virtual service at 100/0',
  ),
  'spec.service.targetPort': t(
    ROUTER,
    'creates three services, two destination rules and the virtual service at 100/0',
  ),
  'spec.service.portName': t(
    ROUTER,
    'creates three services, two destination rules and the virtual service at 100/0',
  ),
  'spec.service.gateways': t(
    ROUTER,
    'creates three services, two destination rules and the virtual service at 100/0',
  ),
  'spec.service.hosts': t(
    ROUTER,
    'creates three services, two destination rules and the virtual service at 100/0',
  ),
  'spec.service.trafficPolicy': t(
    ROUTER,
    'passes trafficPolicy (TLS mode included) through to both destination rules',
  ),
  'spec.service.retries.attempts': t(
    ROUTER,
    'passes match, retries, timeout, headers and corsPolicy through to the http route',
  ),
  'spec.service.retries.perTryTimeout': t(
    ROUTER,
    'passes match, retries, timeout, headers and corsPolicy through to the http route',
  ),
  'spec.service.retries.retryOn': t(
    ROUTER,
    'passes match, retries, timeout, headers and corsPolicy through to the http route',
  ),
  'spec.service.timeout': t(
    ROUTER,
    'passes match, retries, timeout, headers and corsPolicy through to the http route',
  ),
  'spec.service.headers': t(
    ROUTER,
    'passes match, retries, timeout, headers and corsPolicy through to the http route',
  ),
  'spec.service.match': t(
    ROUTER,
    'passes match, retries, timeout, headers and corsPolicy through to the http route',
  ),
  'spec.service.corsPolicy': t(
    ROUTER,
    'passes match, retries, timeout, headers and corsPolicy through to the http route',
  ),
  'spec.service.name': t(
    FIELDS,
    'service.name with provider kubernetes: the three Services are named after it',
  ),
  'spec.service.appProtocol': t(
    FIELDS,
    'service.appProtocol: set on the Service port, and patched when it changes',
  ),
  'spec.service.portDiscovery': t(
    FIELDS,
    'service.portDiscovery: every other container port is exposed, sidecars left out',
  ),
  'spec.service.rewrite': t(
    FIELDS,
    'service.rewrite: lands on every route of the VirtualService, A/B routes included, and Istio accepts it',
  ),
  'spec.service.delegation': t(
    FIELDS,
    'service.delegation: a delegate VirtualService, without hosts or gateways',
  ),
  'spec.service.apex.labels': t(
    FIELDS,
    'service.apex/primary/canary: labels and annotations land on the matching Service, Petrel label kept',
  ),
  'spec.service.apex.annotations': t(
    FIELDS,
    'service.apex/primary/canary: labels and annotations land on the matching Service, Petrel label kept',
  ),
  'spec.service.primary.labels': t(
    FIELDS,
    'service.apex/primary/canary: labels and annotations land on the matching Service, Petrel label kept',
  ),
  'spec.service.primary.annotations': t(
    FIELDS,
    'service.apex/primary/canary: labels and annotations land on the matching Service, Petrel label kept',
  ),
  'spec.service.canary.labels': t(
    FIELDS,
    'service.apex/primary/canary: labels and annotations land on the matching Service, Petrel label kept',
  ),
  'spec.service.canary.annotations': t(
    FIELDS,
    'service.apex/primary/canary: labels and annotations land on the matching Service, Petrel label kept',
  ),
  'spec.service.gatewayRefs[].name': GATEWAY,
  'spec.service.gatewayRefs[].namespace': GATEWAY,
  'spec.service.gatewayRefs[].group': PARENT_REFS,
  'spec.service.gatewayRefs[].kind': PARENT_REFS,
  'spec.service.gatewayRefs[].sectionName': PARENT_REFS,
  'spec.service.gatewayRefs[].port': PARENT_REFS,
  'spec.analysis.interval': t(
    'e2e-lifecycle.test.ts',
    'after petrel pause then resume, the next step comes within one interval of the resume',
  ),
  'spec.analysis.threshold': t(ROLLOUT, 'Progressing: the threshold-th failed check rolls back'),
  'spec.analysis.maxWeight': t(ROLLOUT, 'Progressing: checks pass at maxWeight -> promote'),
  'spec.analysis.stepWeight': t(
    'e2e-rollout.test.ts',
    'promotes a healthy revision through 10, 20, 30, 40, 50, reading nothing and writing little',
  ),
  'spec.analysis.stepWeights': t(ROLLOUT, 'walks an explicit stepWeights schedule'),
  'spec.analysis.stepWeightPromotion': t(
    'e2e-step-promotion.test.ts',
    'after the analysis passes, the promoted primary takes the traffic back in steps, one per interval',
  ),
  'spec.analysis.iterations': t(
    ROLLOUT,
    'promotes after `iterations` passing analyses when no weight step is configured',
  ),
  'spec.analysis.match': t(
    ROLLOUT,
    'A/B testing sends the matching requests to the ready canary for `iterations` analyses',
  ),
  'spec.analysis.mirror': t(
    'e2e-mirror.test.ts',
    'mirrors to the canary for one step, its copies measured and answered by nobody, then shifts',
  ),
  'spec.analysis.mirrorWeight': t(
    'e2e-mirror.test.ts',
    'mirrors to the canary for one step, its copies measured and answered by nobody, then shifts',
  ),
  'spec.analysis.sessionAffinity.cookieName': AFFINITY,
  'spec.analysis.sessionAffinity.maxAge': AFFINITY,
  'spec.analysis.metrics[].name': t('metrics-run-checks.test.ts', 'adds units to the builtin checks'),
  'spec.analysis.metrics[].compare.against': RELATIVE_PROMOTES,
  'spec.analysis.metrics[].compare.tolerance': RELATIVE_PROMOTES,
  'spec.analysis.metrics[].compare.alpha': t(
    'analysis-montecarlo.test.ts',
    'no false rollback above alpha for an equal canary looked at every interval, noisy or not',
  ),
  'spec.analysis.metrics[].compare.quantile': t(
    'metrics-relative.test.ts',
    'compares p99 from the duration buckets of both workloads',
  ),
  'spec.analysis.metrics[].compare.maxInconclusive': INCONCLUSIVE,
  'spec.analysis.metrics[].compare.onInconclusive': INCONCLUSIVE,
  'spec.analysis.metrics[].dryRun': t(
    'e2e-relative-analysis.test.ts',
    'a dry-run relative check that fails is recorded and reported as "would have failed", and never acts',
  ),
  'spec.analysis.metrics[].maxHold': t(
    'metrics-relative.test.ts',
    'an unreachable Prometheus holds with an alert, then counts as failed after maxHold; dry runs are marked',
  ),
  'spec.analysis.metrics[].onNoData': t(
    'metrics-relative.test.ts',
    'no requests at all follows onNoData: fail by default, hold or pass when asked',
  ),
  'spec.analysis.metrics[].interval': t(
    'metrics-checks.test.ts',
    'renders MetricTemplates with variables and evaluates them against the threshold',
  ),
  'spec.analysis.metrics[].templateRef.name': t(
    'metrics-run-checks.test.ts',
    'resolves templateRef namespaces, defaulting to the canary namespace',
  ),
  'spec.analysis.metrics[].templateRef.namespace': t(
    'metrics-run-checks.test.ts',
    'resolves templateRef namespaces, defaulting to the canary namespace',
  ),
  'spec.analysis.metrics[].templateVariables': t(
    'metrics-checks.test.ts',
    'renders MetricTemplates with variables and evaluates them against the threshold',
  ),
  'spec.analysis.metrics[].thresholdRange.min': t(
    'metrics-checks.test.ts',
    'measures 5% errors as a 95% success rate and fails a 99% minimum',
  ),
  'spec.analysis.metrics[].thresholdRange.max': t(
    'metrics-run-checks.test.ts',
    'adds units to the builtin checks',
  ),
  'spec.analysis.metrics[].threshold': t(
    FIELDS,
    'is the minimum of request-success-rate and the maximum of every other metric',
  ),
  'spec.analysis.webhooks[].name': t(
    'e2e-gates.test.ts',
    'rolls back when a rollout hook keeps failing, and alerts with the failing check',
  ),
  'spec.analysis.webhooks[].type': t(
    'webhooks-decide.test.ts',
    'confirm-promotion: not 2xx waits at WaitingPromotion with the analysis running; 2xx promotes',
  ),
  'spec.analysis.webhooks[].url': t(
    'webhooks.test.ts',
    'POSTs name, namespace, phase, checksum, weight and metadata as JSON',
  ),
  'spec.analysis.webhooks[].timeout': t(
    'webhooks.test.ts',
    'times out a hanging hook, retries it, then counts the timeout',
  ),
  'spec.analysis.webhooks[].metadata': t(
    'webhooks.test.ts',
    'POSTs name, namespace, phase, checksum, weight and metadata as JSON',
  ),
  'spec.analysis.webhooks[].retries': t(
    'webhooks.test.ts',
    'retries a 5xx, then counts it as a failure after the last attempt',
  ),
  'spec.analysis.webhooks[].muteAlert': t(
    'webhooks-mute-alert.test.ts',
    'a closed confirm-traffic-increase gate: the hold is an event; an alert only without muteAlert',
  ),
  'spec.analysis.alerts[].name': t(
    'notifiers.test.ts',
    'sends each notification to the alerts whose severity allows it',
  ),
  'spec.analysis.alerts[].severity': t(
    'notifiers.test.ts',
    'sends each notification to the alerts whose severity allows it',
  ),
  'spec.analysis.alerts[].providerRef.name': t(
    'notifiers.test.ts',
    'sends each notification to the alerts whose severity allows it',
  ),
  'spec.analysis.alerts[].providerRef.namespace': t(
    'controller-reconciler.test.ts',
    'with --no-cross-namespace-refs, refuses a templateRef or providerRef to another namespace as InvalidSpec',
  ),
  'spec.progressDeadlineSeconds': t(
    'e2e-rollout.test.ts',
    'rolls back a revision that never becomes ready at its progress deadline',
  ),
  'spec.skipAnalysis': t(ROLLOUT, 'skipAnalysis promotes a ready canary without checks'),
  'spec.suspend': t('webhooks-decide.test.ts', 'spec.suspend wins over every action'),
  'spec.revertOnDeletion': t(
    'e2e-revert-on-deletion.test.ts',
    'hands the app back to the target across a controller restart, serving every moment',
  ),
  'spec.provider': t(
    'runtime-invalid-spec.test.ts',
    'applies the controller default provider before the rules: kubernetes refuses weight steps, istio takes them',
  ),
  'spec.releaseWindows.outside': t(
    'rollout-windows.test.ts',
    'outside: Rollback routes all traffic back to the primary at the close and starts again from zero',
  ),
  'spec.releaseWindows.windows[].schedule': t(
    'rollout-windows.test.ts',
    'a rollout started inside a window holds at the close and resumes at the next opening',
  ),
  'spec.releaseWindows.windows[].duration': t(
    'rollout-windows-schedule.test.ts',
    'a duration is elapsed time: 24h from midnight on the short day ends at 01:00 the next day',
  ),
  'spec.releaseWindows.windows[].timeZone': t(
    'rollout-windows-schedule.test.ts',
    'names the next opening in the window time zone',
  ),
  'spec.releaseWindows.windows[].appliesTo': t(
    'rollout-windows-schedule.test.ts',
    'scopes: a Start-only window leaves advancing free at any time',
  ),
};

const METRIC_TEMPLATE: Record<string, Coverage> = {
  'spec.provider.type': {
    refusal: {
      document: { provider: { type: 'datadog' }, query: 'avg:trace.http.request.errors{*}' },
      message:
        'spec.provider.type: not supported by Petrel: metrics provider type "datadog"; Petrel queries Prometheus: use type prometheus',
    },
  },
  'spec.provider.address': t(
    'metrics-prometheus-http.test.ts',
    'sends the query, a server-side timeout and basic auth, and logs neither secret',
  ),
  'spec.provider.secretRef.name': t(
    'e2e-metric-secret.test.ts',
    'promotes the release, with every query sent with the bearer token from the Secret',
  ),
  'spec.provider.insecureSkipVerify': t(
    'metrics-prometheus-shared-client.test.ts',
    'skips verification only when asked, and reuses the TLS connection',
  ),
  'spec.totalQuery': t(
    'metrics-relative.test.ts',
    'a MetricTemplate with totalQuery and {{ workload }} compares the two workloads',
  ),
  'spec.query': t(
    'metrics-checks.test.ts',
    'renders MetricTemplates with variables and evaluates them against the threshold',
  ),
};

const ALERT_PROVIDER: Record<string, Coverage> = {
  'spec.type': t('notifiers.test.ts', 'builds Teams, Discord and generic payloads'),
  'spec.address': t('notifiers.test.ts', 'uses address, or the address key of the Secret named by secretRef'),
  'spec.secretRef.name': t(
    'notifiers.test.ts',
    'uses address, or the address key of the Secret named by secretRef',
  ),
  'spec.channel': t(
    'notifiers.test.ts',
    'builds a Slack Block Kit message with canary, namespace, phase, weight, failing check and cluster',
  ),
  'spec.username': t(
    'notifiers.test.ts',
    'builds a Slack Block Kit message with canary, namespace, phase, weight, failing check and cluster',
  ),
};

const RELEASE_FREEZE: Record<string, Coverage> = {
  'spec.start': t(
    'rollout-windows-schedule.test.ts',
    'block starting between start and end (end exclusive), never advancing',
  ),
  'spec.end': t(
    'rollout-windows-schedule.test.ts',
    'block starting between start and end (end exclusive), never advancing',
  ),
  'spec.reason': t(
    'e2e-windows.test.ts',
    'a frozen namespace holds a new revision at zero with the reason on the canary, one event and one alert; unfreeze starts it',
  ),
  'spec.selector.matchLabels': t('controller-freezes.test.ts', '%j selects %j: %s'),
  'spec.selector.matchExpressions[].key': t('controller-freezes.test.ts', '%j selects %j: %s'),
  'spec.selector.matchExpressions[].operator': t('controller-freezes.test.ts', '%j selects %j: %s'),
  'spec.selector.matchExpressions[].values': t('controller-freezes.test.ts', '%j selects %j: %s'),
};

const COVERAGE: Record<string, Record<string, Coverage>> = {
  Canary: CANARY,
  MetricTemplate: METRIC_TEMPLATE,
  AlertProvider: ALERT_PROVIDER,
  ReleaseFreeze: RELEASE_FREEZE,
};
const FILES: Record<string, string> = {
  Canary: 'petrel.dev_canaries.yaml',
  MetricTemplate: 'petrel.dev_metrictemplates.yaml',
  AlertProvider: 'petrel.dev_alertproviders.yaml',
  ReleaseFreeze: 'petrel.dev_releasefreezes.yaml',
};

type Schema = { properties?: Record<string, Schema>; items?: Schema };

/** The leaf fields under spec: scalars, free-form objects and maps, lists of scalars. */
function leafFields(schema: Schema, path: string, out: string[] = []): string[] {
  if (schema.properties) {
    for (const [name, child] of Object.entries(schema.properties)) leafFields(child, `${path}.${name}`, out);
  } else if (schema.items?.properties) {
    leafFields(schema.items, `${path}[]`, out);
  } else {
    out.push(path);
  }
  return out;
}

function crdFields(kind: string): string[] {
  const crd = parse(readFileSync(join(ROOT, 'crds', FILES[kind]!), 'utf8'));
  return leafFields(crd.spec.versions[0].schema.openAPIV3Schema.properties.spec, 'spec');
}

function lintSpec(kind: string, spec: Record<string, unknown>): string[] {
  const report: LintReport = { problems: [], unreadable: [], resources: 0, files: 0 };
  const document = {
    apiVersion: 'petrel.dev/v1alpha1',
    kind,
    metadata: { name: 'x', namespace: 'test' },
    spec,
  };
  lintSource({ name: 'doc.yaml', text: stringify(document) }, report);
  return report.problems;
}

describe('field coverage: every CRD field works end to end or is refused', () => {
  for (const kind of Object.keys(COVERAGE)) {
    it(`${kind}: every field is mapped to a test or a refusal`, () => {
      const unmapped = crdFields(kind).filter((field) => !(field in COVERAGE[kind]!));
      expect(
        unmapped,
        'map these fields to a test that would fail if they were ignored, or refuse them',
      ).toEqual([]);
    });

    it(`${kind}: every mapped test exists and carries the title; every refusal is refused with its message`, () => {
      const problems: string[] = [];
      for (const [field, coverage] of Object.entries(COVERAGE[kind]!)) {
        const key = `${kind} ${field}`;
        if ('refusal' in coverage) {
          const found = lintSpec(kind, coverage.refusal.document);
          if (!found.some((line) => line.endsWith(coverage.refusal.message)))
            problems.push(
              `${key}: lint did not refuse it with "${coverage.refusal.message}" (got ${JSON.stringify(found)})`,
            );
          continue;
        }
        const file = join(ROOT, coverage.test);
        if (!existsSync(file)) {
          problems.push(`${key}: ${coverage.test} does not exist`);
          continue;
        }
        if (!testTitles(readFileSync(file, 'utf8')).has(coverage.title))
          problems.push(`${key}: ${coverage.test} has no test titled "${coverage.title}"`);
      }
      expect(problems).toEqual([]);
    });
  }

  it('maps no field the CRDs do not have (a renamed field must be remapped)', () => {
    const stale = Object.entries(COVERAGE).flatMap(([kind, map]) => {
      const fields = new Set(crdFields(kind));
      return Object.keys(map)
        .filter((field) => !fields.has(field))
        .map((field) => `${kind} ${field}`);
    });
    expect(stale).toEqual([]);
  });

  it('lists only real test files', () => {
    const tests = new Set(readdirSync(join(ROOT, 'test')).map((f) => `test/${f}`));
    const missing = Object.entries(COVERAGE).flatMap(([kind, map]) =>
      Object.entries(map)
        .filter(([, c]) => 'test' in c && !tests.has(c.test))
        .map(([field, c]) => `${kind} ${field}: ${(c as Exercised).test}`),
    );
    expect(missing).toEqual([]);
  });
});

/**
 * The titles of a test file's tests, as written: `it('…')`/`test('…')`, `it.each([...])('…')`, and the
 * `name: '…'` of table-driven cases.
 */
function testTitles(source: string): Set<string> {
  const literal = String.raw`(['"\x60])((?:\\.|(?!\1)[^\\])*)\1`;
  const patterns = [
    new RegExp(String.raw`\b(?:it|test)\(\s*${literal}`, 'g'),
    new RegExp(String.raw`\]\)\(\s*${literal}`, 'g'),
    new RegExp(String.raw`\bname:\s*${literal}`, 'g'),
  ];
  const titles = new Set<string>();
  for (const pattern of patterns)
    for (const m of source.matchAll(pattern)) titles.add((m[2] ?? '').replace(/\\(['"`\\])/g, '$1'));
  return titles;
}
