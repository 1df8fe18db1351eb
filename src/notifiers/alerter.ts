import type { Logger } from 'pino';
import { type Canary, type CanaryAlert, canaryAlertSchema } from '../api/canary.ts';
import type { AlertProviderType, AlertSeverity } from '../api/constants.ts';
import { validItems } from '../api/issues.ts';
import { type Notification, severityAllows } from './notification.ts';
import { createNotifier, type Notifier, type NotifierTarget } from './notifier.ts';
import { AlertProviderError, type ProviderSources, resolveAlertProvider } from './providers.ts';
import type { JobOutcome, NotificationQueue } from './queue.ts';

export interface DefaultAlertProvider {
  target: NotifierTarget;
  /** Lowest severity sent to it (default info). */
  severity: AlertSeverity;
}

export interface AlerterOptions {
  sources: ProviderSources;
  queue: NotificationQueue;
  logger: Logger;
  /** Used for canaries without `analysis.alerts` (the controller's --alert-* flags). */
  defaultProvider?: DefaultAlertProvider;
  notifierFor?: (target: NotifierTarget) => Notifier;
  /**
   * Told about each notification given up on, with the provider type ('unknown' when the AlertProvider or
   * its Secret could not be read); never the address.
   */
  onUndelivered?: (providerType: AlertProviderType | 'unknown') => void;
}

/**
 * Routes a notification to a canary's `analysis.alerts` (filtered by severity: info ⊃ warn ⊃ error), or to
 * the controller-wide default provider when the canary names none. Provider and Secret are resolved inside
 * the queued job, so nothing here waits on the network.
 */
export class Alerter {
  private readonly notifierFor: (target: NotifierTarget) => Notifier;

  constructor(private readonly opts: AlerterOptions) {
    this.notifierFor = opts.notifierFor ?? ((target) => createNotifier(target));
  }

  /** Queues the notification for every matching destination; returns how many were queued. */
  notify(canary: Pick<Canary, 'metadata'> & { spec?: unknown }, n: Notification): number {
    return this.dispatch(canary, n).length;
  }

  /**
   * Queues the notification for every matching destination but those in `skip` (receivers that already
   * have it, as `alert:<name>`); each entry resolves once its receiver got it or was given up on.
   */
  dispatch(
    canary: Pick<Canary, 'metadata'> & { spec?: unknown },
    n: Notification,
    skip: ReadonlySet<string> = new Set(),
  ): Dispatched[] {
    const namespace = canary.metadata.namespace ?? '';
    const alerts = validAlerts(canary.spec);
    if (alerts.length === 0) {
      const fallback = this.opts.defaultProvider;
      if (!fallback || !severityAllows(fallback.severity, n.severity) || skip.has(DEFAULT_RECEIVER))
        return [];
      const done = this.opts.queue.enqueue({
        label: 'default provider',
        send: (signal) => this.notifierFor(fallback.target).post(n, signal),
        onUndelivered: () => this.opts.onUndelivered?.(fallback.target.type),
      });
      return [{ receiver: DEFAULT_RECEIVER, done }];
    }
    const dispatched: Dispatched[] = [];
    for (const alert of alerts) {
      const receiver = `alert:${alert.name}`;
      if (!severityAllows(alert.severity, n.severity) || skip.has(receiver)) continue;
      const ns = alert.providerRef.namespace ?? namespace;
      const name = alert.providerRef.name;
      let providerType: AlertProviderType | 'unknown' = 'unknown';
      const done = this.opts.queue.enqueue({
        label: `${ns}/${name}`,
        // Resolving the provider (its Secret) is part of each attempt: a failed read is retried like a post.
        send: async (signal) => {
          const target = await resolveAlertProvider(this.opts.sources, ns, name).catch((err: unknown) => {
            if (err instanceof AlertProviderError && err.providerType) providerType = err.providerType;
            throw err;
          });
          providerType = target.type;
          await this.notifierFor(target).post(n, signal);
        },
        onUndelivered: () => this.opts.onUndelivered?.(providerType),
      });
      dispatched.push({ receiver, done });
    }
    return dispatched;
  }
}

/** The receiver name of the controller-wide default provider. */
export const DEFAULT_RECEIVER = 'alert:default';

/** One receiver a notification was queued for; `done` says how its job ended. */
export interface Dispatched {
  receiver: string;
  done: Promise<JobOutcome>;
}

/**
 * The alerts of a spec that may have failed validation (an InvalidSpec alert still reaches the alerts that
 * are well formed).
 */
export function validAlerts(spec: unknown): CanaryAlert[] {
  const list = (spec as { analysis?: { alerts?: unknown } } | undefined)?.analysis?.alerts;
  return validItems(canaryAlertSchema, list);
}
