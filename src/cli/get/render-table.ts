import { ago } from '../../view/durations.ts';
import type { CanaryRow } from '../../view/model.ts';
import type { Style } from './style.ts';

const MAX_NOTE = 80;

/** The table of canaries, kubectl style: upper-case headers, columns padded to their widest cell. */
export function renderTable(
  rows: readonly CanaryRow[],
  style: Style,
  opts: { allNamespaces: boolean; now: Date },
): string[] {
  if (rows.length === 0)
    return [opts.allNamespaces ? 'No canaries found.' : 'No canaries found in this namespace.'];
  const headers = [
    ...(opts.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'PHASE',
    'WEIGHT',
    'STEP',
    'FAILED',
    'AGE',
    'NOTE',
  ];
  const cells = rows.map((row) => [
    ...(opts.allNamespaces ? [row.namespace] : []),
    row.name,
    row.phase,
    `${row.weight}%`,
    row.step,
    row.failedChecks,
    ago(row.since, opts.now) ?? '-',
    row.note.length > MAX_NOTE ? `${row.note.slice(0, MAX_NOTE - 3)}...` : row.note,
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const phaseColumn = headers.indexOf('PHASE');
  const line = (values: string[], paint = false) =>
    values
      .map((v, i) => {
        const padded = i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0);
        if (!paint || i !== phaseColumn) return padded;
        return v.startsWith('Failed')
          ? style.bad(padded)
          : v.startsWith('Succeeded')
            ? style.good(padded)
            : padded;
      })
      .join('   ')
      .trimEnd();
  return [style.bold(line(headers)), ...cells.map((c) => line(c, true))];
}
