import type { Logger } from 'pino';
import type { ResourceApi } from './api.ts';
import type { TimerSet } from './clock.ts';
import { ApiError } from './errors.ts';
import type { ResourceRegistry } from './resources.ts';
import type { ObjectStore } from './store.ts';

/**
 * Background garbage collection: after any deletion, objects whose ownerReferences all point at
 * objects that no longer exist (by uid) are deleted, honouring their own finalizers.
 */
export class GarbageCollector {
  private scheduled: unknown;
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly store: ObjectStore,
    private readonly api: ResourceApi,
    private readonly registry: ResourceRegistry,
    private readonly timers: TimerSet,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((event) => {
      if (event.type === 'DELETED') this.schedule();
    });
    this.schedule();
  }

  stop(): void {
    this.unsubscribe();
    this.timers.cancel(this.scheduled);
    this.scheduled = undefined;
  }

  private schedule(): void {
    if (this.scheduled !== undefined) return;
    this.scheduled = this.timers.after(0, () => {
      this.scheduled = undefined;
      try {
        this.sweep();
      } catch (error) {
        this.logger.error({ err: error }, 'sandbox garbage collection pass failed');
      }
    });
  }

  /** One pass; deletions it makes trigger the next pass, so chains of owners collapse. */
  sweep(): void {
    for (const { key, object } of [...this.store.entries()]) {
      const refs = object.metadata.ownerReferences ?? [];
      if (refs.length === 0 || object.metadata.deletionTimestamp) continue;
      if (refs.some((ref) => this.store.findByUid(ref.uid) !== undefined)) continue;
      const type = this.registry.byKey(key);
      if (!type) continue;
      try {
        this.api.delete(type, object.metadata.namespace, object.metadata.name ?? '', {
          propagationPolicy: 'Background',
        });
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 404))
          this.logger.warn(
            { object: `${key}/${object.metadata.name}`, err: error },
            'sandbox garbage collection failed',
          );
      }
    }
  }
}
