import { isDeepStrictEqual } from 'node:util';
import type { V1PodSpec, V1ServicePort, V1ServiceSpec } from '@kubernetes/client-node';
import type { Canary } from '../api/canary.ts';
import type { ServiceMetadata } from '../api/canary-service-fields.ts';
import { canaryName, primaryName, type SelectorLabel } from '../kube/names.ts';
import { assertOwnedBy, canaryOwnerReference, managedLabels, ownershipPatch } from '../kube/ownership.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { patchOrCreate, type WriteThroughCache } from '../kube/write-through.ts';

export interface Service extends KubeObject {
  spec?: V1ServiceSpec;
}

/**
 * The three Services of a Canary: the apex `<target>` and `<target>-primary` select the primary pods.
 * `podSpec` is the target's pod template, read for spec.service.portDiscovery.
 */
export function buildServices(canary: Canary, label: SelectorLabel, podSpec?: V1PodSpec): Service[] {
  const target = apexServiceName(canary);
  const primaryValue = `${label.value}-primary`;
  const ports = [
    servicePort(canary),
    ...(canary.spec.service.portDiscovery ? discoveredPorts(canary, podSpec) : []),
  ];
  const svc = canary.spec.service;
  return [
    buildService(canary, target, { [label.key]: primaryValue }, ports, svc.apex),
    buildService(canary, primaryName(target), { [label.key]: primaryValue }, ports, svc.primary),
    buildService(canary, canaryName(target), { [label.key]: label.value }, ports, svc.canary),
  ];
}

function servicePort(canary: Canary): V1ServicePort {
  const svc = canary.spec.service;
  const port: V1ServicePort = {
    name: svc.portName ?? 'http',
    port: svc.port,
    protocol: 'TCP',
    targetPort: (svc.targetPort ?? svc.port) as V1ServicePort['targetPort'],
  };
  if (svc.appProtocol) port.appProtocol = svc.appProtocol;
  return port;
}

/**
 * The apex Service's name: spec.service.name, else the target's name. The primary and canary Services are
 * named after it (`<name>-primary`, `<name>-canary`), as in Flagger.
 */
export function apexServiceName(canary: Canary): string {
  return canary.spec.service.name ?? canary.spec.targetRef.name;
}

/** Mesh proxies whose ports are not the application's (Flagger's list). */
const SIDECAR_CONTAINERS = new Set(['istio-proxy', 'envoy']);

/**
 * spec.service.portDiscovery, as Flagger does it: every container port of the pod template except the
 * main one (targetPort, or port when targetPort is unset) and the sidecars', named after the container
 * port or `tcp-<container>-<index>`, with the same number as port and targetPort.
 * Example: containers app [9898 http, 9797 metrics], istio-proxy [15090]; port 9898 -> metrics 9797.
 */
export function discoveredPorts(canary: Canary, podSpec: V1PodSpec | undefined): V1ServicePort[] {
  const svc = canary.spec.service;
  const main = svc.targetPort ?? svc.port;
  const ports = new Map<string, number>();
  for (const container of podSpec?.containers ?? []) {
    if (SIDECAR_CONTAINERS.has(container.name)) continue;
    (container.ports ?? []).forEach((p, index) => {
      if (typeof main === 'number' ? p.containerPort === main : p.name === main) return;
      ports.set(p.name || `tcp-${container.name}-${index}`, p.containerPort);
    });
  }
  return [...ports]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, port]) => ({
      name,
      port,
      protocol: 'TCP',
      targetPort: port as V1ServicePort['targetPort'],
    }));
}

function buildService(
  canary: Canary,
  name: string,
  selector: Record<string, string>,
  ports: V1ServicePort[],
  extra: ServiceMetadata | undefined,
): Service {
  const metadata: Service['metadata'] = {
    name,
    namespace: canary.metadata.namespace,
    labels: { ...extra?.labels, ...managedLabels() },
    ownerReferences: [canaryOwnerReference(canary)],
  };
  if (extra?.annotations && Object.keys(extra.annotations).length)
    metadata.annotations = { ...extra.annotations };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: { type: 'ClusterIP', selector, ports: structuredClone(ports) },
  };
}

/** The fields of a Service port Petrel sets; the API server fills in the rest. */
function portView(p: V1ServicePort): unknown {
  return {
    name: p.name,
    port: p.port,
    protocol: p.protocol ?? 'TCP',
    targetPort: p.targetPort ?? p.port,
    appProtocol: p.appProtocol,
  };
}

/** Labels and annotations from spec.service.apex/primary/canary that the live Service lacks or holds another value of. */
function extraMetadataPatch(actual: Service, desired: Service): Record<string, unknown> | undefined {
  const patch: Record<string, Record<string, string>> = {};
  for (const field of ['labels', 'annotations'] as const) {
    const want = desired.metadata?.[field] ?? {};
    const have = actual.metadata?.[field] ?? {};
    const changed = Object.entries(want).filter(([key, value]) => have[key] !== value);
    if (changed.length) patch[field] = Object.fromEntries(changed);
  }
  return Object.keys(patch).length ? patch : undefined;
}

/**
 * The merge patch that brings `actual` in line with `desired` on the fields Petrel owns (selector,
 * ports, its label and owner reference); undefined when nothing differs. clusterIP, other labels and
 * annotations are never touched.
 */
export function servicePatch(
  actual: Service,
  desired: Service,
  canary: Canary,
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  const spec: Record<string, unknown> = {};
  if (!isDeepStrictEqual(actual.spec?.selector ?? {}, desired.spec?.selector ?? {})) {
    const selector: Record<string, string | null> = { ...desired.spec?.selector };
    for (const key of Object.keys(actual.spec?.selector ?? {})) {
      if (!(key in selector)) selector[key] = null;
    }
    spec.selector = selector;
  }
  const actualPorts = (actual.spec?.ports ?? []).map(portView);
  const desiredPorts = (desired.spec?.ports ?? []).map(portView);
  if (!isDeepStrictEqual(actualPorts, desiredPorts)) spec.ports = desired.spec?.ports;
  if (Object.keys(spec).length) patch.spec = spec;
  const meta = ownershipPatch(actual, canary);
  const extra = extraMetadataPatch(actual, desired);
  if (meta || extra) patch.metadata = mergeMetadataPatches(meta, extra);
  return Object.keys(patch).length ? patch : undefined;
}

function mergeMetadataPatches(
  a: Record<string, unknown> | undefined,
  b: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b ?? {})) {
    const left = out[key];
    out[key] =
      typeof left === 'object' && left !== null && typeof value === 'object' && value !== null
        ? { ...value, ...left }
        : value;
  }
  return out;
}

/** Creates or patches each Service only where it differs from the cache; returns the number of writes. */
export async function reconcileServices(
  api: KubeApi,
  cache: WriteThroughCache<Service>,
  canary: Canary,
  label: SelectorLabel,
  podSpec?: V1PodSpec,
): Promise<number> {
  let writes = 0;
  for (const desired of buildServices(canary, label, podSpec)) {
    const ns = desired.metadata?.namespace ?? '';
    const name = desired.metadata?.name ?? '';
    const actual = cache.get(ns, name);
    if (!actual) {
      cache.remember(await api.create(RESOURCES.service, desired));
      writes++;
      continue;
    }
    assertOwnedBy(actual, canary, 'Service');
    const patch = servicePatch(actual, desired, canary);
    if (!patch) continue;
    await patchOrCreate(api, RESOURCES.service, cache, patch, desired);
    writes++;
  }
  return writes;
}
