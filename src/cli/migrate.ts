import { writeFile } from 'node:fs/promises';
import { Document, parseAllDocuments } from 'yaml';
import { CANARY_PROVIDERS } from '../api/constants.ts';
import { NOT_SUPPORTED } from '../api/flagger-compat.ts';
import { checkPromQLTemplate } from '../api/promql.ts';
import { validatePetrelResource, withDefaultProvider } from '../api/resource.ts';
import { parseCommandLine, usageError } from './command-line.ts';
import { describeReadError, type LintSource, readAll, readSources } from './lint.ts';
import { migrateDocument } from './migrate-rules.ts';
import type { Command } from './run.ts';

const USAGE = `usage: petrel migrate [--write] [--mesh-provider NAME] FILE|DIR|- ...
  Rewrites Flagger's Canary, MetricTemplate and AlertProvider objects (flagger.app, any version) as
  Petrel's (petrel.dev/v1alpha1): the apiVersion, canaryAnalysis -> analysis, metrics[].threshold ->
  thresholdRange, inline metric queries -> a MetricTemplate, renamed providers. Comments and other
  documents are kept. Folders are searched for *.yaml and *.yml; - reads stdin.
  The migrated YAML goes to stdout, or back into each file with --write; stderr lists every change
  and every field with no equivalent in Petrel, as:
    FILE#DOC KIND NAMESPACE/NAME: WHAT
  --write               rewrite the files in place (not with -)
  --mesh-provider NAME  the provider of Canaries that do not set one, as the controller will run
                        them (${CANARY_PROVIDERS.join(', ')}; default istio) [PETREL_MESH_PROVIDER]
  Exit status: 0 everything migrated, 1 something has no equivalent (see stderr), 2 unreadable input.
`;

const COMMAND_LINE = {
  command: 'petrel migrate',
  usage: USAGE,
  flags: { write: { type: 'boolean' }, 'mesh-provider': { type: 'string' } },
  positionals: true,
} as const;

export const EXIT_MIGRATED = 0;
export const EXIT_NO_EQUIVALENT = 1;
export const EXIT_UNREADABLE = 2;

/** What migrating some sources found: lines for stderr and the rewritten texts. */
export interface MigrationReport {
  changes: string[];
  /** Fields left as they were because Petrel has nothing that does the same (or that are invalid). */
  remaining: string[];
  unreadable: string[];
  objects: number;
  outputs: { name: string; text: string; changed: boolean }[];
}

export const migrateCommand: Command = async (args, io) => {
  if (args.length === 0) {
    io.stderr.write(USAGE);
    return EXIT_UNREADABLE;
  }
  const parsed = parseCommandLine(args, io, COMMAND_LINE);
  if (typeof parsed === 'number') return parsed;
  const meshProvider = parsed.values['mesh-provider'] ?? (io.env.PETREL_MESH_PROVIDER || undefined);
  if (meshProvider !== undefined && !(CANARY_PROVIDERS as readonly string[]).includes(meshProvider))
    return usageError(io, COMMAND_LINE, `--mesh-provider: must be one of ${CANARY_PROVIDERS.join(', ')}`);
  const write = parsed.values.write === true;
  if (write && parsed.positionals.includes('-'))
    return usageError(io, COMMAND_LINE, '--write cannot rewrite stdin: drop --write or name files');
  const report: MigrationReport = { changes: [], remaining: [], unreadable: [], objects: 0, outputs: [] };
  for (const arg of parsed.positionals) {
    let sources: LintSource[];
    try {
      sources = arg === '-' ? [{ name: '<stdin>', text: await readAll(io.stdin) }] : await readSources(arg);
    } catch (error) {
      report.unreadable.push(`${arg}: ${describeReadError(error)}`);
      continue;
    }
    for (const source of sources) migrateSource(source, report, { meshProvider });
  }
  if (report.unreadable.length === 0) {
    for (const output of report.outputs) {
      if (write) {
        if (output.changed) await writeFile(output.name, output.text);
      } else {
        if (report.outputs.length > 1) io.stdout.write(`# petrel migrate: ${output.name}\n`);
        io.stdout.write(output.text);
      }
    }
  }
  for (const line of [...report.changes, ...report.remaining, ...report.unreadable])
    io.stderr.write(`${line}\n`);
  io.stderr.write(`${summary(report, write)}\n`);
  if (report.unreadable.length > 0) return EXIT_UNREADABLE;
  return report.remaining.length > 0 ? EXIT_NO_EQUIVALENT : EXIT_MIGRATED;
};

/** Migrates one YAML text into `report`; exported for tests and the compatibility check. */
export function migrateSource(
  source: LintSource,
  report: MigrationReport,
  options: { meshProvider?: string | undefined } = {},
): void {
  const documents = parseAllDocuments(source.text, { version: '1.1', prettyErrors: false });
  if (!Array.isArray(documents)) {
    report.outputs.push({ name: source.name, text: source.text, changed: false });
    return;
  }
  const out: Document[] = [];
  let changed = false;
  for (const [index, document] of documents.entries()) {
    const label = `${source.name}#${index + 1}`;
    if (document.errors.length > 0) {
      report.unreadable.push(`${label}: not valid YAML: ${document.errors[0]!.message.split('\n')[0]}`);
      return;
    }
    out.push(document);
    const migration = migrateDocument(document);
    if (!migration) continue;
    changed = true;
    report.objects += 1;
    const object = document.toJS({ maxAliasCount: 100 }) as object;
    const title = `${label} ${titleOf(object)}`;
    for (const change of migration.changes) report.changes.push(`${title}: ${change}`);
    recordRemaining(object, title, report, options.meshProvider);
    for (const extra of migration.extra) {
      const added = new Document(extra, { version: '1.1' });
      if (added.directives) added.directives.docStart = true;
      out.push(added);
      recordRemaining(extra, `${label}+ ${titleOf(extra)}`, report, options.meshProvider);
    }
  }
  const text = out.map((d) => String(d)).join('');
  report.outputs.push({ name: source.name, text: changed ? text : source.text, changed });
}

function recordRemaining(
  object: object,
  title: string,
  report: MigrationReport,
  meshProvider?: string,
): void {
  const result = validatePetrelResource(withDefaultProvider(object, meshProvider));
  const issues = result.ok
    ? result.value.kind === 'MetricTemplate'
      ? checkPromQLTemplate(result.value.spec.query)
      : []
    : result.issues;
  for (const issue of issues) {
    const what = issue.message.startsWith(NOT_SUPPORTED) ? 'no equivalent' : 'still invalid';
    report.remaining.push(`${title}: ${what}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`);
  }
}

function titleOf(object: object): string {
  const { kind, metadata } = object as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const name = typeof metadata?.name === 'string' ? metadata.name : '<no name>';
  const ns = typeof metadata?.namespace === 'string' ? `${metadata.namespace}/` : '';
  return `${String(kind)} ${ns}${name}`;
}

function summary(report: MigrationReport, write: boolean): string {
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const files = report.outputs.filter((o) => o.changed).length;
  return (
    `${count(report.objects, 'Flagger object')} migrated with ${count(report.changes.length, 'change')}` +
    ` in ${count(files, 'file')}${write ? ' (written)' : ''}; ` +
    `${count(report.remaining.length, 'field')} with no equivalent or still invalid` +
    (report.unreadable.length ? `; ${report.unreadable.length} unreadable` : '')
  );
}
