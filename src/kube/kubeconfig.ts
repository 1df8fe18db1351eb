import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
  readonly code = 'KUBECONFIG_INVALID';
}

export interface LoadKubeConfigOptions {
  /** Path to a kubeconfig file; when omitted, $KUBECONFIG or ~/.kube/config (client-node's default). */
  kubeconfig?: string;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST/PORT and the mounted token). */
  inCluster?: boolean;
  /** Overrides the kubeconfig's current-context. */
  context?: string;
}

export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): KubeConfig {
  if (opts.inCluster && opts.kubeconfig) {
    throw new KubeConfigError('choose either --kubeconfig or --in-cluster, not both');
  }
  const kc = new KubeConfig();
  try {
    if (opts.inCluster) {
      if (!process.env.KUBERNETES_SERVICE_HOST) {
        throw new KubeConfigError(
          'in-cluster config needs KUBERNETES_SERVICE_HOST (set inside a pod); use --kubeconfig outside a cluster',
        );
      }
      kc.loadFromCluster();
    } else if (opts.kubeconfig) {
      if (!existsSync(opts.kubeconfig)) {
        throw new KubeConfigError(
          `kubeconfig file ${opts.kubeconfig} does not exist: check the --kubeconfig path`,
        );
      }
      kc.loadFromFile(opts.kubeconfig);
    } else {
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    const what = opts.kubeconfig ?? (opts.inCluster ? 'in-cluster config' : 'default kubeconfig');
    throw new KubeConfigError(`cannot load ${what}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new KubeConfigError(`kubeconfig has no context named "${opts.context}"`);
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new KubeConfigError('kubeconfig has no current cluster with a server URL: set current-context');
  }
  return kc;
}
