import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ResourceApi } from './api.ts';
import type { TimerSet } from './clock.ts';
import type { ResourceRegistry } from './resources.ts';
import type { ObjectStore, StoreEvent } from './store.ts';
import type { KubeObject, ResourceType } from './types.ts';

/** Pod-template annotation that keeps a version from ever becoming ready (to exercise progress deadlines). */
export const NEVER_READY_ANNOTATION = 'sandbox.petrel.dev/never-ready';

const DEPLOYMENTS_KEY = 'deployments.apps';

interface DeploymentSpec {
  replicas?: number;
  progressDeadlineSeconds?: number;
  template?: { metadata?: { annotations?: Record<string, string> } };
}

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

interface ReadyState {
  /** Hash of the pod template whose pods are running. */
  hash?: string;
  ready: number;
}

function templateHash(object: KubeObject): string {
  const spec = (object.spec ?? {}) as DeploymentSpec;
  return createHash('sha256')
    .update(JSON.stringify(spec.template ?? {}))
    .digest('hex')
    .slice(0, 10);
}

/**
 * Plays the part of the Deployment and ReplicaSet controllers and the kubelets: after a spec
 * change, the status reports the new generation at once and the new pods as ready after a delay.
 */
export class DeploymentController {
  private readonly state = new Map<string, ReadyState>();
  private readonly pending = new Map<string, unknown[]>();
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly store: ObjectStore,
    private readonly api: ResourceApi,
    private readonly registry: ResourceRegistry,
    private readonly timers: TimerSet,
    private readonly readyDelayMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    for (const object of this.store.list(DEPLOYMENTS_KEY)) this.restoreState(object);
    this.unsubscribe = this.store.subscribe((event) => this.onEvent(event));
  }

  stop(): void {
    this.unsubscribe();
    for (const handles of this.pending.values()) for (const h of handles) this.timers.cancel(h);
    this.pending.clear();
  }

  private get type(): ResourceType {
    return this.registry.byKey(DEPLOYMENTS_KEY)!;
  }

  private restoreState(object: KubeObject): void {
    const status = (object.status ?? {}) as { readyReplicas?: number; updatedReplicas?: number };
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    if ((status.readyReplicas ?? 0) > 0 || status.updatedReplicas !== undefined)
      this.state.set(key, { hash: templateHash(object), ready: status.readyReplicas ?? 0 });
  }

  private onEvent(event: StoreEvent): void {
    if (event.key !== DEPLOYMENTS_KEY) return;
    const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
    if (event.type === 'DELETED') {
      this.cancel(key);
      this.state.delete(key);
      return;
    }
    const status = (event.object.status ?? {}) as { observedGeneration?: number };
    if (status.observedGeneration === event.object.metadata.generation) return;
    this.cancel(key);
    this.schedule(key, 0, () => {
      try {
        this.reconcile(key);
      } catch (error) {
        this.logger.error({ deployment: key, err: error }, 'sandbox deployment reconcile failed');
      }
    });
  }

  private cancel(key: string): void {
    for (const handle of this.pending.get(key) ?? []) this.timers.cancel(handle);
    this.pending.delete(key);
  }

  private schedule(key: string, ms: number, fn: () => void): void {
    const handles = this.pending.get(key) ?? [];
    handles.push(this.timers.after(ms, fn));
    this.pending.set(key, handles);
  }

  private reconcile(key: string): void {
    const [namespace, name] = key.split('/') as [string, string];
    const object = this.api.find(this.type, namespace, name);
    if (!object) return;
    const spec = (object.spec ?? {}) as DeploymentSpec;
    const replicas = spec.replicas ?? 1;
    const hash = templateHash(object);
    const neverReady = spec.template?.metadata?.annotations?.[NEVER_READY_ANNOTATION] === 'true';
    const previous = this.state.get(key) ?? { ready: 0 };
    const rsName = `${name}-${hash}`;
    if (replicas === 0) {
      this.state.set(key, { hash, ready: 0 });
      this.writeStatus(key, { desired: 0, total: 0, updated: 0, ready: 0, progressing: 'available', rsName });
      return;
    }
    const sameTemplate = previous.hash === hash;
    const oldReady = Math.min(previous.ready, replicas);
    const done = { desired: replicas, total: replicas, updated: replicas, ready: replicas, rsName };
    if (sameTemplate && oldReady === replicas) {
      this.writeStatus(key, { ...done, progressing: 'available' });
      return;
    }
    // While new pods start: a scale change or a first rollout creates every pod at once; a template
    // change surges 25% new pods beside the old ones, which keep serving (RollingUpdate defaults).
    const surge = Math.min(replicas, Math.max(1, Math.ceil(replicas * 0.25)));
    const starting =
      sameTemplate || oldReady === 0
        ? { desired: replicas, total: replicas, updated: replicas, ready: oldReady, rsName }
        : { desired: replicas, total: oldReady + surge, updated: surge, ready: oldReady, rsName };
    this.writeStatus(key, { ...starting, progressing: 'updating' });
    if (neverReady) {
      this.state.set(key, { hash, ready: oldReady });
      const deadline = (spec.progressDeadlineSeconds ?? 600) * 1000;
      this.schedule(key, deadline, () => this.writeStatus(key, { ...starting, progressing: 'deadline' }));
      return;
    }
    this.schedule(key, this.readyDelayMs, () => {
      this.state.set(key, { hash, ready: replicas });
      this.writeStatus(key, { ...done, progressing: 'available' });
    });
  }

  private writeStatus(
    key: string,
    s: {
      /** spec.replicas */
      desired: number;
      /** pods of all versions */
      total: number;
      updated: number;
      ready: number;
      progressing: 'updating' | 'available' | 'deadline';
      rsName: string;
    },
  ): void {
    const [namespace, name] = key.split('/') as [string, string];
    const current = this.api.find(this.type, namespace, name);
    if (!current) return;
    const now = this.timers
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const old = ((current.status ?? {}) as { conditions?: Condition[] }).conditions ?? [];
    const condition = (
      type: string,
      status: 'True' | 'False',
      reason: string,
      message: string,
    ): Condition => {
      const before = old.find((c) => c.type === type);
      const same = before?.status === status;
      const unchanged = same && before?.reason === reason;
      return {
        type,
        status,
        lastUpdateTime: unchanged ? before!.lastUpdateTime : now,
        lastTransitionTime: same ? before!.lastTransitionTime : now,
        reason,
        message,
      };
    };
    // Available once at most maxUnavailable (25%, rounded down) of the desired pods are missing.
    const available = s.ready >= s.desired - Math.floor(s.desired * 0.25);
    const progressing =
      s.progressing === 'deadline'
        ? condition(
            'Progressing',
            'False',
            'ProgressDeadlineExceeded',
            `ReplicaSet "${s.rsName}" has timed out progressing.`,
          )
        : s.progressing === 'available'
          ? condition(
              'Progressing',
              'True',
              'NewReplicaSetAvailable',
              `ReplicaSet "${s.rsName}" has successfully progressed.`,
            )
          : condition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${s.rsName}" is progressing.`);
    const status: Record<string, unknown> = {
      observedGeneration: current.metadata.generation,
      replicas: s.total,
      updatedReplicas: s.updated,
      readyReplicas: s.ready,
      availableReplicas: s.ready,
      conditions: [
        available
          ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
          : condition(
              'Available',
              'False',
              'MinimumReplicasUnavailable',
              'Deployment does not have minimum availability.',
            ),
        progressing,
      ],
    };
    if (s.desired - s.ready > 0) status.unavailableReplicas = s.desired - s.ready;
    if (s.total === 0) {
      delete status.readyReplicas;
      delete status.availableReplicas;
      delete status.updatedReplicas;
      delete status.replicas;
    }
    try {
      this.api.update(this.type, 'v1', namespace, name, { ...current, status }, 'status');
    } catch (error) {
      this.logger.warn({ deployment: key, err: error }, 'sandbox deployment status update failed');
    }
  }
}
