// `npm run cluster`: a real local control plane until Ctrl-C. See dev/cluster/README.md.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BUILD_COMMAND, binaryPaths, missingBinaries } from './binaries.ts';
import { type RunningControlPlane, startControlPlane } from './control-plane.ts';

const USAGE = `usage: npm run cluster -- [--port N] [--nodes N] [--ready-delay MS]

Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK on 127.0.0.1 in a
temporary directory, installs the Istio and Petrel CRDs, prints an admin kubeconfig, and runs until
Ctrl-C, then stops everything and removes the directory. Binaries not built yet are built first
(${BUILD_COMMAND}; about 5 minutes cold on 2 quiet cores, cached afterwards).

  --port N          kube-apiserver's port (0, the default, picks a free one)
  --nodes N         fake nodes (default 3)
  --ready-delay MS  how long a new pod takes to become Ready (default 1000)
`;

function whole(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new Error(`--${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return Number(value);
}

function parse(args: string[]) {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      port: { type: 'string' },
      nodes: { type: 'string' },
      'ready-delay': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return {
    help: values.help === true,
    port: whole('port', values.port, 0, 0, 65_535),
    nodes: whole('nodes', values.nodes, 3, 1, 1000),
    podReadyDelayMs: whole('ready-delay', values['ready-delay'], 1000, 0, 3_600_000),
  };
}

/**
 * Resolves on the first SIGINT or SIGTERM. Later ones are absorbed: a Ctrl-C reaches npm, tsx and
 * this process at once (tsx forwards its own too), and a second signal must not cut the clean-up short.
 */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (!received) resolve(signal);
      received = true;
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

async function main(args: string[]): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(args);
  } catch (error) {
    process.stderr.write(`cluster: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (missingBinaries(binaryPaths()).length > 0) {
    process.stderr.write(`cluster: building the control plane first (${BUILD_COMMAND})\n`);
    const build = spawnSync('bash', [fileURLToPath(new URL('./build.sh', import.meta.url))], {
      stdio: 'inherit',
    });
    if (build.status !== 0) return 1;
  }
  // A Ctrl-C during start-up also stops what was started.
  const interrupted = untilSignal();
  let plane: RunningControlPlane;
  try {
    const starting = startControlPlane({
      ...options,
      progress: (line) => process.stderr.write(`cluster: ${line}\n`),
    });
    const first = await Promise.race([starting, interrupted.then(() => undefined)]);
    if (!first) {
      process.stderr.write('cluster: interrupted, stopping\n');
      await starting.then((p) => p.stop()).catch(() => {});
      return 130;
    }
    plane = first;
  } catch (error) {
    process.stderr.write(`cluster: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    [
      `API server: ${plane.server}`,
      `kubeconfig: ${plane.kubeconfigPath}`,
      `  export KUBECONFIG=${plane.kubeconfigPath}`,
      `logs: ${plane.dir}/logs`,
      'Ctrl-C stops everything and removes the directory.',
      '',
    ].join('\n'),
  );
  const outcome = await Promise.race([interrupted.then(() => undefined), plane.failed]);
  if (outcome) process.stderr.write(`cluster: ${outcome.message}\n`);
  process.stderr.write('cluster: stopping\n');
  await plane.stop();
  return outcome ? 1 : 0;
}

// A reader that went away (a pipe into `tee` or `head` closed by the same Ctrl-C) must not crash the clean-up.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
process.exitCode = await main(process.argv.slice(2));
process.exit();
