import type { HttpKubeApi } from '../kube/client.ts';
import { isKubeApiError } from '../kube/errors.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeObject } from '../kube/types.ts';
import { MANUAL_ACTIONS, type ManualActionType, manualActionPatch } from '../rollout/index.ts';
import { parseCommandLine, usageError } from './command-line.ts';
import { CONNECTION_FLAGS, type Connection, connect } from './connection.ts';
import type { CliIo, Command } from './run.ts';

const DESCRIPTIONS: Record<ManualActionType, string> = {
  promote: 'promote the canary now, skipping the rest of the analysis',
  abort: 'roll back at once: traffic to the primary, phase Failed',
  pause: 'hold the rollout where it is until petrel resume',
  resume: 'continue a paused rollout',
  retry: 'start a Failed rollout of the same revision again, from weight 0',
};

function usage(action: ManualActionType): string {
  return `usage: petrel ${action} NAME [-n NAMESPACE] [--kubeconfig PATH] [--context NAME] [--by WHO]

${DESCRIPTIONS[action]}. Sets the annotation petrel.dev/action=${action} on the Canary (not its spec,
so an Argo CD or Flux sync does not undo it); the controller carries it out on its next reconcile.

options:
  -n, --namespace NS   namespace of the Canary (default: the kubeconfig context's, else default)
  --kubeconfig PATH    kubeconfig file [KUBECONFIG]
  --context NAME       kubeconfig context
  --by WHO             who is asking, shown in the reason (default: the kubeconfig user)
`;
}

const FLAGS = { ...CONNECTION_FLAGS, by: { type: 'string' } } as const;

/**
 * The controller refuses a retry of anything but a Failed canary (in an event); the CLI says so at once
 * rather than leave the annotation to be refused. The controller still decides: the phase may change
 * between this read and its next reconcile.
 */
async function retryRefusal(api: HttpKubeApi, namespace: string, name: string): Promise<string | undefined> {
  const canary = await api.get<KubeObject & { status?: { phase?: string } }>({
    resource: RESOURCES.canary,
    namespace,
    name,
  });
  const phase = canary.status?.phase ?? 'Initializing';
  if (phase === 'Failed') return undefined;
  return `canary ${namespace}/${name} is ${phase}: only a Failed rollout can be retried (petrel explain ${name} -n ${namespace} says why it is where it is)`;
}

/** One command per action: `petrel promote|abort|pause|resume|retry NAME [-n NS]`. */
export function manualCommand(action: ManualActionType): Command {
  return async (args: string[], io: CliIo): Promise<number> => {
    const commandLine = {
      command: `petrel ${action}`,
      usage: usage(action),
      flags: FLAGS,
      positionals: true,
    };
    const parsed = parseCommandLine(args, io, commandLine);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    if (positionals.length !== 1) return usageError(io, commandLine, 'give exactly one Canary name');
    const name = positionals[0]!;
    let connection: Connection;
    try {
      connection = connect(values, io.env, `petrel-${action}`);
    } catch (err) {
      io.stderr.write(`petrel ${action}: ${(err as Error).message}\n`);
      return 2;
    }
    const { api, namespace } = connection;
    const by = values.by ?? connection.user;
    try {
      const refused = action === 'retry' ? await retryRefusal(api, namespace, name) : undefined;
      if (refused) {
        io.stderr.write(`petrel retry: ${refused}\n`);
        return 1;
      }
      await api.mergePatch<KubeObject>(
        { resource: RESOURCES.canary, namespace, name },
        manualActionPatch(action, by, new Date()),
      );
      io.stdout.write(`canary ${namespace}/${name}: ${action} requested by ${by}\n`);
      if (action === 'retry')
        io.stdout.write(`follow it with: petrel get canary ${name} -n ${namespace} --watch\n`);
      return 0;
    } catch (err) {
      if (isKubeApiError(err, 'NOT_FOUND')) {
        io.stderr.write(
          `petrel ${action}: Canary ${namespace}/${name} was not found: check the name and -n NAMESPACE\n`,
        );
      } else {
        io.stderr.write(`petrel ${action}: ${(err as Error).message}\n`);
      }
      return 1;
    } finally {
      api.close();
    }
  };
}

export const promoteCommand = manualCommand('promote');
export const abortCommand = manualCommand('abort');
export const pauseCommand = manualCommand('pause');
export const resumeCommand = manualCommand('resume');
export const retryCommand = manualCommand('retry');
export { MANUAL_ACTIONS };
