import { pino } from 'pino';
import { usageError } from '../../src/cli/command-line.ts';
import type { CliIo, Command } from '../../src/cli/run.ts';
import { ArgsError, type FlagValues, HELP_FLAG, parseFlags, wantsHelp } from '../../src/lib/args.ts';
import { DEMO_PROVIDERS, type DemoProvider } from '../demo/app.ts';
import type { DemoReporter } from '../demo/events.ts';
import { createReporter } from '../demo/reporter.ts';
import { runDemo } from '../demo/run.ts';
import { isScenarioName, SCENARIOS, type ScenarioName } from '../demo/scenarios.ts';
import { DemoAbortedError } from '../demo/wait.ts';
import { PrometheusNotInstalledError } from '../sandbox/prometheus.ts';

const USAGE = `usage: petrel demo [--scenario NAME] [--provider NAME] [--json] [--keep] [--cluster] [--dashboard] [--rps N] [--prometheus PATH]

Runs a local sandbox (Kubernetes API server, Prometheus, simulated Istio traffic, the controller)
and releases new versions of an example app, showing each step of each canary analysis.

  --scenario NAME    ${SCENARIOS.join(', ')} (default: a healthy v2, then a v3 with errors;
                     all adds a slow v4; healthy, errors and latency release just that one;
                     subtle: a service with 2% errors, a healthy v2 and a +1pp v3, judged against
                     the primary)
  --provider NAME    istio (a VirtualService, default) or gatewayapi (an HTTPRoute on a Gateway;
                     gatewayapi:v1 also accepted)
  --json             one JSON object per line instead of text, ending with one "outcome" per release
  --keep             keep the sandbox running after the releases (prints a kubeconfig) until Ctrl-C
  --cluster          a real kube-apiserver, etcd and KWOK instead of the sandbox (npm run cluster:build first)
  --dashboard        also serve petrel dashboard against the demo and print its URL (implies --keep)
  --rps N            simulated requests per second, 1-10000 (default 100; 2000 for subtle)
  --prometheus PATH  the prometheus binary (default: found on PATH, then /usr/bin/prometheus)
  --log-level LEVEL  components' logs on stderr: trace, debug, info, warn, error, silent (default error)

Exit status: 0 when every release ended as its scenario expects, 1 otherwise, 2 on bad options,
130 when stopped by Ctrl-C before the end.
`;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

export class DemoUsageError extends Error {
  override readonly name = 'DemoUsageError';
  readonly code = 'DEMO_USAGE';
}

export interface DemoCliOptions {
  help: boolean;
  scenario: ScenarioName;
  provider: DemoProvider;
  json: boolean;
  keep: boolean;
  cluster: boolean;
  dashboard: boolean;
  rps: number;
  prometheusBinary?: string;
  logLevel: LogLevel;
}

const FLAGS = {
  scenario: { type: 'string' },
  provider: { type: 'string' },
  json: { type: 'boolean' },
  keep: { type: 'boolean' },
  cluster: { type: 'boolean' },
  dashboard: { type: 'boolean' },
  rps: { type: 'string' },
  prometheus: { type: 'string' },
  'log-level': { type: 'string' },
  ...HELP_FLAG,
} as const;

export function parseDemoArgs(args: string[]): DemoCliOptions {
  let values: FlagValues<typeof FLAGS>;
  try {
    ({ values } = parseFlags(args, FLAGS));
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    throw new DemoUsageError(err.message);
  }
  const scenario = values.scenario ?? 'default';
  if (!isScenarioName(scenario))
    throw new DemoUsageError(`--scenario must be one of ${SCENARIOS.join(', ')}, got "${scenario}"`);
  const providerText = values.provider ?? 'istio';
  const provider = providerText === 'gatewayapi' ? 'gatewayapi:v1' : providerText;
  if (!(DEMO_PROVIDERS as readonly string[]).includes(provider))
    throw new DemoUsageError(`--provider must be istio or gatewayapi, got "${providerText}"`);
  // The subtle scenario's +1pp needs thousands of canary requests to be told from noise.
  const rpsText = values.rps ?? (scenario === 'subtle' ? '2000' : '100');
  const rps = Number(rpsText);
  if (!/^\d+$/.test(rpsText) || rps < 1 || rps > 10_000)
    throw new DemoUsageError(`--rps must be a whole number from 1 to 10000, got "${rpsText}"`);
  const logLevel = values['log-level'] ?? 'error';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new DemoUsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  if (values.prometheus !== undefined && values.prometheus.trim() === '')
    throw new DemoUsageError('--prometheus must be the path of the prometheus binary');
  return {
    help: values.help === true,
    scenario,
    provider: provider as DemoProvider,
    json: values.json === true,
    keep: values.keep === true || values.dashboard === true,
    cluster: values.cluster === true,
    dashboard: values.dashboard === true,
    rps,
    prometheusBinary: values.prometheus,
    logLevel: logLevel as LogLevel,
  };
}

function wantsColour(io: CliIo): boolean {
  const out = io.stdout as { isTTY?: boolean };
  return out.isTTY === true && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb';
}

export const demoCommand: Command = async (args: string[], io: CliIo): Promise<number> => {
  if (wantsHelp(args)) {
    io.stdout.write(USAGE);
    return 0;
  }
  let options: DemoCliOptions;
  try {
    options = parseDemoArgs(args);
  } catch (err) {
    if (!(err instanceof DemoUsageError)) throw err;
    return usageError(io, { command: 'petrel demo', usage: USAGE }, err.message);
  }
  const reporter: DemoReporter = createReporter(options.json ? 'json' : 'terminal', {
    out: io.stdout,
    color: !options.json && wantsColour(io),
  });
  const logger = pino({ level: options.logLevel, base: { component: 'demo' } }, io.stderr);

  const abort = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      reporter.emit({ type: 'stopping', why: `${signal} received; stopping every component` });
      abort.abort();
      return;
    }
    // A second Ctrl-C while stopping: leave now. Prometheus is killed on exit by its launcher.
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runDemo({
      scenario: options.scenario,
      provider: options.provider,
      rps: options.rps,
      keep: options.keep,
      cluster: options.cluster,
      dashboard: options.dashboard,
      reporter,
      logger,
      signal: abort.signal,
      prometheusBinary: options.prometheusBinary,
      searchPath: io.env.PATH,
    });
    return result.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof DemoAbortedError) return 130;
    const code = (err as { code?: unknown }).code;
    let message = err instanceof Error ? err.message : String(err);
    // The launcher names its `binary` option; on the command line that is --prometheus.
    if (err instanceof PrometheusNotInstalledError) message += ' (here: --prometheus PATH)';
    if (options.json)
      reporter.emit({ type: 'error', code: typeof code === 'string' ? code : 'DEMO_FAILED', message });
    io.stderr.write(`petrel demo: ${message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
};
