import { pino } from 'pino';
import { usageError } from '../../src/cli/command-line.ts';
import type { CliIo, Command } from '../../src/cli/run.ts';
import { ArgsError, parseFlags, wantsHelp } from '../../src/lib/args.ts';
import { startApiServer } from '../sandbox/apiserver/index.ts';

const USAGE = `usage: petrel sandbox [--port 0] [--host 127.0.0.1] [--token T] [--snapshot FILE] [--ready-delay MS] [--crd FILE]...

Starts a local Kubernetes API server (in memory) with the Istio and Gateway API CRDs, prints its URL and a
kubeconfig path, and serves until SIGINT or SIGTERM.

  --port N          port to listen on (0, the default, picks a free one)
  --host ADDR       address to bind (default 127.0.0.1)
  --token T         require "Authorization: Bearer T" (written into the kubeconfig)
  --snapshot FILE   load state from FILE at start (if it exists) and save it there on exit
  --ready-delay MS  how long new Deployment pods take to become ready (default 1000)
  --crd FILE        also register the CRDs in FILE (repeatable)
`;

/** A bad flag value; the message names the flag and what is expected. */
export class SandboxUsageError extends Error {
  override readonly name = 'SandboxUsageError';
  readonly code = 'SANDBOX_USAGE';
}

function integer(flag: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > max)
    throw new SandboxUsageError(`--${flag} must be a whole number between 0 and ${max}, got "${value}"`);
  return Number(value);
}

function parse(args: string[]) {
  const { values } = parseFlags(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    token: { type: 'string' },
    snapshot: { type: 'string' },
    'ready-delay': { type: 'string' },
    crd: { type: 'string', multiple: true },
  });
  if (values.token !== undefined && !/^[\x21-\x7e]+$/.test(values.token))
    throw new SandboxUsageError('--token must be printable ASCII without spaces');
  return {
    port: integer('port', values.port, 0, 65_535),
    host: values.host ?? '127.0.0.1',
    token: values.token,
    snapshotFile: values.snapshot,
    readyDelayMs: integer('ready-delay', values['ready-delay'], 1000, 3_600_000),
    crdFiles: values.crd ?? [],
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals) => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

export const sandboxCommand: Command = async (args: string[], io: CliIo) => {
  if (wantsHelp(args)) {
    io.stdout.write(USAGE);
    return 0;
  }
  let options: ReturnType<typeof parse>;
  try {
    options = parse(args);
  } catch (error) {
    if (!(error instanceof ArgsError || error instanceof SandboxUsageError)) throw error;
    return usageError(io, { command: 'petrel sandbox', usage: USAGE }, error.message);
  }
  const logger = pino({ level: 'info', base: { component: 'sandbox' } }, io.stderr);
  let server: Awaited<ReturnType<typeof startApiServer>>;
  try {
    server = await startApiServer({
      port: options.port,
      host: options.host,
      token: options.token,
      snapshotFile: options.snapshotFile,
      deploymentReadyDelayMs: options.readyDelayMs,
      crdFiles: options.crdFiles,
      logger,
    });
  } catch (error) {
    io.stderr.write(`petrel sandbox: cannot start: ${(error as Error).message}\n`);
    return 1;
  }
  io.stdout.write(
    `Sandbox Kubernetes API server: ${server.url}\n` +
      `Kubeconfig: ${server.kubeconfigPath}\n` +
      `  export KUBECONFIG=${server.kubeconfigPath}\n` +
      `Faults and request counts: ${server.url}/_sandbox/faults, ${server.url}/_sandbox/requests\n` +
      'Stop with Ctrl-C.\n',
  );
  const signal = await untilSignal();
  logger.info({ signal }, 'stopping sandbox API server');
  await server.stop();
  return 0;
};
