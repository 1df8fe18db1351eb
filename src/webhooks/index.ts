export {
  callWebhook,
  DEFAULT_WEBHOOK_RETRIES,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  type WebhookOutcome,
} from './client.ts';
export { HookCallError, type HookErrorCode } from './errors.ts';
export { DEFAULT_MAX_RESPONSE_BYTES, type PostJsonResult, postJson } from './http.ts';
export { type WebhookPayload, webhookPayload } from './payload.ts';
export { RetriesExhaustedError, withRetries } from './retry.ts';
export { WebhookRunner, type WebhookRunnerOptions } from './runner.ts';
