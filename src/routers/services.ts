import { isDeepStrictEqual } from 'node:util';
import type { V1ServicePort, V1ServiceSpec } from '@kubernetes/client-node';
import type { Canary } from '../api/canary.ts';
import { canaryName, primaryName, type SelectorLabel } from '../kube/names.ts';
import { assertOwnedBy, canaryOwnerReference, managedLabels, ownershipPatch } from '../kube/ownership.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { patchOrCreate, type WriteThroughCache } from '../kube/write-through.ts';

export interface Service extends KubeObject {
  spec?: V1ServiceSpec;
}

/** The three Services of a Canary: the apex `<target>` and `<target>-primary` select the primary pods. */
export function buildServices(canary: Canary, label: SelectorLabel): Service[] {
  const target = canary.spec.targetRef.name;
  const primaryValue = `${label.value}-primary`;
  return [
    buildService(canary, target, { [label.key]: primaryValue }),
    buildService(canary, primaryName(target), { [label.key]: primaryValue }),
    buildService(canary, canaryName(target), { [label.key]: label.value }),
  ];
}

function servicePort(canary: Canary): V1ServicePort {
  const svc = canary.spec.service;
  return {
    name: svc.portName ?? 'http',
    port: svc.port,
    protocol: 'TCP',
    targetPort: (svc.targetPort ?? svc.port) as V1ServicePort['targetPort'],
  };
}

function buildService(canary: Canary, name: string, selector: Record<string, string>): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: canary.metadata.namespace,
      labels: managedLabels(),
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec: { type: 'ClusterIP', selector, ports: [servicePort(canary)] },
  };
}

/** The fields of a Service port Petrel sets; the API server fills in the rest. */
function portView(p: V1ServicePort): unknown {
  return { name: p.name, port: p.port, protocol: p.protocol ?? 'TCP', targetPort: p.targetPort ?? p.port };
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
  if (meta) patch.metadata = meta;
  return Object.keys(patch).length ? patch : undefined;
}

/** Creates or patches each Service only where it differs from the cache; returns the number of writes. */
export async function reconcileServices(
  api: KubeApi,
  cache: WriteThroughCache<Service>,
  canary: Canary,
  label: SelectorLabel,
): Promise<number> {
  let writes = 0;
  for (const desired of buildServices(canary, label)) {
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
