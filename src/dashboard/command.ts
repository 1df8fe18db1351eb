import type { Readable, Writable } from 'node:stream';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { ArgsError, parseFlags, wantsHelp } from '../lib/args.ts';
import { type RunningDashboard, startDashboard } from './dashboard.ts';

/** The CLI's io (structurally src/cli/run.ts's CliIo; cli/ imports this folder, not the other way). */
export interface DashboardIo {
  stdout: Writable;
  stderr: Writable;
  stdin?: Readable;
  env: NodeJS.ProcessEnv;
}

export const DEFAULT_PORT = 3100;

const USAGE = `usage: petrel dashboard [-n NAMESPACE | -A] [--port N] [--kubeconfig PATH] [--context NAME]

Serves a live web page of the canaries on http://127.0.0.1:PORT/: phase, weight and age of each, and
for one canary its weight timeline, charts of its checks, gates, conditions and events, with buttons
for the manual actions (each asks for confirmation). Everything is read and written with your
kubeconfig, so the page can do what you could do with kubectl, and nothing more. Ctrl-C stops it.

options:
  -n, --namespace NS     namespace to show (default: the kubeconfig context's, else default)
  -A, --all-namespaces   every namespace you may list
  --port N               port on 127.0.0.1 (default ${DEFAULT_PORT}; 0 picks a free one)
  --kubeconfig PATH      kubeconfig file [KUBECONFIG]
  --context NAME         kubeconfig context
  --by WHO               who is asking, written with each action (default: the kubeconfig user)
`;

const FLAGS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  port: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  by: { type: 'string' },
} as const;

function usageError(io: DashboardIo, message: string): number {
  io.stderr.write(`petrel dashboard: ${message}\n\n${USAGE}`);
  return 2;
}

/** `petrel dashboard`: runs until SIGINT or SIGTERM (or `signal`, for tests and the demo). */
export async function dashboardCommand(
  args: string[],
  io: DashboardIo,
  signal?: AbortSignal,
): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(USAGE);
    return 0;
  }
  let values: ReturnType<typeof parseFlags<typeof FLAGS>>['values'];
  try {
    ({ values } = parseFlags(args, FLAGS));
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    return usageError(io, err.message);
  }
  const portText = values.port ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) {
    return usageError(io, `--port must be a whole number from 0 to 65535, got "${portText}"`);
  }
  if (values.namespace && values['all-namespaces']) {
    return usageError(io, 'choose either -n NAMESPACE or -A, not both');
  }
  let kubeConfig: ReturnType<typeof loadKubeConfig>;
  try {
    kubeConfig = loadKubeConfig({
      kubeconfig: values.kubeconfig ?? io.env.KUBECONFIG,
      ...(values.context ? { context: values.context } : {}),
    });
  } catch (err) {
    io.stderr.write(`petrel dashboard: ${(err as Error).message}\n`);
    return 2;
  }
  const namespace = values['all-namespaces']
    ? undefined
    : (values.namespace ?? kubeConfig.getContextObject(kubeConfig.currentContext)?.namespace ?? 'default');
  let dashboard: RunningDashboard;
  try {
    dashboard = await startDashboard({
      kubeConfig,
      port,
      ...(namespace ? { namespace } : {}),
      ...(values.by ? { by: values.by } : {}),
      onError: (err) => io.stderr.write(`petrel dashboard: ${(err as Error).message}\n`),
    });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'EADDRINUSE') {
      io.stderr.write(
        `petrel dashboard: port ${port} on 127.0.0.1 is in use: pick another with --port N, or --port 0 for a free one\n`,
      );
      return 1;
    }
    io.stderr.write(`petrel dashboard: ${(err as Error).message}\n`);
    return 1;
  }
  io.stdout.write(`Petrel dashboard: ${dashboard.url} (Ctrl-C stops it)\n`);
  const onHealth = (health: { ok: boolean; message?: string }) => {
    if (!health.ok && health.message) io.stderr.write(`petrel dashboard: ${health.message}\n`);
  };
  dashboard.state.on('health', onHealth);
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    if (signal?.aborted) return done();
    signal?.addEventListener('abort', done, { once: true });
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  dashboard.state.off('health', onHealth);
  await dashboard.stop();
  return 0;
}
