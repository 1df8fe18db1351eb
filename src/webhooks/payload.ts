import type { Canary, CanaryWebhook } from '../api/canary.ts';

/** The JSON body every webhook receives (Flagger's payload, plus the current weight). */
export interface WebhookPayload {
  name: string;
  namespace: string;
  phase: string;
  /** The revision under analysis (status.lastAppliedSpec). */
  checksum: string;
  weight: number;
  /** The webhook's own `metadata`; `event` hooks also get eventType and eventMessage here. */
  metadata: Record<string, string>;
}

export function webhookPayload(
  canary: Pick<Canary, 'metadata' | 'status'>,
  hook: Pick<CanaryWebhook, 'metadata'>,
  extra: Record<string, string> = {},
): WebhookPayload {
  const status = canary.status ?? {};
  return {
    name: canary.metadata.name,
    namespace: canary.metadata.namespace ?? '',
    phase: status.phase ?? 'Initializing',
    checksum: status.lastAppliedSpec ?? '',
    weight: status.canaryWeight ?? 0,
    metadata: { ...(hook.metadata ?? {}), ...extra },
  };
}
