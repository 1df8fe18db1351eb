import { ALL_VERBS, type KubeObject, type ResourceType, storageKey, type Verb } from './types.ts';

interface BuiltinSpec {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  status?: boolean;
  scale?: boolean;
  tracksGeneration?: boolean;
  fieldSelectors?: string[];
  categories?: string[];
}

const EVENT_FIELDS = [
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.name',
  'involvedObject.uid',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reason',
  'reportingComponent',
  'source',
  'type',
];

const BUILTINS: BuiltinSpec[] = [
  {
    group: '',
    version: 'v1',
    plural: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    status: true,
    fieldSelectors: ['status.phase'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'services',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    status: true,
    categories: ['all'],
    fieldSelectors: ['spec.clusterIP', 'spec.type'],
  },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, fieldSelectors: ['type'] },
  {
    group: '',
    version: 'v1',
    plural: 'events',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    fieldSelectors: EVENT_FIELDS,
  },
  {
    group: 'events.k8s.io',
    version: 'v1',
    plural: 'events',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    fieldSelectors: [
      'regarding.kind',
      'regarding.name',
      'regarding.namespace',
      'regarding.uid',
      'reason',
      'type',
      'reportingController',
    ],
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    shortNames: ['deploy'],
    status: true,
    scale: true,
    tracksGeneration: true,
    categories: ['all'],
  },
  {
    group: 'autoscaling',
    version: 'v2',
    plural: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
    shortNames: ['hpa'],
    status: true,
    tracksGeneration: true,
    categories: ['all'],
  },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  // Stored and served, with no behaviour behind them: enough for `helm install` of our chart.
  {
    group: '',
    version: 'v1',
    plural: 'serviceaccounts',
    kind: 'ServiceAccount',
    namespaced: true,
    shortNames: ['sa'],
  },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'rolebindings',
    kind: 'RoleBinding',
    namespaced: true,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterroles',
    kind: 'ClusterRole',
    namespaced: false,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    namespaced: false,
  },
  {
    group: 'policy',
    version: 'v1',
    plural: 'poddisruptionbudgets',
    kind: 'PodDisruptionBudget',
    namespaced: true,
    shortNames: ['pdb'],
    status: true,
    tracksGeneration: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
    shortNames: ['netpol'],
    tracksGeneration: true,
  },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    kind: 'CustomResourceDefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    status: true,
    tracksGeneration: true,
    categories: ['api-extensions'],
  },
];

function builtinType(spec: BuiltinSpec): ResourceType {
  return {
    group: spec.group,
    plural: spec.plural,
    singular: spec.kind.toLowerCase(),
    kind: spec.kind,
    listKind: `${spec.kind}List`,
    namespaced: spec.namespaced,
    shortNames: spec.shortNames ?? [],
    categories: spec.categories ?? [],
    versions: [
      {
        name: spec.version,
        served: true,
        storage: true,
        printerColumns: [],
        hasStatus: spec.status ?? false,
        hasScale: spec.scale ?? false,
      },
    ],
    builtin: true,
    tracksGeneration: spec.tracksGeneration ?? false,
    fieldSelectors: spec.fieldSelectors ?? [],
    verbs: [...ALL_VERBS],
  };
}

export const CRD_TYPE_KEY = 'customresourcedefinitions.apiextensions.k8s.io';
export const NAMESPACE_TYPE_KEY = 'namespaces';

/** The kinds the server serves: the built-ins plus whatever established CRDs define. */
export class ResourceRegistry {
  private readonly types = new Map<string, ResourceType>();

  constructor() {
    for (const spec of BUILTINS) {
      const type = builtinType(spec);
      this.types.set(storageKey(type), type);
    }
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }

  byKey(key: string): ResourceType | undefined {
    return this.types.get(key);
  }

  /** The type serving group/version/plural, or undefined when that version is not served. */
  lookup(group: string, version: string, plural: string): ResourceType | undefined {
    const type = this.types.get(storageKey({ group, plural }));
    if (!type) return undefined;
    return type.versions.some((v) => v.name === version && v.served) ? type : undefined;
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
    return this.all().find(
      (t) => t.group === group && t.kind === kind && t.versions.some((v) => v.name === version),
    );
  }

  /** Groups in discovery order (core first, then by name), each with its versions, preferred first. */
  groups(): { group: string; versions: string[] }[] {
    const byGroup = new Map<string, string[]>();
    for (const type of this.types.values()) {
      const versions = byGroup.get(type.group) ?? [];
      for (const v of type.versions) if (v.served && !versions.includes(v.name)) versions.push(v.name);
      byGroup.set(type.group, versions);
    }
    return [...byGroup.entries()]
      .map(([group, versions]) => ({ group, versions: sortVersions(versions) }))
      .sort((a, b) => (a.group === '' ? -1 : b.group === '' ? 1 : a.group.localeCompare(b.group)));
  }

  typesIn(group: string, version: string): ResourceType[] {
    return this.all().filter(
      (t) => t.group === group && t.versions.some((v) => v.name === version && v.served),
    );
  }

  registerCrd(crd: KubeObject): ResourceType {
    const type = resourceTypeFromCrd(crd);
    const key = storageKey(type);
    const existing = this.types.get(key);
    if (existing?.builtin) throw new Error(`CRD ${crd.metadata.name} would shadow the built-in ${key}`);
    this.types.set(key, type);
    return type;
  }

  unregisterCrd(crd: KubeObject): ResourceType | undefined {
    const spec = crd.spec as { group?: string; names?: { plural?: string } } | undefined;
    const key = storageKey({ group: spec?.group ?? '', plural: spec?.names?.plural ?? '' });
    const existing = this.types.get(key);
    if (!existing || existing.builtin) return undefined;
    this.types.delete(key);
    return existing;
  }
}

/** Kubernetes version priority: GA > beta > alpha, higher numbers first. */
export function sortVersions(versions: string[]): string[] {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0];
    const stage = m[2] === 'alpha' ? 2 : m[2] === 'beta' ? 1 : 0;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  return [...versions].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2] || a.localeCompare(b);
  });
}

interface CrdVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: Record<string, unknown> };
  subresources?: { status?: unknown; scale?: unknown };
  additionalPrinterColumns?: {
    name: string;
    type: string;
    jsonPath: string;
    description?: string;
    format?: string;
    priority?: number;
  }[];
}

/** Builds a served type from a CRD that has passed validation (see crd-validation.ts). */
export function resourceTypeFromCrd(crd: KubeObject): ResourceType {
  const spec = crd.spec as {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: {
      plural: string;
      singular?: string;
      kind: string;
      listKind?: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: CrdVersion[];
  };
  const verbs: Verb[] = [...ALL_VERBS];
  return {
    group: spec.group,
    plural: spec.names.plural,
    singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
    kind: spec.names.kind,
    listKind: spec.names.listKind ?? `${spec.names.kind}List`,
    namespaced: spec.scope === 'Namespaced',
    shortNames: spec.names.shortNames ?? [],
    categories: spec.names.categories ?? [],
    versions: spec.versions.map((v) => ({
      name: v.name,
      served: v.served ?? true,
      storage: v.storage ?? false,
      schema: v.schema?.openAPIV3Schema,
      printerColumns: v.additionalPrinterColumns ?? [],
      hasStatus: v.subresources?.status !== undefined,
      hasScale: v.subresources?.scale !== undefined,
    })),
    builtin: false,
    tracksGeneration: true,
    fieldSelectors: [],
    verbs,
  };
}
