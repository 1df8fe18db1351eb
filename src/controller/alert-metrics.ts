import { Counter, type Registry } from 'prom-client';
import { ALERT_PROVIDER_TYPES, type AlertProviderType } from '../api/constants.ts';

const NAME = 'petrel_alert_posts_failed_total';

/**
 * Counts alerts given up on (retries spent, or the AlertProvider or its Secret unreadable), by provider type
 * only: the address is a credential and never a label. Every type starts at 0 so rate() works from the start.
 */
export function countFailedAlertPosts(
  registry: Registry,
): (providerType: AlertProviderType | 'unknown') => void {
  const counter =
    (registry.getSingleMetric(NAME) as Counter<'provider_type'> | undefined) ??
    new Counter({
      name: NAME,
      help: 'Alert notifications not delivered after their retries, by provider type (unknown: the AlertProvider or its Secret could not be read)',
      labelNames: ['provider_type'],
      registers: [registry],
    });
  for (const type of [...ALERT_PROVIDER_TYPES, 'unknown']) counter.inc({ provider_type: type }, 0);
  return (providerType) => counter.inc({ provider_type: providerType });
}
