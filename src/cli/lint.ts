import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { LineCounter, parseAllDocuments } from 'yaml';
import { CANARY_PROVIDERS } from '../api/constants.ts';
import { flaggerKind } from '../api/flagger-compat.ts';
import { checkPromQLTemplate } from '../api/promql.ts';
import { isPetrelObject, validatePetrelResource, withDefaultProvider } from '../api/resource.ts';
import { parseCommandLine, usageError } from './command-line.ts';
import type { Command } from './run.ts';

const USAGE = `usage: petrel lint [--mesh-provider NAME] FILE|DIR|- ...
  Validates every petrel.dev resource in the YAML files given (folders are searched for
  *.yaml and *.yml, - reads stdin) and prints one line per problem:
    FILE#DOC KIND NAMESPACE/NAME: FIELD: PROBLEM
  DOC counts the YAML documents in a file from 1; objects inside a v1 List (kubectl get -o yaml)
  are shown as DOC.items[N], counted from 0. Flagger's flagger.app objects are reported with the
  command that rewrites them (petrel migrate). Other kinds are skipped.
  --mesh-provider NAME  spec.provider of Canaries that do not set it, as the controller's flag of
                        that name (${CANARY_PROVIDERS.join(', ')}; default istio) [PETREL_MESH_PROVIDER]
  Exit status: 0 all valid, 1 problems found, 2 input could not be read or parsed.
`;

const COMMAND_LINE = {
  command: 'petrel lint',
  usage: USAGE,
  flags: { 'mesh-provider': { type: 'string' } },
  positionals: true,
} as const;

export const EXIT_VALID = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_UNREADABLE = 2;

export interface LintSource {
  name: string;
  text: string;
}

/** Problems and unreadable inputs found while linting; rendered by the command. */
export interface LintReport {
  problems: string[];
  unreadable: string[];
  resources: number;
  files: number;
  /** flagger.app objects seen (each is also a problem). */
  flaggerObjects?: number;
}

export interface LintOptions {
  /** spec.provider of Canaries that do not set it (the controller's --mesh-provider). */
  meshProvider?: string;
}

export const lintCommand: Command = async (args, io) => {
  if (args.length === 0) {
    io.stderr.write(USAGE);
    return EXIT_UNREADABLE;
  }
  const parsed = parseCommandLine(args, io, COMMAND_LINE);
  if (typeof parsed === 'number') return parsed;
  const meshProvider = parsed.values['mesh-provider'] ?? (io.env.PETREL_MESH_PROVIDER || undefined);
  if (meshProvider !== undefined && !(CANARY_PROVIDERS as readonly string[]).includes(meshProvider)) {
    return usageError(io, COMMAND_LINE, `--mesh-provider: must be one of ${CANARY_PROVIDERS.join(', ')}`);
  }
  const options: LintOptions = { meshProvider };
  const report: LintReport = { problems: [], unreadable: [], resources: 0, files: 0 };
  for (const arg of parsed.positionals) {
    let sources: LintSource[];
    try {
      sources = arg === '-' ? [{ name: '<stdin>', text: await readAll(io.stdin) }] : await readSources(arg);
    } catch (error) {
      report.unreadable.push(`${arg}: ${describeReadError(error)}`);
      continue;
    }
    for (const source of sources) lintSource(source, report, options);
  }
  for (const line of report.problems) io.stdout.write(`${line}\n`);
  for (const line of report.unreadable) io.stderr.write(`${line}\n`);
  io.stderr.write(`${summary(report)}\n`);
  if (report.unreadable.length > 0) return EXIT_UNREADABLE;
  return report.problems.length > 0 ? EXIT_PROBLEMS : EXIT_VALID;
};

