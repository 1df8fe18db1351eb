import type { Readable, Writable } from 'node:stream';
import { petrelVersion } from '../lib/version.ts';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
  /** Ends a long-running command (petrel get --watch) as Ctrl-C would; for callers in the same process. */
  signal?: AbortSignal;
}

export type Command = (args: string[], io: CliIo) => Promise<number>;

const USAGE = `usage: petrel <command> [options]

commands:
  lint FILE...     validate Petrel resources in YAML files or folders (- for stdin)
  migrate FILE...  rewrite Flagger Canary, MetricTemplate and AlertProvider manifests for Petrel
  crds --out DIR   write the CustomResourceDefinitions generated from the schemas
  controller       run the controller (petrel controller --help for its options)
  sandbox          run a local Kubernetes API server for demos and tests (--help; source checkout only)
  get canary NAME [-n NS] [-w]             one rollout as it happens (petrel get canaries [-A]: all of them)
  explain NAME [-n NS]                     why the canary is where it is, the evidence, what comes next
  promote|abort|pause|resume|retry NAME [-n NS]   manual control of a rollout (through an annotation)
  freeze NAME [-n NS] [--until TIME]       hold new rollouts (a ReleaseFreeze); unfreeze NAME removes it
  dashboard [-n NS | -A] [--port N]        a live web page of the canaries on 127.0.0.1, with their actions
  demo             watch canary releases promoted and rolled back in a local sandbox (--help; source checkout only)
  completion bash|zsh                      shell completion script (source <(petrel completion bash))
  version          print the version (also --version)
`;

// Each command is loaded on demand so `petrel lint` does not pay for the controller's imports.
const commands: Record<string, () => Promise<Command>> = {
  crds: async () => (await import('./crds.ts')).crdsCommand,
  lint: async () => (await import('./lint.ts')).lintCommand,
  migrate: async () => (await import('./migrate.ts')).migrateCommand,
  controller: async () => (await import('./controller.ts')).controllerCommand,
  promote: async () => (await import('./manual.ts')).promoteCommand,
  abort: async () => (await import('./manual.ts')).abortCommand,
  pause: async () => (await import('./manual.ts')).pauseCommand,
  resume: async () => (await import('./manual.ts')).resumeCommand,
  retry: async () => (await import('./manual.ts')).retryCommand,
  get: async () => (await import('./get/command.ts')).getCommand,
  explain: async () => (await import('./explain.ts')).explainCommand,
  completion: async () => (await import('./completion.ts')).completionCommand,
  freeze: async () => (await import('./freeze.ts')).freezeCommand,
  unfreeze: async () => (await import('./freeze.ts')).unfreezeCommand,
  dashboard: async () => (await import('../dashboard/command.ts')).dashboardCommand,
};

// Development tools (dev/) register these when petrel runs from a source checkout; the image has no dev/.
const DEVELOPMENT_COMMANDS = new Set(['demo', 'sandbox']);

export function registerCommand(name: string, load: () => Promise<Command>): void {
  commands[name] = load;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  if (name === 'version' || name === '--version' || name === '-V') {
    io.stdout.write(`petrel ${petrelVersion()}\n`);
    return 0;
  }
  const load = commands[name];
  if (!load && DEVELOPMENT_COMMANDS.has(name)) {
    io.stderr.write(
      `petrel: "${name}" is a development tool and is not part of this build: run it from a source checkout (npm run demo)\n`,
    );
    return 2;
  }
  if (!load) {
    io.stderr.write(`petrel: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  const command = await load();
  return command(rest, io);
}
