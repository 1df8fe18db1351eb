export {
  callWebhook,
  DEFAULT_WEBHOOK_RETRIES,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  type WebhookOutcome,
} from './client.ts';
export { EventWebhookSink } from './events.ts';
export { type WebhookPayload, webhookPayload } from './payload.ts';
export { WebhookRunner, type WebhookRunnerOptions } from './runner.ts';
