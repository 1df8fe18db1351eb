import { type Explanation, explainCanary } from '../view/explain.ts';
import { parseCommandLine, usageError } from './command-line.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, type Connection, connect } from './connection.ts';
import { readError } from './get/messages.ts';
import { formatDocument } from './get/output.ts';
import { checkLines } from './get/render-canary.ts';
import { canaryIn, eventsOf, freezesOf, readSnapshot } from './get/source.ts';
import { type Style, styleFor } from './get/style.ts';
import type { Command } from './run.ts';

const USAGE = `usage: petrel explain NAME [-n NAMESPACE] [-o json|yaml]

Says why the Canary is where it is, in sentences: its phase and the reason of the last decision, what
holds it (a pause, a release window or freeze, a gate), the evidence of the last analysis (every check's
value against its threshold, the failed ones first), and what happens next.

options:
${CONNECTION_USAGE}  -o, --output FORMAT  json or yaml instead of sentences
`;

const FLAGS = { ...CONNECTION_FLAGS, output: { type: 'string', short: 'o' } } as const;

export const explainCommand: Command = async (args, io) => {
  const commandLine = { command: 'petrel explain', usage: USAGE, flags: FLAGS, positionals: true };
  const parsed = parseCommandLine(args, io, commandLine);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  // `petrel explain canary NAME` reads as well as `petrel explain NAME`.
  const names = positionals[0] === 'canary' && positionals.length === 2 ? positionals.slice(1) : positionals;
  if (names.length !== 1) return usageError(io, commandLine, 'give exactly one Canary name');
  const output = values.output;
  if (output !== undefined && output !== 'json' && output !== 'yaml') {
    return usageError(io, commandLine, `-o must be json or yaml (got ${output})`);
  }
  const name = names[0]!;
  let connection: Connection;
  try {
    connection = connect(values, io.env, 'petrel-explain');
  } catch (err) {
    io.stderr.write(`petrel explain: ${(err as Error).message}\n`);
    return 2;
  }
  const { api, namespace } = connection;
  const scope = { namespace, name };
  try {
    const snapshot = await readSnapshot(api, scope);
    const canary = canaryIn(snapshot, namespace, name);
    if (!canary) throw new Error(`Canary ${namespace}/${name} was not found`);
    const explanation = explainCanary(canary, eventsOf(snapshot, namespace, name), {
      now: new Date(),
      freezes: freezesOf(snapshot, canary),
    });
    if (output) io.stdout.write(formatDocument(explanation, output, false));
    else io.stdout.write(renderExplanation(explanation, styleFor(io.stdout as { isTTY?: boolean }, io.env)));
    return 0;
  } catch (err) {
    io.stderr.write(`petrel explain: ${readError(err, scope)}\n`);
    return 1;
  } finally {
    api.close();
  }
};

export function renderExplanation(explanation: Explanation, style: Style): string {
  const out: string[] = [...explanation.why];
  out.push('');
  const evidence = explanation.evidence;
  if (evidence) {
    const failed = evidence.checks.filter((c) => c.verdict === 'fail').length;
    out.push(
      style.bold(
        `Evidence of the last analysis (${evidence.time}, canary at ${evidence.weight}%): ${failed} of ${evidence.checks.length} check(s) failed`,
      ),
    );
    out.push(...checkLines(evidence.checks, style));
  } else {
    out.push(style.bold('Evidence: no analysis has run yet.'));
  }
  out.push('');
  out.push(style.bold('What happens next'));
  out.push(...explanation.next.map((line) => `  ${line}`));
  return `${out.join('\n')}\n`;
}
