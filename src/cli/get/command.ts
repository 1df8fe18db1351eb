import { parseCommandLine, usageError } from '../command-line.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, type Connection, connect } from '../connection.ts';
import type { CliIo, Command } from '../run.ts';
import { notFound, readError } from './messages.ts';
import { OUTPUT_FORMATS, type OutputFormat } from './output.ts';
import { present, type Request } from './present.ts';
import { Screen } from './screen.ts';
import { canaryIn, readSnapshot, type Snapshot } from './source.ts';
import { stopSignal } from './stop.ts';
import { PLAIN, styleFor } from './style.ts';
import { ClusterWatch } from './watch.ts';

const USAGE = `usage: petrel get canary NAME [-n NAMESPACE] [-w] [-o json|yaml|name]
       petrel get canaries [-n NAMESPACE | -A] [-w] [-o json|yaml|name]

Shows one rollout (phase and what holds it, weight and step, each check's latest value against its
threshold, time to the next step, release windows, revisions of target and primary, recent events), or a
table of canaries. With --watch the view is redrawn on every change the API server reports (a watch, not
polling) until Ctrl-C. Colours only on a terminal (NO_COLOR turns them off).

options:
${CONNECTION_USAGE}  -A, --all-namespaces   every namespace (petrel get canaries)
  -w, --watch          keep the view up to date until Ctrl-C
  -o, --output FORMAT  json or yaml (the view as data; with --watch one document per change), or name
`;

const FLAGS = {
  ...CONNECTION_FLAGS,
  'all-namespaces': { type: 'boolean', short: 'A' },
  watch: { type: 'boolean', short: 'w' },
  output: { type: 'string', short: 'o' },
} as const;

const SINGULAR = new Set(['canary', 'canaries.petrel.dev', 'canary.petrel.dev', 'canaries']);
/** How long a watch may take to list the canaries before the command gives up. */
const SYNC_TIMEOUT_MS = 30_000;

export const getCommand: Command = async (args, io) => {
  const commandLine = { command: 'petrel get', usage: USAGE, flags: FLAGS, positionals: true };
  const parsed = parseCommandLine(args, io, commandLine);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [kind, name, ...extra] = positionals;
  if (!kind || !SINGULAR.has(kind))
    return usageError(io, commandLine, `give a kind: canary NAME or canaries (got ${kind ?? 'nothing'})`);
  if (extra.length > 0) return usageError(io, commandLine, `unexpected argument '${extra[0]}'`);
  if (name && values['all-namespaces'])
    return usageError(io, commandLine, 'a Canary NAME and -A do not go together: name its namespace with -n');
  const output = values.output;
  if (output !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(output)) {
    return usageError(io, commandLine, `-o must be one of ${OUTPUT_FORMATS.join(', ')} (got ${output})`);
  }
  let connection: Connection;
  try {
    connection = connect(values, io.env, 'petrel-get');
  } catch (err) {
    io.stderr.write(`petrel get: ${(err as Error).message}\n`);
    return 2;
  }
  const allNamespaces = values['all-namespaces'] === true;
  const request: Request = {
    scope: { ...(allNamespaces ? {} : { namespace: connection.namespace }), ...(name ? { name } : {}) },
    allNamespaces,
    ...(output ? { output: output as OutputFormat } : {}),
    watch: values.watch === true,
  };
  try {
    return request.watch ? await watchView(connection, request, io) : await showOnce(connection, request, io);
  } finally {
    connection.api.close();
  }
};

async function showOnce(connection: Connection, request: Request, io: CliIo): Promise<number> {
  let snapshot: Snapshot;
  try {
    snapshot = await readSnapshot(connection.api, request.scope);
  } catch (err) {
    io.stderr.write(`petrel get: ${readError(err, request.scope)}\n`);
    return 1;
  }
  const style = styleFor(io.stdout as { isTTY?: boolean }, io.env);
  io.stdout.write(present(snapshot, request, style, new Date(), false).text);
  return 0;
}

async function watchView(connection: Connection, request: Request, io: CliIo): Promise<number> {
  const tty = (io.stdout as { isTTY?: boolean }).isTTY === true && !request.output;
  const style = request.output ? PLAIN : styleFor(io.stdout as { isTTY?: boolean }, io.env);
  const screen = new Screen(io.stdout, tty);
  const stop = stopSignal(io);
  let watch: ClusterWatch | undefined;
  let ready = false;
  let lastDocument: string | undefined;
  const draw = () => {
    if (!watch || !ready || stop.signal.aborted) return;
    const shown = present(watch.snapshot(), request, style, new Date(), true, watch.problem);
    if (!request.output || request.output === 'name') screen.draw(shown.lines);
    else if (shown.text !== lastDocument) io.stdout.write(shown.text);
    lastDocument = shown.text;
  };
  watch = new ClusterWatch({
    kubeConfig: connection.kubeConfig,
    api: connection.api,
    scope: request.scope,
    userAgent: 'petrel-get',
    onChange: draw,
  });
  let ticker: NodeJS.Timeout | undefined;
  try {
    try {
      await watch.start(AbortSignal.any([stop.signal, AbortSignal.timeout(SYNC_TIMEOUT_MS)]));
    } catch (err) {
      if (stop.signal.aborted) return 0;
      // Lists failed here, not a get of the canary: a 404 means the CRD, not the name.
      io.stderr.write(`petrel get: ${readError(err, { namespace: request.scope.namespace })}\n`);
      return 1;
    }
    const { namespace, name } = request.scope;
    if (name && !canaryIn(watch.snapshot(), namespace ?? '', name)) {
      io.stderr.write(`petrel get: ${notFound(request.scope)}\n`);
      return 1;
    }
    ready = true;
    draw();
    // On a terminal the countdown to the next step moves every second; elsewhere only changes are written.
    if (tty) ticker = setInterval(draw, 1000);
    await stop.stopped;
    return 0;
  } finally {
    if (ticker) clearInterval(ticker);
    stop.dispose();
    await watch.stop();
  }
}
