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

  /**
   * With a notice (a recorded transition), the payload's metadata also carries `eventKey`, hooks that
   * already have it (`webhook:<name>`) are skipped, and each call is returned with its receiver.
   */
  record(
    canary: Canary,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    notice?: { key: string; skip: ReadonlySet<string> },
  ): { receiver: string; done: Promise<'sent' | 'failed' | 'dropped'> }[] {
    const key = `${canary.metadata.namespace ?? ''}/${canary.metadata.name}`;
    const calls: { receiver: string; done: Promise<'sent' | 'failed' | 'dropped'> }[] = [];
    for (const hook of validWebhooks(canary.spec)) {
      if (hook.type !== 'event') continue;
      const receiver = `webhook:${hook.name}`;
      if (notice?.skip.has(receiver)) continue;
      const metadata = { eventType: type, eventReason: reason, eventMessage: message };
      const done = this.runner.fire(
        key,
        hook,
        webhookPayload(canary, hook, notice ? { ...metadata, eventKey: notice.key } : metadata),
      );
      calls.push({ receiver, done: done.then(outcomeOf) });
    }
    return calls;
  }
}

/** How a fired call ended: no outcome (dropped from a full queue) or cut short by a stop is not an answer. */
function outcomeOf(outcome: unknown): 'sent' | 'failed' | 'dropped' {
  if (!outcome || typeof outcome !== 'object') return 'dropped';
  const { ok, code } = outcome as { ok?: unknown; code?: unknown };
  if (ok === true) return 'sent';
  return code === 'HOOK_ABORTED' ? 'dropped' : 'failed';
}
