import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { type ControlPlaneBinaries, requireBinaries } from './binaries.ts';
import { Component, ComponentFailedError } from './component.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { kwokStages } from './kwok-stages.ts';
import { createPki, type Pki } from './pki.ts';
import { claimPort, freePort } from './ports.ts';
import { httpsOk } from './probe.ts';
import { createFakeNodes, installCrds } from './setup.ts';

const HOST = '127.0.0.1';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The Istio CRDs the sandbox serves, then Petrel's own. */
export const DEFAULT_CRD_DIRS = [join(ROOT, 'dev/sandbox/crds'), join(ROOT, 'crds')];

export interface ControlPlaneOptions {
  /** kube-apiserver's port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Fake nodes that KWOK keeps Ready. */
  readonly nodes?: number;
  /** How long a scheduled pod takes to become Running and Ready. */
  readonly podReadyDelayMs?: number;
  /** Directories whose *.yaml CRDs are installed (default: Istio's, then Petrel's). */
  readonly crdDirs?: readonly string[];
  /** Record every request's metadata (user, verb, resource, response code) in `auditLogPath`. */
  readonly audit?: boolean;
  /** How long each component may take to become ready. */
  readonly readyTimeoutMs?: number;
  readonly binaries?: ControlPlaneBinaries;
  /** Progress lines for a person watching. */
  readonly progress?: (line: string) => void;
}

