import { type Document, isMap, isPair, isScalar, isSeq, type Pair, type YAMLMap } from 'yaml';
import { CANARY_PROVIDERS, PETREL_API_VERSION } from '../api/constants.ts';
import { type FLAGGER_KINDS, flaggerKind } from '../api/flagger-compat.ts';

/**
 * Rewrites one Flagger object (a YAML document) into Petrel's form, in place, keeping comments and key
 * order: what changed is returned, one line each. Fields with no equivalent are left where they are,
 * for lint to name. A metric with an inline query becomes a templateRef to a new MetricTemplate,
 * returned in `extra` for the caller to add after the document.
 */
export interface Migration {
  kind: (typeof FLAGGER_KINDS)[number];
  changes: string[];
  extra: Record<string, unknown>[];
}

/** Flagger providers with a Petrel equivalent under another name. */
const PROVIDER_RENAMES: Readonly<Record<string, string>> = { 'gatewayapi:v1beta1': 'gatewayapi:v1' };
/** Flagger alert provider types Petrel serves with another type. */
const ALERT_TYPE_RENAMES: Readonly<Record<string, string>> = { rocket: 'slack' };

export function migrateDocument(doc: Document): Migration | undefined {
  const kind = flaggerKind(doc.toJS({ maxAliasCount: 100 }));
  if (!kind) return undefined;
  const changes: string[] = [];
  const extra: Record<string, unknown>[] = [];
  const from = String(doc.get('apiVersion'));
  doc.set('apiVersion', PETREL_API_VERSION);
  changes.push(`apiVersion: ${from} -> ${PETREL_API_VERSION}`);
  const spec = doc.get('spec', true);
  if (!isMap(spec)) return { kind, changes, extra };
  if (kind === 'Canary') migrateCanary(doc, spec, changes, extra);
  if (kind === 'AlertProvider') renameValue(spec, 'type', ALERT_TYPE_RENAMES, 'spec.type', changes);
  return { kind, changes, extra };
}

function migrateCanary(
  doc: Document,
  spec: YAMLMap,
  changes: string[],
  extra: Record<string, unknown>[],
): void {
  const oldAnalysis = pairOf(spec, 'canaryAnalysis');
  if (oldAnalysis && !spec.has('analysis')) {
    renameKey(oldAnalysis, 'analysis');
    changes.push('spec.canaryAnalysis: renamed to spec.analysis');
  }
  const provider = spec.get('provider');
  if (typeof provider === 'string' && PROVIDER_RENAMES[provider]) {
    const renamed = PROVIDER_RENAMES[provider];
    if ((CANARY_PROVIDERS as readonly string[]).includes(renamed)) {
      spec.set('provider', renamed);
      changes.push(`spec.provider: ${provider} -> ${renamed}`);
    }
  }
  const service = spec.get('service', true);
  if (isMap(service)) migrateAppendHeaders(doc, service, changes);
  const analysis = spec.get('analysis', true);
  const metrics = isMap(analysis) ? analysis.get('metrics', true) : undefined;
  if (!isSeq(metrics)) return;
  const meta = (doc.toJS() as { metadata?: { name?: string; namespace?: string } }).metadata ?? {};
  const metricsServer = spec.get('metricsServer');
  metrics.items.forEach((item, index) => {
    if (!isMap(item)) return;
    const path = `spec.analysis.metrics[${index}]`;
    const template = migrateInlineQuery(item, path, meta, metricsServer, changes);
    if (template) extra.push(template);
    migrateThreshold(doc, item, path, changes);
  });
}

/** `threshold: N` -> `thresholdRange: {min: N}` for request-success-rate, `{max: N}` for every other metric. */
function migrateThreshold(doc: Document, metric: YAMLMap, path: string, changes: string[]): void {
  const pair = pairOf(metric, 'threshold');
  if (!pair || metric.has('thresholdRange')) return;
  const value = isScalar(pair.value) ? pair.value.value : pair.value;
  if (typeof value !== 'number') return;
  const bound = metric.get('name') === 'request-success-rate' ? 'min' : 'max';
  renameKey(pair, 'thresholdRange');
  pair.value = doc.createNode({ [bound]: value });
  changes.push(`${path}.threshold: ${value} -> thresholdRange.${bound}: ${value}`);
}

function migrateInlineQuery(
  metric: YAMLMap,
  path: string,
  meta: { name?: string; namespace?: string },
  metricsServer: unknown,
  changes: string[],
): Record<string, unknown> | undefined {
  const query = metric.get('query');
  if (typeof query !== 'string' || metric.has('templateRef')) return undefined;
  const metricName = String(metric.get('name') ?? 'metric');
  const name = dnsName(`${meta.name ?? 'canary'}-${metricName}`);
  metric.delete('query');
  metric.set('templateRef', { name });
  const provider: Record<string, unknown> = { type: 'prometheus' };
  if (typeof metricsServer === 'string') provider.address = metricsServer;
  changes.push(`${path}.query: moved to MetricTemplate ${name} (added after this document)`);
  return {
    apiVersion: PETREL_API_VERSION,
    kind: 'MetricTemplate',
    metadata: meta.namespace ? { name, namespace: meta.namespace } : { name },
    spec: { provider, query },
  };
}

/** Istio's pre-1.0 `appendHeaders` -> `headers.request.add`. */
function migrateAppendHeaders(doc: Document, service: YAMLMap, changes: string[]): void {
  const pair = pairOf(service, 'appendHeaders');
  if (!pair || service.has('headers')) return;
  const value = isMap(pair.value) ? pair.value.toJSON() : undefined;
  if (!value) return;
  renameKey(pair, 'headers');
  pair.value = doc.createNode({ request: { add: value } });
  changes.push('spec.service.appendHeaders: -> spec.service.headers.request.add');
}

function renameValue(
  map: YAMLMap,
  key: string,
  renames: Readonly<Record<string, string>>,
  path: string,
  changes: string[],
): void {
  const value = map.get(key);
  if (typeof value !== 'string' || !renames[value]) return;
  map.set(key, renames[value]);
  changes.push(`${path}: ${value} -> ${renames[value]}`);
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((item): item is Pair => isPair(item) && keyName(item) === key);
}

function keyName(pair: Pair): unknown {
  return isScalar(pair.key) ? pair.key.value : pair.key;
}

/** Renames a key where it stands, so its comments and position stay. */
function renameKey(pair: Pair, name: string): void {
  if (isScalar(pair.key)) pair.key.value = name;
  else pair.key = name;
}

function dnsName(text: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return cleaned.slice(0, 63).replace(/-+$/, '') || 'metric';
}
