import type { KubeObject, PrinterColumn, ResourceType } from './types.ts';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const NAME: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  priority: 0,
};
const AGE: Column = {
  name: 'Age',
  type: 'date',
  format: '',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  priority: 0,
};

/** kubectl's HumanDuration: "5s", "3m2s", "45m", "5h3m", "2d", "3y". */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

/** Evaluates the simple JSONPath subset used in printer columns: `.status.phase`, `.spec.ports[0].port`, `.a.b\\.c`. */
export function simpleJsonPath(object: unknown, path: string): unknown {
  const cleaned = path.replace(/^\{|\}$/g, '').replace(/^\$/, '');
  // A key may hold escaped dots, as annotation names do: `.metadata.annotations.petrel\.dev/action`.
  const tokens = (cleaned.match(/(?:\\.|[^.[\]\\])+|\[\d+\]/g) ?? []).map((t) => t.replace(/\\\./g, '.'));
  let current: unknown = object;
  for (const token of tokens) {
    if (current === null || typeof current !== 'object') return undefined;
    const index = /^\[(\d+)\]$/.exec(token);
    current = index ? (current as unknown[])[Number(index[1])] : (current as Record<string, unknown>)[token];
  }
  return current;
}

function age(object: KubeObject, now: Date): string {
  const created = object.metadata.creationTimestamp;
  return created ? humanDuration(now.getTime() - Date.parse(created)) : '<unknown>';
}

interface BuiltinTable {
  columns: Column[];
  cells: (object: KubeObject, now: Date) => unknown[];
}

const col = (name: string, type = 'string', priority = 0): Column => ({
  name,
  type,
  format: '',
  description: name,
  priority,
});

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

interface CoreEvent {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { kind?: string; name?: string; fieldPath?: string };
  source?: { component?: string; host?: string };
  // events.k8s.io/v1 names (the same table serves both APIs).
  note?: string;
  regarding?: { kind?: string; name?: string; fieldPath?: string };
  deprecatedCount?: number;
  reportingController?: string;
}

const since = (timestamp: string | undefined, now: Date) =>
  timestamp ? humanDuration(now.getTime() - Date.parse(timestamp)) : '<unknown>';

/** Core v1 Events as kube-apiserver prints them (pkg/printers/internalversion printEvent). */
const EVENTS_TABLE: BuiltinTable = {
  columns: [
    col('Last Seen'),
    col('Type'),
    col('Reason'),
    col('Object'),
    col('Subobject', 'string', 1),
    col('Source', 'string', 1),
    col('Message'),
    col('First Seen', 'string', 1),
    col('Count', 'string', 1),
    { ...NAME, priority: 1 },
  ],
  cells: (o, now) => {
    const e = o as KubeObject & CoreEvent;
    const first = e.firstTimestamp ?? e.eventTime ?? o.metadata.creationTimestamp;
    const last = e.lastTimestamp ?? e.eventTime ?? first;
    const count = e.count ?? e.deprecatedCount ?? 1;
    const involved = e.involvedObject ?? e.regarding;
    const lastSeen =
      count > 1 ? `${since(last, now)} (x${count} over ${since(first, now)})` : since(last, now);
    const source = [e.source?.component ?? e.reportingController, e.source?.host].filter(Boolean).join(', ');
    return [
      lastSeen,
      e.type ?? '',
      e.reason ?? '',
      `${(involved?.kind ?? '').toLowerCase()}/${involved?.name ?? ''}`,
      involved?.fieldPath ?? '',
      source,
      (e.message ?? e.note ?? '').trim(),
      since(first, now),
      String(count),
      o.metadata.name,
    ];
  },
};

const BUILTIN_TABLES: Record<string, BuiltinTable> = {
  events: EVENTS_TABLE,
  deployments: {
    columns: [NAME, col('Ready'), col('Up-to-date', 'integer'), col('Available', 'integer'), AGE],
    cells: (o, now) => {
      const status = (o.status ?? {}) as Record<string, unknown>;
      const spec = (o.spec ?? {}) as Record<string, unknown>;
      return [
        o.metadata.name,
        `${num(status.readyReplicas)}/${num(spec.replicas ?? 1)}`,
        num(status.updatedReplicas),
        num(status.availableReplicas),
        age(o, now),
      ];
    },
  },
  configmaps: {
    columns: [NAME, col('Data', 'integer'), AGE],
    cells: (o, now) => [
      o.metadata.name,
      Object.keys({ ...(o.data as object), ...(o.binaryData as object) }).length,
      age(o, now),
    ],
  },
  secrets: {
    columns: [NAME, col('Type'), col('Data', 'integer'), AGE],
    cells: (o, now) => [
      o.metadata.name,
      o.type ?? 'Opaque',
      Object.keys({ ...(o.data as object), ...(o.stringData as object) }).length,
      age(o, now),
    ],
  },
  namespaces: {
    columns: [NAME, col('Status'), AGE],
    cells: (o, now) => [
      o.metadata.name,
      o.metadata.deletionTimestamp ? 'Terminating' : 'Active',
      age(o, now),
    ],
  },
  services: {
    columns: [NAME, col('Type'), col('Cluster-IP'), col('External-IP'), col('Port(s)'), AGE],
    cells: (o, now) => {
      const spec = (o.spec ?? {}) as {
        type?: string;
        clusterIP?: string;
        ports?: { port?: number; protocol?: string }[];
      };
      const ports = (spec.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',');
      return [
        o.metadata.name,
        spec.type ?? 'ClusterIP',
        spec.clusterIP ?? '<none>',
        '<none>',
        ports || '<none>',
        age(o, now),
      ];
    },
  },
};

function customColumns(printerColumns: PrinterColumn[]): BuiltinTable {
  if (printerColumns.length === 0)
    return { columns: [NAME, AGE], cells: (o, now) => [o.metadata.name, age(o, now)] };
  const columns = [
    NAME,
    ...printerColumns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    })),
  ];
  return {
    columns,
    cells: (o, now) => [
      o.metadata.name,
      ...printerColumns.map((c) => {
        const value = simpleJsonPath(o, c.jsonPath);
        if (value === undefined || value === null) return null;
        if (c.type === 'date' && typeof value === 'string')
          return humanDuration(now.getTime() - Date.parse(value));
        return typeof value === 'object' ? JSON.stringify(value) : value;
      }),
    ],
  };
}

/** A meta.k8s.io/v1 Table, as `kubectl get` asks for, rows carrying PartialObjectMetadata. */
export function toTable(
  type: ResourceType,
  version: string,
  objects: KubeObject[],
  resourceVersion: string,
  now: Date,
  includeObject: 'None' | 'Metadata' | 'Object',
) {
  const printer = type.builtin
    ? (BUILTIN_TABLES[type.plural] ?? customColumns([]))
    : customColumns(type.versions.find((v) => v.name === version)?.printerColumns ?? []);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: printer.columns,
    rows: objects.map((o) => ({
      cells: printer.cells(o, now),
      object:
        includeObject === 'None'
          ? undefined
          : includeObject === 'Object'
            ? o
            : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
