import type { Logger } from 'pino';
import { isKubeApiError } from '../kube/errors.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { type Clock, systemClock } from '../lib/clock.ts';

/** A coordination.k8s.io/v1 Lease, as far as leader election reads and writes it. */
export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  api: KubeApi;
  /** Where the Lease lives (the controller's own namespace). */
  namespace: string;
  /** Lease name, shared by every replica of one installation. */
  name: string;
  /** This replica's name in `holderIdentity` (the pod name). */
  identity: string;
  /** A standby takes over at most this long after the leader's last renewal (default 15 s). */
  leaseDurationMs?: number;
  /** The leader steps down when it could not renew for this long; shorter than the lease (default 10 s). */
  renewDeadlineMs?: number;
  /** How often the leader renews and standbys retry (default 2 s). */
  retryPeriodMs?: number;
  clock?: Clock;
  logger: Logger;
  /** Called once each time this replica becomes the leader. */
  onStartedLeading?: () => void;
  /** Called at once, synchronously, when this replica stops being the leader (lost, expired or released). */
  onStoppedLeading?: (reason: string) => void;
  /** Random source for retry jitter (default Math.random). */
  random?: () => number;
}

/** Where the Lease is and how fast it moves (what startController takes). */
export type LeaderElectionSettings = Pick<
  LeaderElectionOptions,
  'namespace' | 'name' | 'identity' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'
>;

export class LeaderElectionConfigError extends Error {
  override readonly name = 'LeaderElectionConfigError';
  readonly code = 'LEADER_ELECTION_CONFIG';
}

/** A write attempted by a replica that does not hold the Lease. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  readonly code = 'NOT_LEADER';
}

const DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Leader election over a Lease, as client-go does it: the holder renews every retry period with an
 * optimistic-concurrency patch (resourceVersion), a standby takes the Lease once it has not been
 * renewed for its duration, and a leader that cannot renew within the renew deadline, or finds
 * another holder, steps down at once. `stop()` releases the Lease so a standby takes over without
 * waiting for it to expire.
 */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private leading = false;
  private running = false;
  private timer: unknown;
  private watchdog: unknown;
  private lastRenewMs = 0;
  private inFlight?: Promise<void>;
  /** The record last seen held by someone else, and when it was first seen locally. */
  private observed?: { key: string; atMs: number };

  constructor(private readonly options: LeaderElectionOptions) {
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULTS.leaseDurationMs;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULTS.renewDeadlineMs;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULTS.retryPeriodMs;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    validateTimings(this.leaseDurationMs, this.renewDeadlineMs, this.retryPeriodMs);
    if (!options.identity)
      throw new LeaderElectionConfigError('leader election needs an identity (the pod name)');
    if (!options.namespace || !options.name)
      throw new LeaderElectionConfigError('leader election needs the Lease namespace and name');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get identity(): string {
    return this.options.identity;
  }

  /** Starts campaigning; returns at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops campaigning and, when leading, releases the Lease (best effort, bounded by the retry period). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.clock.clearTimeout(this.timer);
    await this.inFlight;
    if (this.leading) {
      this.stepDown('stopped');
      await this.release();
    }
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.inFlight = this.tick().finally(() => {
        this.inFlight = undefined;
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    let next = this.retryPeriodMs;
    try {
      next = await this.tryAcquireOrRenew();
    } catch (err) {
      this.options.logger.warn(
        { lease: this.leaseRef().name, err: describe(err) },
        this.leading ? 'could not renew the leader lease' : 'could not read the leader lease',
      );
    }
    this.schedule(next);
  }

  /** One attempt; returns when to try next. */
  private async tryAcquireOrRenew(): Promise<number> {
    const { api } = this.options;
    const now = this.clock.now();
    let lease: Lease;
    try {
      lease = await api.get<Lease>(this.leaseRef(), { timeoutMs: this.retryPeriodMs });
    } catch (err) {
      if (!isKubeApiError(err, 'NOT_FOUND')) throw err;
      return this.create(now);
    }
    if (!this.running) return this.retryPeriodMs;
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder === this.options.identity) return this.update(lease, now, false);
    if (this.leading) {
      this.stepDown(`the lease is now held by ${holder || 'nobody'}`);
    }
    const expiresAt = this.expiryOf(lease, now);
    if (holder === '' || now.getTime() >= expiresAt) return this.update(lease, now, true);
    // Someone else leads: look again when their lease would expire, or after a retry period.
    return Math.max(10, Math.min(this.jittered(), expiresAt - now.getTime() + 10));
  }

  private async create(now: Date): Promise<number> {
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.options.name, namespace: this.options.namespace },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      },
    };
    try {
      await this.options.api.create(RESOURCES.lease, lease, { timeoutMs: this.retryPeriodMs });
    } catch (err) {
      if (isKubeApiError(err, 'ALREADY_EXISTS') || isKubeApiError(err, 'CONFLICT')) return 0;
      throw err;
    }
    this.renewed(now);
    return this.retryPeriodMs;
  }

  /** Renews our own lease, or takes over an expired or released one; optimistic on resourceVersion. */
  private async update(lease: Lease, now: Date, takeover: boolean): Promise<number> {
    const spec = lease.spec ?? {};
    const patch = {
      metadata: { resourceVersion: lease.metadata?.resourceVersion },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        renewTime: microTime(now),
        ...(takeover
          ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
          : {}),
      },
    };
    try {
      await this.options.api.mergePatch<Lease>(this.leaseRef(), patch, { timeoutMs: this.retryPeriodMs });
    } catch (err) {
      if (isKubeApiError(err, 'CONFLICT')) {
        // Someone else wrote the Lease since we read it: if we were leading, we no longer know we are.
        if (this.leading) this.stepDown('the lease was written by another replica');
        return this.jittered();
      }
      throw err;
    }
    if (!this.running) return this.retryPeriodMs;
    if (takeover) {
      this.options.logger.info(
        { lease: this.options.name, previous: spec.holderIdentity || undefined },
        'took over the leader lease',
      );
    }
    this.renewed(now);
    return this.retryPeriodMs;
  }

  private renewed(now: Date): void {
    this.lastRenewMs = now.getTime();
    this.observed = undefined;
    this.armWatchdog();
    if (!this.leading) {
      this.leading = true;
      this.options.logger.info(
        { identity: this.options.identity, lease: this.options.name },
        'became the leader',
      );
      this.options.onStartedLeading?.();
    }
  }

  /** Steps down when the renew deadline passes without a successful renewal, even if a request hangs. */
  private armWatchdog(): void {
    this.clock.clearTimeout(this.watchdog);
    this.watchdog = this.clock.setTimeout(
      () => {
        if (this.leading && this.clock.now().getTime() - this.lastRenewMs >= this.renewDeadlineMs) {
          this.stepDown(`could not renew the lease within ${this.renewDeadlineMs} ms`);
        }
      },
      this.lastRenewMs + this.renewDeadlineMs - this.clock.now().getTime(),
    );
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.clock.clearTimeout(this.watchdog);
    this.options.logger.warn(
      { identity: this.options.identity, lease: this.options.name, reason },
      'stopped leading',
    );
    this.options.onStoppedLeading?.(reason);
  }

  /**
   * When a Lease held by another replica expires. The holder's renewTime is trusted as far as it agrees
   * with what this replica saw (a record first seen locally at T was renewed no earlier than T minus a
   * retry period), so a skewed clock cannot make a standby take over more than a retry period early,
   * and the holder itself steps down at its renew deadline, a retry period or more before that.
   */
  private expiryOf(lease: Lease, now: Date): number {
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}|${lease.metadata?.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, atMs: now.getTime() };
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(this.leaseDurationMs / 1000)) * 1000;
    const renewMs = spec.renewTime ? Date.parse(spec.renewTime) : Number.NaN;
    const floor = this.observed.atMs - this.retryPeriodMs;
    const renewedAt = Number.isFinite(renewMs) ? Math.max(renewMs, floor) : this.observed.atMs;
    return renewedAt + durationMs;
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.options.api.get<Lease>(this.leaseRef(), { timeoutMs: this.retryPeriodMs });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      await this.options.api.mergePatch(
        this.leaseRef(),
        {
          metadata: { resourceVersion: lease.metadata?.resourceVersion },
          spec: { holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(this.clock.now()) },
        },
        { timeoutMs: this.retryPeriodMs },
      );
      this.options.logger.info({ lease: this.options.name }, 'released the leader lease');
    } catch (err) {
      this.options.logger.warn(
        { lease: this.options.name, err: describe(err) },
        'could not release the leader lease; a standby takes over when it expires',
      );
    }
  }

  private leaseRef() {
    return { resource: RESOURCES.lease, namespace: this.options.namespace, name: this.options.name };
  }

  private jittered(): number {
    return Math.round(this.retryPeriodMs * (1 + 0.2 * this.random()));
  }
}

