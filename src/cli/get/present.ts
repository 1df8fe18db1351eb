import type { KubeObject } from '../../kube/types.ts';
import { canaryRow, viewCanary } from '../../view/canary-view.ts';
import { formatDocument, type OutputFormat } from './output.ts';
import { renderCanary } from './render-canary.ts';
import { renderTable } from './render-table.ts';
import { canaryIn, eventsOf, freezesOf, type Scope, type Snapshot } from './source.ts';
import type { Style } from './style.ts';

/** What `petrel get` was asked to show. */
export interface Request {
  scope: Scope;
  allNamespaces: boolean;
  output?: OutputFormat;
  watch: boolean;
}

/** What one snapshot shows: the lines of a view, or a document for scripts. */
export function present(
  snapshot: Snapshot,
  request: Request,
  style: Style,
  now: Date,
  watching: boolean,
  problem?: string,
): { lines: string[]; text: string } {
  const { namespace, name } = request.scope;
  const footer = [
    ...(problem ? ['', style.warn(problem)] : []),
    ...Object.entries(snapshot.unreadable).map(([kind, why]) => style.dim(`(${kind} not shown: ${why})`)),
  ];
  if (name) {
    const canary = canaryIn(snapshot, namespace ?? '', name);
    if (!canary) {
      const lines = [
        `Canary ${namespace}/${name} was deleted; waiting for it to be created again (Ctrl-C to stop)`,
        ...footer,
      ];
      return {
        lines,
        text:
          request.output === 'json' || request.output === 'yaml'
            ? formatDocument({ deleted: true, namespace, name }, request.output, watching)
            : `${lines.join('\n')}\n`,
      };
    }
    const view = viewCanary(canary, eventsOf(snapshot, namespace ?? '', name), {
      now,
      freezes: freezesOf(snapshot, canary),
    });
    if (request.output === 'json' || request.output === 'yaml')
      return { lines: [], text: formatDocument(view, request.output, watching) };
    if (request.output === 'name') return lines([`canary.petrel.dev/${name}`]);
    return lines([...renderCanary(view, style, now), ...footer]);
  }
  const canaries = [...snapshot.canaries].sort(byNamespaceAndName);
  if (request.output === 'json' || request.output === 'yaml') {
    const items = canaries.map((c) => viewCanary(c, [], { now, freezes: freezesOf(snapshot, c) }));
    return { lines: [], text: formatDocument({ items }, request.output, watching) };
  }
  if (request.output === 'name') return lines(canaries.map((c) => `canary.petrel.dev/${c.metadata?.name}`));
  const rows = canaries.map((c) => canaryRow(c, { now, freezes: freezesOf(snapshot, c) }));
  return lines([...renderTable(rows, style, { allNamespaces: request.allNamespaces, now }), ...footer]);
}

function lines(list: string[]): { lines: string[]; text: string } {
  return { lines: list, text: list.length > 0 ? `${list.join('\n')}\n` : '' };
}

function byNamespaceAndName(a: KubeObject, b: KubeObject): number {
  const key = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  return key(a).localeCompare(key(b));
}
