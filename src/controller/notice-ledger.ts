import type { Canary, CanaryNotice, CanaryStatus } from '../api/canary.ts';
import { type NoticeProgress, pendingNotices } from '../rollout/index.ts';
import type { EventSink, NoticeDelivery } from './executor.ts';

interface Entry {
  sent: Set<string>;
  settled: boolean;
  /** Some receivers were not reached: the next reconcile sends to them. */
  released: boolean;
}

/**
 * What this process sends of the notices recorded in canaries' status: which are in flight, which
 * receivers have them, which are done. The status is the truth across restarts; this only keeps one process
 * from sending a notice twice while the status has not caught up. Entries go once the status no longer
 * owes them, or when the canary is deleted.
 */
export class NoticeLedger {
  private readonly canaries = new Map<string, Map<string, Entry>>();

  /** `wake` reconciles a canary again once a notice that left the cluster is done, to record that. */
  constructor(private readonly wake?: (canaryKey: string) => void) {}

  /** Sends every notice `status` owes that this process is not already sending; returns those it sent. */
  async send(
    canaryKey: string,
    canary: Canary,
    status: CanaryStatus,
    events: EventSink,
  ): Promise<CanaryNotice[]> {
    const sent: CanaryNotice[] = [];
    for (const notice of pendingNotices(status)) {
      const delivery = this.claim(canaryKey, notice);
      if (!delivery) continue;
      sent.push(notice);
      // The alert reports the phase and weight of the decision that raised it, not of a later tick.
      const subject: Canary = {
        ...canary,
        status: {
          ...status,
          ...(notice.phase ? { phase: notice.phase } : {}),
          ...(notice.weight === undefined ? {} : { canaryWeight: notice.weight }),
        },
      };
      try {
        await events.record(
          subject,
          notice.type,
          notice.reason,
          notice.message,
          notice.muteAlert ? { ...delivery, muteAlert: true } : delivery,
        );
      } catch (err) {
        // Not sent: the next reconcile tries again.
        this.canaries.get(canaryKey)?.delete(notice.key);
        throw err;
      }
    }
    return sent;
  }

  /** The progress of a canary's notices, for `withDeliveries`. */
  progressOf(canaryKey: string): (noticeKey: string) => NoticeProgress | undefined {
    const entries = this.canaries.get(canaryKey);
    return (noticeKey) => {
      const entry = entries?.get(noticeKey);
      return entry ? { sent: [...entry.sent], settled: entry.settled } : undefined;
    };
  }

  /** Forgets the notices `status` (as written) no longer owes. */
  prune(canaryKey: string, status: CanaryStatus | undefined): void {
    const entries = this.canaries.get(canaryKey);
    if (!entries) return;
    const owed = new Set(pendingNotices(status).map((n) => n.key));
    for (const key of entries.keys()) if (!owed.has(key)) entries.delete(key);
    if (entries.size === 0) this.canaries.delete(canaryKey);
  }

  /** Canaries with notices this process is sending or has sent. */
  canaryKeys(): string[] {
    return [...this.canaries.keys()];
  }

  forget(canaryKey: string): void {
    this.canaries.delete(canaryKey);
  }

  /** Notices this process is sending or has sent and not yet seen recorded, for tests and diagnostics. */
  get size(): number {
    let n = 0;
    for (const entries of this.canaries.values()) n += entries.size;
    return n;
  }

  private claim(canaryKey: string, notice: CanaryNotice): NoticeDelivery | undefined {
    let entries = this.canaries.get(canaryKey);
    const previous = entries?.get(notice.key);
    if (previous && !previous.released) return undefined;
    if (!entries) {
      entries = new Map();
      this.canaries.set(canaryKey, entries);
    }
    const entry: Entry = { sent: new Set(previous?.sent), settled: false, released: false };
    entries.set(notice.key, entry);
    return {
      key: notice.key,
      time: notice.time,
      skip: new Set([...(notice.sent ?? []), ...entry.sent]),
      sent: (receiver) => {
        entry.sent.add(receiver);
      },
      settled: (external) => {
        entry.settled = true;
        if (external) this.wake?.(canaryKey);
      },
      released: () => {
        entry.released = true;
      },
    };
  }
}