export interface RunningControlPlane {
  /** The temporary directory holding etcd's data, keys, kubeconfigs and the components' logs. */
  readonly dir: string;
  readonly server: string;
  /** An admin kubeconfig (a static token in group system:masters). */
  readonly kubeconfigPath: string;
  /** The admin's user name, as the API server's audit log names it. */
  readonly adminUser: string;
  readonly caPem: string;
  /** The API server's audit log (JSON lines, audit.k8s.io/v1 Events), when `audit` was asked for. */
  readonly auditLogPath?: string;
  /** Resolves when a component exits while the control plane should be running. */
  readonly failed: Promise<ComponentFailedError>;
  /** A fresh client-node KubeConfig for the admin. */
  kubeConfig(): KubeConfig;
  /** A KubeConfig for the same server authenticated by `token` (e.g. a service account's). */
  kubeConfigForToken(token: string, user?: string): KubeConfig;
  /** PIDs of the running components, by name. */
  pids(): Record<string, number | undefined>;
  /** Stops every component and removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

function tokenKubeConfig(server: string, caPem: string, user: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'petrel-local', server, caData: Buffer.from(caPem).toString('base64') }],
    users: [{ name: user, token }],
    contexts: [{ name: 'petrel-local', cluster: 'petrel-local', user }],
    currentContext: 'petrel-local',
  });
  return kc;
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

function apiserverArgs(
  pki: Pki,
  port: number,
  etcdUrl: string,
  dir: string,
  auditLogPath?: string,
): string[] {
  const audit = auditLogPath
    ? [
        `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
        `--audit-log-path=${auditLogPath}`,
        '--audit-log-mode=blocking',
      ]
    : [];
  return [
    ...audit,
    `--bind-address=${HOST}`,
    `--advertise-address=${HOST}`,
    `--secure-port=${port}`,
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.servingCertFile}`,
    `--tls-private-key-file=${pki.servingKeyFile}`,
    `--client-ca-file=${pki.caCertFile}`,
    `--token-auth-file=${pki.tokenAuthFile}`,
    '--anonymous-auth=false',
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    // The endpoint reconciler refuses a loopback address for the `kubernetes` Service.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
  ];
}

/**
 * Starts etcd, kube-apiserver (RBAC, token and client-certificate authentication, the default
 * admission plugins plus NodeRestriction, service-account tokens), kube-controller-manager,
 * kube-scheduler and KWOK on 127.0.0.1 in a temporary directory, with `nodes` fake nodes and the
 * CRDs installed. Any failure stops what was started, removes the directory and throws an error
 * whose message says what to do.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<RunningControlPlane> {
  const binaries = requireBinaries(opts.binaries);
  const progress = opts.progress ?? (() => {});
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const apiserverPort = await claimPort(HOST, opts.port ?? 0);
  const dir = await mkdtemp(join(tmpdir(), 'petrel-cluster-'));
  const components: Component[] = [];
  let stopping = false;
  let reportFailure: (error: ComponentFailedError) => void = () => {};
  const failed = new Promise<ComponentFailedError>((resolve) => {
    reportFailure = resolve;
  });
  const start = (name: string, binary: string, args: string[]) => {
    const component = new Component(name, binary, args, join(dir, 'logs', `${name}.log`));
    components.push(component);
    void component.exited.then(() => {
      if (!stopping) reportFailure(new ComponentFailedError(name, 'exited unexpectedly', component.logFile));
    });
    return component;
  };
  // Should this process end without stop() (an uncaught error), the components are killed by their
  // own exit hooks and the directory goes with this one.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const stop = async () => {
    stopping = true;
    for (const component of [...components].reverse()) await component.stop();
    await rm(dir, { recursive: true, force: true });
    process.off('exit', removeDir);
  };

  try {
    await mkdir(join(dir, 'logs'));
    await mkdir(join(dir, 'pki'));
    const pki = await createPki(join(dir, 'pki'));
    const server = `https://${HOST}:${apiserverPort}`;
    const kubeconfig = (name: string, user: { name: string; token: string }) =>
      writeKubeconfig(join(dir, `${name}.kubeconfig`), {
        server,
        caPem: pki.caPem,
        user: user.name,
        token: user.token,
      });

    const [etcdPort, etcdPeerPort] = [await freePort(), await freePort()];
    const etcdUrl = `http://${HOST}:${etcdPort}`;
    progress(`starting etcd on ${etcdUrl}`);
    const etcd = start('etcd', binaries.etcd, [
      '--name=petrel',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://${HOST}:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://${HOST}:${etcdPeerPort}`,
      `--initial-cluster=petrel=http://${HOST}:${etcdPeerPort}`,
      // Throwaway data on a shared disk: durability is not wanted, speed is.
      '--unsafe-no-fsync',
    ]);
    await etcd.waitUntil(
      'healthy',
      async () => (await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) })).ok,
      readyTimeoutMs,
    );

    progress(`starting kube-apiserver on ${server}`);
    const auditLogPath = opts.audit ? join(dir, 'logs', 'audit.log') : undefined;
    if (auditLogPath) await writeFile(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
    const apiserver = start(
      'kube-apiserver',
      binaries.kubeApiserver,
      apiserverArgs(pki, apiserverPort, etcdUrl, dir, auditLogPath),
    );
    await apiserver.waitUntil(
      'ready',
      () => httpsOk(`${server}/readyz`, { ca: pki.caPem, token: pki.users.admin.token }),
      readyTimeoutMs,
    );
    const kubeconfigPath = await kubeconfig('admin', pki.users.admin);

    const [kcmPort, schedulerPort, kwokPort] = [await freePort(), await freePort(), await freePort()];
    const delegated = (path: string, port: number) => [
      `--kubeconfig=${path}`,
      `--authentication-kubeconfig=${path}`,
      `--authorization-kubeconfig=${path}`,
      `--bind-address=${HOST}`,
      `--secure-port=${port}`,
      '--leader-elect=false',
    ];
    progress('starting kube-controller-manager, kube-scheduler and kwok');
    const kcmConfig = await kubeconfig('kube-controller-manager', pki.users.controllerManager);
    const kcm = start('kube-controller-manager', binaries.kubeControllerManager, [
      ...delegated(kcmConfig, kcmPort),
      `--cert-dir=${join(dir, 'kcm-certs')}`,
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccountKeyFile}`,
      `--root-ca-file=${pki.caCertFile}`,
      '--controllers=*',
    ]);
    const schedulerConfig = await kubeconfig('kube-scheduler', pki.users.scheduler);
    const scheduler = start('kube-scheduler', binaries.kubeScheduler, [
      ...delegated(schedulerConfig, schedulerPort),
      `--cert-dir=${join(dir, 'scheduler-certs')}`,
    ]);
    const kwokConfig = await kubeconfig('kwok', pki.users.kwok);
    const stagesFile = join(dir, 'kwok-stages.yaml');
    await writeFile(stagesFile, kwokStages(opts.podReadyDelayMs ?? 1000));
    const kwok = start('kwok', binaries.kwok, [
      `--kubeconfig=${kwokConfig}`,
      `--config=${stagesFile}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--cidr=10.128.0.1/16',
      '--node-ip=10.127.0.1',
      '--node-lease-duration-seconds=40',
      `--server-address=${HOST}:${kwokPort}`,
    ]);
    await Promise.all([
      kcm.waitUntil('healthy', () => httpsOk(`https://${HOST}:${kcmPort}/healthz`), readyTimeoutMs),
      scheduler.waitUntil(
        'healthy',
        () => httpsOk(`https://${HOST}:${schedulerPort}/healthz`),
        readyTimeoutMs,
      ),
      kwok.waitUntil(
        'healthy',
        async () =>
          (await fetch(`http://${HOST}:${kwokPort}/healthz`, { signal: AbortSignal.timeout(2000) })).ok,
        readyTimeoutMs,
      ),
    ]);

    const admin = tokenKubeConfig(server, pki.caPem, pki.users.admin.name, pki.users.admin.token);
    const nodes = opts.nodes ?? 3;
    progress(`creating ${nodes} fake nodes and installing CRDs`);
    await createFakeNodes(admin, nodes, readyTimeoutMs);
    await installCrds(admin, opts.crdDirs ?? DEFAULT_CRD_DIRS, readyTimeoutMs);

    return {
      dir,
      server,
      kubeconfigPath,
      adminUser: pki.users.admin.name,
      caPem: pki.caPem,
      auditLogPath,
      failed,
      kubeConfig: () => tokenKubeConfig(server, pki.caPem, pki.users.admin.name, pki.users.admin.token),
      kubeConfigForToken: (token, user = 'token-user') => tokenKubeConfig(server, pki.caPem, user, token),
      pids: () => Object.fromEntries(components.map((c) => [c.name, c.pid])),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Reads a file of the control plane's directory (a log, for instance), or '' when it is gone. */
export async function readControlPlaneFile(plane: RunningControlPlane, relative: string): Promise<string> {
  return readFile(join(plane.dir, relative), 'utf8').catch(() => '');
}