/** Lints one YAML text, adding to `report`; exported for tests and other callers that hold text already. */
export function lintSource(source: LintSource, report: LintReport, options: LintOptions = {}): void {
  report.files += 1;
  const lineCounter = new LineCounter();
  // YAML 1.1, as kubectl, Argo CD and Flux read manifests (sigs.k8s.io/yaml): `suspend: yes` is a boolean there.
  const documents = parseAllDocuments(source.text, { lineCounter, prettyErrors: false, version: '1.1' });
  if (!Array.isArray(documents)) return; // an empty stream (only comments or directives)
  documents.forEach((document, index) => {
    const label = `${source.name}#${index + 1}`;
    const syntaxError = document.errors[0];
    if (syntaxError) {
      const { line, col } = lineCounter.linePos(syntaxError.pos[0]);
      report.unreadable.push(
        `${source.name}:${line}:${col}: not valid YAML (document ${index + 1}): ${firstLine(syntaxError.message)}`,
      );
      return;
    }
    let object: unknown;
    try {
      object = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // The only failure left after parsing: alias expansion beyond the limit (a "billion laughs" file).
      report.unreadable.push(
        `${source.name}: document ${index + 1} cannot be expanded: ${(error as Error).message}`,
      );
      return;
    }
    if (object === null || object === undefined) return;
    if (typeof object !== 'object' || Array.isArray(object)) {
      const { line, col } = lineCounter.linePos(document.contents?.range[0] ?? 0);
      report.unreadable.push(
        `${source.name}:${line}:${col}: document ${index + 1} is not a Kubernetes object (expected a mapping with apiVersion and kind)`,
      );
      return;
    }
    if (isKubernetesList(object)) {
      for (const [itemIndex, item] of object.items.entries())
        lintObject(item, `${label}.items[${itemIndex}]`, report, options, source.name);
    } else {
      lintObject(object, label, report, options, source.name);
    }
  });
}

/** `kubectl get ... -o yaml` wraps several objects in a v1 List. */
function isKubernetesList(object: object): object is { items: unknown[] } {
  const { apiVersion, kind, items } = object as { apiVersion?: unknown; kind?: unknown; items?: unknown };
  return apiVersion === 'v1' && typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items);
}

function lintObject(
  object: unknown,
  label: string,
  report: LintReport,
  options: LintOptions,
  sourceName: string,
): void {
  const flagger = flaggerKind(object);
  if (flagger) {
    report.flaggerObjects = (report.flaggerObjects ?? 0) + 1;
    const { apiVersion } = object as { apiVersion: string };
    const file = sourceName === '<stdin>' ? '-' : sourceName;
    report.problems.push(
      `${label} ${resourceTitle(object as object)}: apiVersion: ${apiVersion} is a Flagger ${flagger}, which Petrel does not read: rewrite it with \`petrel migrate ${file}\``,
    );
    return;
  }
  if (!isPetrelObject(object)) return;
  report.resources += 1;
  const title = `${label} ${resourceTitle(object)}`;
  const result = validatePetrelResource(withDefaultProvider(object, options.meshProvider));
  const issues = result.ok
    ? result.value.kind === 'MetricTemplate'
      ? checkPromQLTemplate(result.value.spec.query)
      : []
    : result.issues;
  for (const issue of issues)
    report.problems.push(`${title}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`);
}

function resourceTitle(object: { kind?: unknown; metadata?: unknown }): string {
  const kind = typeof object.kind === 'string' && object.kind ? object.kind : '<no kind>';
  const metadata = (typeof object.metadata === 'object' && object.metadata) || {};
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  const shownName = typeof name === 'string' && name ? name : '<no name>';
  return typeof namespace === 'string' && namespace
    ? `${kind} ${namespace}/${shownName}`
    : `${kind} ${shownName}`;
}

export async function readSources(path: string): Promise<LintSource[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [{ name: path, text: await readFile(path, 'utf8') }];
  const entries = await readdir(path, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sources: LintSource[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const child = join(path, entry.name);
    if (entry.isDirectory()) sources.push(...(await readSources(child)));
    else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) sources.push(...(await readSources(child)));
  }
  return sources;
}

export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

export function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (error as Error).message ?? String(error);
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

function summary(report: LintReport): string {
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const parts = [
    `${count(report.problems.length, 'problem')} in ${count(report.resources, 'Petrel resource')}`,
  ];
  parts.push(`${count(report.files, 'file')} read`);
  if (report.flaggerObjects) parts.push(`${count(report.flaggerObjects, 'Flagger object')} to migrate`);
  if (report.unreadable.length > 0) parts.push(`${report.unreadable.length} unreadable`);
  return `${parts[0]} (${parts.slice(1).join(', ')})`;
}
