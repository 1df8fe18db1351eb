import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { parseAllDocuments } from 'yaml';
import { AdminApi } from './admin.ts';
import { ResourceApi } from './api.ts';
import { type Clock, systemClock, TimerSet } from './clock.ts';
import { DeploymentController } from './deployment-controller.ts';
import { ApiError } from './errors.ts';
import { FaultInjector } from './faults.ts';
import { GarbageCollector } from './garbage-collector.ts';
import { createHandler } from './http.ts';
import { kubeConfigFor, kubeconfigYaml } from './kubeconfig.ts';
import { RequestLog } from './request-log.ts';
import { CRD_TYPE_KEY, NAMESPACE_TYPE_KEY, ResourceRegistry } from './resources.ts';
import { loadSnapshot, saveSnapshot } from './snapshot.ts';
import { ObjectStore, type StoreEvent } from './store.ts';
import { type KubeObject, storageKey } from './types.ts';
import { WatchHub } from './watch.ts';

export type { Clock } from './clock.ts';
export { NEVER_READY_ANNOTATION } from './deployment-controller.ts';
export type { ErrorFault, LatencyFault, WatchFault } from './faults.ts';
export { FaultInjector } from './faults.ts';
export type { RequestLogEntry } from './request-log.ts';
export { RequestLog } from './request-log.ts';
export { SnapshotError } from './snapshot.ts';
export type { StoreEvent } from './store.ts';

/**
 * The CRDs every sandbox starts with: Istio's VirtualService and DestinationRule, and the Gateway API's
 * standard channel (HTTPRoute, Gateway, GatewayClass, ReferenceGrant; v1.2.1 as released).
 */
export const ISTIO_CRD_FILES = [
  fileURLToPath(new URL('../crds/networking.istio.io_virtualservices.yaml', import.meta.url)),
  fileURLToPath(new URL('../crds/networking.istio.io_destinationrules.yaml', import.meta.url)),
  ...['httproutes', 'gateways', 'gatewayclasses', 'referencegrants'].map((plural) =>
    fileURLToPath(new URL(`../crds/gateway.networking.k8s.io_${plural}.yaml`, import.meta.url)),
  ),
];

export interface StartApiServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** How long new Deployment pods take to become ready (default 1000 ms). */
  deploymentReadyDelayMs?: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Load state from this JSON file at start (if it exists) and write it there on stop(). */
  snapshotFile?: string;
  logger?: Logger;
  /** Extra CRD YAML files to register at start, after the Istio ones. */
  crdFiles?: string[];
  /** Time source for every delay in the server (deployment readiness, bookmarks, watch limits). */
  clock?: Clock;
  /** How many changes watches can resume across before a resume gets 410 Gone (default 1000). */
  watchHistorySize?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 10 s). */
  bookmarkIntervalMs?: number;
  /** Random source for fault rates (default Math.random). */
  random?: () => number;
}

export interface SandboxApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  kubeConfig(): KubeConfig;
  requestLog: RequestLog;
  faults: FaultInjector;
  /** Told about every stored change (ADDED, MODIFIED, DELETED) as it happens, before any watch sees it. */
  onChange(listener: (event: StoreEvent) => void): () => void;
  stop(): Promise<void>;
}

const INITIAL_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** Parsed CRD files, by path: the Gateway API's are large, and tests start many sandboxes per process. */
const parsedCrdFiles = new Map<string, Promise<KubeObject[]>>();

async function readCrds(file: string): Promise<KubeObject[]> {
  let parsed = parsedCrdFiles.get(file);
  if (!parsed) {
    parsed = parseCrdFile(file);
    parsedCrdFiles.set(file, parsed);
    parsed.catch(() => parsedCrdFiles.delete(file));
  }
  return structuredClone(await parsed);
}

async function parseCrdFile(file: string): Promise<KubeObject[]> {
  const text = await readFile(file, 'utf8');
  const crds: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${file}: invalid YAML: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as KubeObject | null;
    if (!value) continue;
    if (value.kind !== 'CustomResourceDefinition')
      throw new Error(`${file}: expected kind CustomResourceDefinition, found ${String(value.kind)}`);
    crds.push(value);
  }
  return crds;
}

