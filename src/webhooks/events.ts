import type { Canary } from '../api/canary.ts';
import { validWebhooks } from './gates.ts';
import { webhookPayload } from './payload.ts';
import type { WebhookRunner } from './runner.ts';

/**
 * Sends every event Petrel records on a Canary to the canary's `event` webhooks, in the background: the
 * payload's metadata carries eventType, eventReason and eventMessage. Recording never waits for them.
 */
export class EventWebhookSink {
  constructor(private readonly runner: WebhookRunner) {}

  record(canary: Canary, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const key = `${canary.metadata.namespace ?? ''}/${canary.metadata.name}`;
    for (const hook of validWebhooks(canary.spec)) {
      if (hook.type !== 'event') continue;
      this.runner.fire(
        key,
        hook,
        webhookPayload(canary, hook, { eventType: type, eventReason: reason, eventMessage: message }),
      );
    }
  }
}