/** Throws LeaderElectionConfigError unless the leader gives up before a standby may take over. */
export function validateTimings(leaseMs: number, renewMs: number, retryMs: number): void {
  for (const [name, value] of [
    ['leaseDuration', leaseMs],
    ['renewDeadline', renewMs],
    ['retryPeriod', retryMs],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new LeaderElectionConfigError(`${name} must be a positive duration, got ${value} ms`);
    }
  }
  if (leaseMs % 1000 !== 0) {
    throw new LeaderElectionConfigError('leaseDuration must be whole seconds (a Lease counts in seconds)');
  }
  // The leader must give up before a standby may take over, with a retry period to spare for skew.
  if (renewMs + retryMs > leaseMs) {
    throw new LeaderElectionConfigError(
      `renewDeadline (${renewMs} ms) plus retryPeriod (${retryMs} ms) must not exceed leaseDuration (${leaseMs} ms)`,
    );
  }
  if (retryMs >= renewMs) {
    throw new LeaderElectionConfigError(
      `retryPeriod (${retryMs} ms) must be shorter than renewDeadline (${renewMs} ms) so the leader can renew`,
    );
  }
}

/**
 * A KubeApi whose writes fail with NotLeaderError unless `isLeader()` says this replica leads, checked
 * right before each request: a replica that loses the Lease stops writing at once, even in the middle
 * of a reconcile. Reads pass through (standbys keep their caches warm).
 */
export function leaderOnlyWrites(api: KubeApi, isLeader: () => boolean): KubeApi {
  const guard = (): void => {
    if (!isLeader())
      throw new NotLeaderError('not the leader: writes are left to the replica holding the lease');
  };
  return {
    get: (ref, opts) => api.get(ref, opts),
    list: (resource, opts) => api.list(resource, opts),
    create: async (resource, obj, opts) => {
      guard();
      return api.create(resource, obj, opts);
    },
    mergePatch: async (ref, patch, opts) => {
      guard();
      return api.mergePatch(ref, patch, opts);
    },
    jsonPatch: async (ref, ops, opts) => {
      guard();
      return api.jsonPatch(ref, ops, opts);
    },
    patchStatus: async (ref, patch, opts) => {
      guard();
      return api.patchStatus(ref, patch, opts);
    },
    delete: async (ref, opts) => {
      guard();
      return api.delete(ref, opts);
    },
  };
}

function describe(err: unknown): unknown {
  return err instanceof Error ? { message: err.message, code: (err as { code?: unknown }).code } : err;
}
