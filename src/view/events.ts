import type { EventView } from './model.ts';

/** The fields of a core/v1 (or events.k8s.io/v1) Event a view reads. */
export interface KubeEventLike {
  type?: string;
  reason?: string;
  message?: string;
  note?: string;
  count?: number;
  lastTimestamp?: string | null;
  firstTimestamp?: string | null;
  eventTime?: string | null;
  series?: { count?: number; lastObservedTime?: string };
  involvedObject?: { kind?: string; name?: string; namespace?: string; uid?: string };
  regarding?: { kind?: string; name?: string; namespace?: string; uid?: string };
  metadata?: { creationTimestamp?: string; namespace?: string };
}

/** Whether an Event is about the Canary `namespace/name`. */
export function isEventOf(event: KubeEventLike, namespace: string, name: string): boolean {
  const about = event.involvedObject ?? event.regarding;
  return (
    about?.kind === 'Canary' &&
    about.name === name &&
    (about.namespace ?? event.metadata?.namespace) === namespace
  );
}

export function eventView(event: KubeEventLike): EventView {
  const time =
    event.series?.lastObservedTime ??
    event.lastTimestamp ??
    event.eventTime ??
    event.firstTimestamp ??
    event.metadata?.creationTimestamp ??
    undefined;
  return {
    type: event.type ?? 'Normal',
    reason: event.reason ?? '',
    message: event.message ?? event.note ?? '',
    ...(time ? { time } : {}),
    count: event.series?.count ?? event.count ?? 1,
  };
}

/** The `limit` most recent events, oldest first. Events without a time sort first. */
export function recentEvents(events: readonly KubeEventLike[], limit: number): EventView[] {
  return events
    .map(eventView)
    .map((view, index) => ({ view, index }))
    .sort((a, b) => (a.view.time ?? '').localeCompare(b.view.time ?? '') || a.index - b.index)
    .slice(-limit)
    .map(({ view }) => view);
}
