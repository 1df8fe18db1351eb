import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { createKubeApi, type HttpKubeApi } from '../kube/client.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';

/** The flags every command that talks to a cluster takes, spelled as kubectl spells them. */
export const CONNECTION_FLAGS = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
} as const;

export const CONNECTION_USAGE = `  -n, --namespace NS   namespace of the Canary (default: the kubeconfig context's, else default)
  --kubeconfig PATH    kubeconfig file [KUBECONFIG, else ~/.kube/config]
  --context NAME       kubeconfig context (default: its current-context)
`;

export interface Connection {
  kubeConfig: KubeConfig;
  api: HttpKubeApi;
  namespace: string;
  /** The kubeconfig user's name, for "requested by". */
  user: string;
}

/**
 * Loads the kubeconfig as kubectl would (--kubeconfig, else $KUBECONFIG, else ~/.kube/config; --context
 * over its current-context; -n over the context's namespace, else default) and opens a client. Throws
 * KubeConfigError with a message naming the flag to fix.
 */
export function connect(
  values: { namespace?: string; kubeconfig?: string; context?: string },
  env: NodeJS.ProcessEnv,
  userAgent: string,
): Connection {
  const kubeConfig = loadKubeConfig({
    ...(values.kubeconfig
      ? { kubeconfig: values.kubeconfig }
      : env.KUBECONFIG
        ? { kubeconfig: firstPath(env.KUBECONFIG) }
        : {}),
    ...(values.context ? { context: values.context } : {}),
  });
  const namespace =
    values.namespace ?? kubeConfig.getContextObject(kubeConfig.currentContext)?.namespace ?? 'default';
  const user = kubeConfig.getCurrentUser()?.name ?? 'petrel-cli';
  return { kubeConfig, api: createKubeApi({ kubeConfig, userAgent }), namespace, user };
}

/**
 * KUBECONFIG may list several files, which kubectl merges; here the first that exists is read (the one
 * whose current-context kubectl would use in the common case of one file per cluster).
 */
function firstPath(list: string): string {
  const paths = list.split(delimiter).filter((p) => p !== '');
  return paths.find((p) => existsSync(p)) ?? paths[0] ?? list;
}