/** Starts a local Kubernetes API server (see docs in dev/sandbox/apiserver/README.md). */
function checkOptions(options: StartApiServerOptions): void {
  const whole = (name: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max))
      throw new RangeError(
        `startApiServer: ${name} must be a whole number from ${min} to ${max}, got ${value}`,
      );
  };
  whole('port', options.port, 0, 65_535);
  whole('deploymentReadyDelayMs', options.deploymentReadyDelayMs, 0, 86_400_000);
  whole('watchHistorySize', options.watchHistorySize, 1, 10_000_000);
  whole('bookmarkIntervalMs', options.bookmarkIntervalMs, 1, 86_400_000);
  if (options.token !== undefined && !/^[\x21-\x7e]+$/.test(options.token))
    throw new RangeError('startApiServer: token must be printable ASCII without spaces');
}

export async function startApiServer(options: StartApiServerOptions = {}): Promise<SandboxApiServer> {
  checkOptions(options);
  const logger = options.logger ?? pino({ level: 'silent' });
  const host = options.host ?? '127.0.0.1';
  const timers = new TimerSet(options.clock ?? systemClock);
  const store = new ObjectStore(options.watchHistorySize ?? 1000);
  const registry = new ResourceRegistry();
  const api = new ResourceApi(store, registry, () => timers.now(), logger);
  const faults = new FaultInjector(options.random);
  const requestLog = new RequestLog();
  const watches = new WatchHub(store, api, timers, faults, options.bookmarkIntervalMs ?? 10_000);
  faults.attach({
    dropWatches: (resource) => watches.drop(resource),
    expireHistory: () => watches.expireAll(),
  });
  api.onTypeRemoved = (type) => watches.dropType(storageKey(type));

  const snapshot = options.snapshotFile ? await loadSnapshot(options.snapshotFile) : undefined;
  if (snapshot) {
    store.restore(snapshot);
    for (const crd of store.list(CRD_TYPE_KEY)) {
      try {
        registry.registerCrd(crd);
      } catch (error) {
        logger.warn({ crd: crd.metadata.name, err: error }, 'snapshot CRD not served');
      }
    }
  } else {
    const nsType = registry.byKey(NAMESPACE_TYPE_KEY)!;
    for (const name of INITIAL_NAMESPACES)
      api.create(nsType, 'v1', undefined, {
        metadata: { name },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      });
  }
  const crdType = registry.byKey(CRD_TYPE_KEY)!;
  for (const file of [...ISTIO_CRD_FILES, ...(options.crdFiles ?? [])]) {
    for (const crd of await readCrds(file)) {
      const name = crd.metadata.name ?? '';
      const existing = api.find(crdType, undefined, name);
      try {
        if (existing)
          api.update(
            crdType,
            'v1',
            undefined,
            name,
            { ...crd, metadata: { ...crd.metadata, resourceVersion: undefined } },
            undefined,
          );
        else api.create(crdType, 'v1', undefined, crd);
      } catch (error) {
        if (error instanceof ApiError)
          throw new Error(`${file}: CRD ${name} rejected: ${error.message}`, { cause: error });
        throw error;
      }
    }
  }

  const deployments = new DeploymentController(
    store,
    api,
    registry,
    timers,
    options.deploymentReadyDelayMs ?? 1000,
    logger,
  );
  deployments.start();
  const collector = new GarbageCollector(store, api, registry, timers, logger);
  collector.start();

  let address = '';
  const handler = createHandler({
    registry,
    api,
    watches,
    faults,
    requestLog,
    admin: new AdminApi(faults, requestLog),
    timers,
    logger,
    token: options.token,
    serverAddress: () => address,
  });
  const server = createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const url = `http://${address}`;
  const dir = await mkdtemp(join(tmpdir(), 'petrel-sandbox-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, kubeconfigYaml(url, options.token), { mode: 0o600 });
  logger.info({ url, kubeconfigPath }, 'sandbox API server listening');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      watches.closeAll();
      deployments.stop();
      collector.stop();
      timers.clearAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (options.snapshotFile) await saveSnapshot(options.snapshotFile, store.snapshot());
      await rm(dir, { recursive: true, force: true });
      logger.info({ url }, 'sandbox API server stopped');
    })();
    return stopping;
  };

  return {
    url,
    port,
    kubeconfigPath,
    kubeConfig: () => kubeConfigFor(url, options.token),
    requestLog,
    faults,
    onChange: (listener) => store.subscribe(listener),
    stop,
  };
}
