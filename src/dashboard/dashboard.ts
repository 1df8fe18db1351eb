import type { KubeConfig } from '@kubernetes/client-node';
import { createKubeApi } from '../kube/client.ts';
import type { Clock } from '../lib/clock.ts';
import { MANUAL_ACTIONS } from '../rollout/index.ts';
import { requestAction } from './actions.ts';
import { type DashboardServer, startDashboardServer } from './server.ts';
import { DashboardState } from './state.ts';

export interface DashboardOptions {
  kubeConfig: KubeConfig;
  /** One namespace, or all the user may list when omitted. */
  namespace?: string;
  /** 0 picks a free port. */
  port: number;
  /** Who the actions name in `petrel.dev/action-by` (default: the kubeconfig user). */
  by?: string;
  clock?: Clock;
  onError?: (err: unknown) => void;
}

export interface RunningDashboard {
  readonly url: string;
  readonly state: DashboardState;
  /** Resolves once the watches hold complete lists (the page shows data from then on). */
  waitForSync(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the watches and the server: what `petrel dashboard` and `petrel demo --dashboard` run. Reads
 * and writes go through the given kubeconfig, so the page can do exactly what its user could with kubectl.
 */
export async function startDashboard(opts: DashboardOptions): Promise<RunningDashboard> {
  const kc = opts.kubeConfig;
  const api = createKubeApi({ kubeConfig: kc, userAgent: 'petrel-dashboard' });
  const state = new DashboardState({
    kubeConfig: kc,
    api,
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const by = opts.by ?? kc.getCurrentUser()?.name ?? 'petrel-dashboard';
  const now = () => opts.clock?.now() ?? new Date();
  let server: DashboardServer;
  try {
    server = await startDashboardServer({
      port: opts.port,
      source: state,
      act: (request) => requestAction(api, request, by, now()),
      actions: MANUAL_ACTIONS,
      scope: `context ${kc.getCurrentContext() || '(none)'}, ${opts.namespace ? `namespace ${opts.namespace}` : 'all namespaces'}`,
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
  } catch (err) {
    api.close();
    throw err;
  }
  await state.start();
  return {
    url: server.url,
    state,
    waitForSync: (signal) => state.waitForSync(signal),
    stop: async () => {
      await server.stop();
      await state.stop();
      api.close();
    },
  };
}
