import { createKubeApi } from '../kube/client.ts';
import { isKubeApiError } from '../kube/errors.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeObject } from '../kube/types.ts';
import { MANUAL_ACTIONS, type ManualActionType, manualActionPatch } from '../rollout/index.ts';
import { parseCommandLine, usageError } from './command-line.ts';
import type { CliIo, Command } from './run.ts';

const DESCRIPTIONS: Record<ManualActionType, string> = {
  promote: 'promote the canary now, skipping the rest of the analysis',
  abort: 'roll back at once: traffic to the primary, phase Failed',
  pause: 'hold the rollout where it is until petrel resume',
  resume: 'continue a paused rollout',
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

const FLAGS = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  by: { type: 'string' },
} as const;

/** One command per action: `petrel promote|abort|pause|resume NAME [-n NS]`. */
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
    let kubeConfig: ReturnType<typeof loadKubeConfig>;
    try {
      kubeConfig = loadKubeConfig({
        kubeconfig: values.kubeconfig ?? io.env.KUBECONFIG,
        ...(values.context ? { context: values.context } : {}),
      });
    } catch (err) {
      io.stderr.write(`petrel ${action}: ${(err as Error).message}\n`);
      return 2;
    }
    const namespace =
      values.namespace ?? kubeConfig.getContextObject(kubeConfig.currentContext)?.namespace ?? 'default';
    const by = values.by ?? kubeConfig.getCurrentUser()?.name ?? 'petrel-cli';
    const api = createKubeApi({ kubeConfig, userAgent: `petrel-${action}` });
    try {
      await api.mergePatch<KubeObject>(
        { resource: RESOURCES.canary, namespace, name },
        manualActionPatch(action, by, new Date()),
      );
      io.stdout.write(`canary ${namespace}/${name}: ${action} requested by ${by}\n`);
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
export { MANUAL_ACTIONS };
