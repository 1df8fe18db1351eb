import { readVersions } from '../dev/cluster/binaries.ts';
import { type RunningControlPlane, startControlPlane } from '../dev/cluster/control-plane.ts';
import { createKubeApi, type HttpKubeApi } from '../src/kube/client.ts';
import { AuditLogFollower } from './audit-tap.ts';
import { ProcessSampler } from './controller-process.ts';
import { BENCH_USER_AGENT, RequestTap } from './request-tap.ts';

/** CPU and memory of one control-plane process over the life of one bench environment. */
export interface ComponentUsage {
  cpuSecondsPerMinute: number;
  peakRssMiB: number;
}

export interface ControlPlaneUsage {
  /** What ran against it: "cost, idle, detection" or "scale 1000". */
  label: string;
  seconds: number;
  kubeApiserver: ComponentUsage;
  etcd: ComponentUsage;
}

/** The real control plane's versions, for the report. */
export function controlPlaneDescription(): string {
  const v = readVersions();
  return `kube-apiserver ${v.kubernetes}, etcd ${v.etcd}, KWOK ${v.kwok} (dev/cluster)`;
}

export interface ClusterApi {
  plane: RunningControlPlane;
  kubeconfigPath: string;
  api: HttpKubeApi;
  tap: RequestTap;
  /** Stops sampling, the client and the control plane; answers the usage over its life. */
  close(): Promise<ControlPlaneUsage>;
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * A real control plane for one bench environment: requests are counted from kube-apiserver's audit
 * log, and kube-apiserver's and etcd's CPU and memory are sampled while it lives.
 */
export async function startClusterApi(label: string, nodes: number): Promise<ClusterApi> {
  const plane = await startControlPlane({ audit: true, nodes, podReadyDelayMs: 100 });
  const pids = plane.pids();
  const samplers = {
    kubeApiserver: new ProcessSampler(pids['kube-apiserver'] as number, 1000),
    etcd: new ProcessSampler(pids.etcd as number, 1000),
  };
  samplers.kubeApiserver.start();
  samplers.etcd.start();
  let follower: AuditLogFollower | undefined;
  const tap = new RequestTap(undefined, () => follower?.catchUp());
  // The controller runs with the admin kubeconfig; the bench's own requests are told apart by user agent.
  follower = new AuditLogFollower(plane.auditLogPath as string, plane.adminUser, (request) =>
    tap.observe(request),
  );
  const api = createKubeApi({
    kubeConfig: plane.kubeConfig(),
    userAgent: BENCH_USER_AGENT,
    timeoutMs: 60_000,
  });
  return {
    plane,
    kubeconfigPath: plane.kubeconfigPath,
    api,
    tap,
    close: async () => {
      const usage = (s: ProcessSampler): ComponentUsage => {
        const u = s.stop();
        return {
          cpuSecondsPerMinute: round(u.cpuSecondsPerMinute),
          peakRssMiB: round(u.peakRssBytes / 1024 / 1024),
        };
      };
      const kubeApiserver = usage(samplers.kubeApiserver);
      const etcd = usage(samplers.etcd);
      const seconds = round(((samplers.etcd.last?.at ?? 0) - (samplers.etcd.first?.at ?? 0)) / 1000);
      api.close();
      await plane.stop();
      return { label, seconds, kubeApiserver, etcd };
    },
  };
}
