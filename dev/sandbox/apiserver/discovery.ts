import { createHash } from 'node:crypto';
import type { ResourceRegistry } from './resources.ts';
import { groupVersion, type ResourceType } from './types.ts';

export const SERVER_VERSION = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.0-petrel-sandbox',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.24.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const SUBRESOURCE_VERBS = ['get', 'patch', 'update'];

function versionInfo(type: ResourceType, version: string) {
  return type.versions.find((v) => v.name === version)!;
}

/** Legacy discovery: the APIResourceList of one group/version. */
export function resourceList(registry: ResourceRegistry, group: string, version: string) {
  const resources: Record<string, unknown>[] = [];
  for (const type of registry.typesIn(group, version).sort((a, b) => a.plural.localeCompare(b.plural))) {
    const info = versionInfo(type, version);
    const entry: Record<string, unknown> = {
      name: type.plural,
      singularName: type.singular,
      namespaced: type.namespaced,
      kind: type.kind,
      verbs: type.verbs,
    };
    if (type.shortNames.length > 0) entry.shortNames = type.shortNames;
    if (type.categories.length > 0) entry.categories = type.categories;
    entry.storageVersionHash = createHash('sha256')
      .update(`${type.group}/${type.plural}`)
      .digest('base64')
      .slice(0, 11);
    resources.push(entry);
    if (info.hasStatus)
      resources.push({
        name: `${type.plural}/status`,
        singularName: '',
        namespaced: type.namespaced,
        kind: type.kind,
        verbs: SUBRESOURCE_VERBS,
      });
    if (info.hasScale)
      resources.push({
        name: `${type.plural}/scale`,
        singularName: '',
        namespaced: type.namespaced,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: SUBRESOURCE_VERBS,
      });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources };
}

export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(group: string, versions: string[]) {
  const list = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(registry: ResourceRegistry) {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: registry
      .groups()
      .filter((g) => g.group !== '')
      .map((g) => apiGroup(g.group, g.versions)),
  };
}

export function apiGroupDocument(registry: ResourceRegistry, group: string) {
  const found = registry.groups().find((g) => g.group === group);
  return found ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, found.versions) } : undefined;
}

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Aggregated discovery (apidiscovery.k8s.io/v2): all groups with their resources in one document. */
export function aggregatedDiscovery(registry: ResourceRegistry, legacy: boolean) {
  const groups = registry.groups().filter((g) => (legacy ? g.group === '' : g.group !== ''));
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: groups.map((g) => ({
      metadata: { name: g.group, creationTimestamp: null },
      versions: g.versions.map((version) => ({
        version,
        resources: registry
          .typesIn(g.group, version)
          .sort((a, b) => a.plural.localeCompare(b.plural))
          .map((type) => {
            const info = versionInfo(type, version);
            const subresources: Record<string, unknown>[] = [];
            if (info.hasStatus)
              subresources.push({
                subresource: 'status',
                responseKind: { group: type.group, version, kind: type.kind },
                verbs: SUBRESOURCE_VERBS,
              });
            if (info.hasScale)
              subresources.push({
                subresource: 'scale',
                responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
                verbs: SUBRESOURCE_VERBS,
              });
            const entry: Record<string, unknown> = {
              resource: type.plural,
              responseKind: { group: type.group, version, kind: type.kind },
              scope: type.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: type.singular,
              verbs: type.verbs,
            };
            if (type.shortNames.length > 0) entry.shortNames = type.shortNames;
            if (type.categories.length > 0) entry.categories = type.categories;
            if (subresources.length > 0) entry.subresources = subresources;
            return entry;
          }),
        freshness: 'Current',
      })),
    })),
  };
}

function openApiPath(type: ResourceType, version: string): string {
  const prefix = type.group ? `/apis/${type.group}/${version}` : `/api/${version}`;
  return type.namespaced
    ? `${prefix}/namespaces/{namespace}/${type.plural}/{name}`
    : `${prefix}/${type.plural}/{name}`;
}

/**
 * A minimal OpenAPI v3 document for one group/version. It declares, for each kind, that PATCH
 * accepts the fieldValidation parameter, so kubectl leaves validation to the server instead of
 * downloading full schemas for client-side validation.
 */
export function openApiV3Document(registry: ResourceRegistry, group: string, version: string) {
  const paths: Record<string, unknown> = {};
  for (const type of registry.typesIn(group, version)) {
    const gvk = { group: type.group, version, kind: type.kind };
    const parameters = [
      { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
    ];
    paths[openApiPath(type, version)] = {
      get: { 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvk, responses: {} },
      put: {
        'x-kubernetes-action': 'put',
        'x-kubernetes-group-version-kind': gvk,
        parameters,
        responses: {},
      },
      patch: {
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
        parameters,
        responses: {},
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion },
    paths,
    components: { schemas: {} },
  };
}

export function openApiV3Root(registry: ResourceRegistry) {
  const paths: Record<string, unknown> = {};
  for (const { group, versions } of registry.groups()) {
    for (const version of versions) {
      const key = group ? `apis/${group}/${version}` : `api/${version}`;
      const hash = createHash('sha256')
        .update(JSON.stringify(openApiV3Document(registry, group, version)))
        .digest('hex')
        .slice(0, 32)
        .toUpperCase();
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
  }
  return { paths };
}
