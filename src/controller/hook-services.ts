import type { Logger } from 'pino';
import type { AlertProviderType } from '../api/constants.ts';
import { isKubeApiError } from '../kube/errors.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { Alerter, type DefaultAlertProvider } from '../notifiers/alerter.ts';
import { AlertSink } from '../notifiers/events.ts';
import { createNotifier } from '../notifiers/notifier.ts';
import { NotificationQueue } from '../notifiers/queue.ts';
import type { OutboundProxy } from '../outbound/proxy.ts';
import { callWebhook } from '../webhooks/client.ts';
import { EventWebhookSink } from '../webhooks/events.ts';
import { HookObserver } from '../webhooks/gates.ts';
import { WebhookRunner } from '../webhooks/runner.ts';
import { EventChain } from './event-chain.ts';
import type { EventSink } from './executor.ts';

export interface HookServicesOptions {
  api: KubeApi;
  alertProviders: { get(namespace: string, name: string): unknown | undefined };
  logger: Logger;
  now: () => Date;
  /** Reconciles a canary again (a webhook answered). */
  enqueue: (key: string) => void;
  clusterName?: string;
  defaultAlertProvider?: DefaultAlertProvider;
  /** Webhook and alert posts go through it where its settings say so. */
  proxy?: OutboundProxy;
  /** Told about each alert given up on (the failed-alert counter). */
  onAlertUndelivered?: (providerType: AlertProviderType | 'unknown') => void;
}

export interface HookServices {
  hooks: HookObserver;
  /** Records each event with `recorder`, then passes it on to event webhooks and alerts. */
  events(recorder: EventSink): EventSink;
  forget(key: string): void;
  /** Gives queued notifications up to `graceMs` to go out, then cancels what is left. */
  stop(graceMs?: number): Promise<void>;
}

/** The webhook runner, notification queue and alerter of one controller, wired together. */
export function createHookServices(opts: HookServicesOptions): HookServices {
  const proxy = opts.proxy;
  const webhookLog = opts.logger.child({ component: 'webhooks' });
  const runner = new WebhookRunner({
    logger: webhookLog,
    onSettled: opts.enqueue,
    call: (hook, payload, signal) => callWebhook(hook, payload, { signal, proxy }),
  });
  const hooks = new HookObserver(runner, webhookLog);
  const notifyLog = opts.logger.child({ component: 'notifications' });
  const queue = new NotificationQueue({ logger: notifyLog });
  const alerter = new Alerter({
    queue,
    logger: notifyLog,
    notifierFor: (target) => createNotifier(target, { proxy }),
    ...(opts.defaultAlertProvider ? { defaultProvider: opts.defaultAlertProvider } : {}),
    ...(opts.onAlertUndelivered ? { onUndelivered: opts.onAlertUndelivered } : {}),
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
  const followers = [
    new AlertSink({
      alerter,
      now: opts.now,
      ...(opts.clusterName ? { clusterName: opts.clusterName } : {}),
    }),
    new EventWebhookSink(runner),
  ];
  return {
    hooks,
    events: (recorder) => new EventChain(recorder, followers, { logger: notifyLog, now: opts.now }),
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
      proxy?.close();
    },
  };
}
