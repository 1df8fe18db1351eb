import type { Logger } from 'pino';
import { isKubeApiError } from '../kube/errors.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { Alerter, type DefaultAlertProvider } from '../notifiers/alerter.ts';
import { type CanaryEventSink, NotifyingEventSink } from '../notifiers/events.ts';
import { NotificationQueue } from '../notifiers/queue.ts';
import { HookObserver } from './gates.ts';
import { WebhookRunner } from './runner.ts';

export interface HookServicesOptions {
  api: KubeApi;
  alertProviders: { get(namespace: string, name: string): unknown | undefined };
  logger: Logger;
  now: () => Date;
  /** Reconciles a canary again (a webhook answered). */
  enqueue: (key: string) => void;
  clusterName?: string;
  defaultAlertProvider?: DefaultAlertProvider;
}

export interface HookServices {
  hooks: HookObserver;
  /** Wraps the Kubernetes event recorder so every event also reaches event webhooks and alerts. */
  events(inner: CanaryEventSink): CanaryEventSink;
  forget(key: string): void;
  /** Gives queued notifications up to `graceMs` to go out, then cancels what is left. */
  stop(graceMs?: number): Promise<void>;
}

/** The webhook runner, notification queue and alerter of one controller, wired together. */
export function createHookServices(opts: HookServicesOptions): HookServices {
  const webhookLog = opts.logger.child({ component: 'webhooks' });
  const runner = new WebhookRunner({ logger: webhookLog, onSettled: opts.enqueue });
  const hooks = new HookObserver(runner, webhookLog);
  const notifyLog = opts.logger.child({ component: 'notifications' });
  const queue = new NotificationQueue({ logger: notifyLog });
  const alerter = new Alerter({
    queue,
    logger: notifyLog,
    ...(opts.defaultAlertProvider ? { defaultProvider: opts.defaultAlertProvider } : {}),
    sources: {
      getAlertProvider: (namespace, name) => opts.alertProviders.get(namespace, name),
      getSecret: async (namespace, name) => {
        try {
          return await opts.api.get<KubeObject & { data?: Record<string, string> }>({
            resource: RESOURCES.secret,
            namespace,
            name,
          });
        } catch (err) {
          if (isKubeApiError(err, 'NOT_FOUND')) return undefined;
          throw err;
        }
      },
    },
  });
  return {
    hooks,
    events: (inner) =>
      new NotifyingEventSink(inner, {
        alerter,
        webhooks: runner,
        logger: notifyLog,
        now: opts.now,
        ...(opts.clusterName ? { clusterName: opts.clusterName } : {}),
      }),
    forget: (key) => hooks.forget(key),
    stop: async (graceMs = 2000) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        queue.drain(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      await Promise.all([queue.stop(), runner.stop()]);
    },
  };
}
