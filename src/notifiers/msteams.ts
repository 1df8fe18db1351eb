import { failingCheckText, type Notification, title } from './notification.ts';

/** Adaptive Card text colours: accent (blue) for info, warning (amber), attention (red). */
const COLOR = { info: 'accent', warn: 'warning', error: 'attention' } as const;

interface AdaptiveElement {
  type: 'TextBlock' | 'FactSet';
  [field: string]: unknown;
}

/**
 * A Microsoft Teams message carrying an Adaptive Card 1.4: what the "post to a channel when a webhook request
 * is received" Workflow takes (the MessageCard of the retired Office 365 connectors is not).
 */
export function teamsMessage(n: Notification) {
  const facts = [
    { title: 'Canary', value: n.canary },
    { title: 'Namespace', value: n.namespace },
    { title: 'Phase', value: n.phase },
    { title: 'Weight', value: `${n.weight}%` },
  ];
  if (n.cluster) facts.push({ title: 'Cluster', value: n.cluster });
  const check = failingCheckText(n);
  if (check) facts.push({ title: 'Failing check', value: check });
  const body: AdaptiveElement[] = [
    {
      type: 'TextBlock',
      text: title(n),
      weight: 'Bolder',
      size: 'Medium',
      color: COLOR[n.severity],
      wrap: true,
    },
    { type: 'TextBlock', text: n.message, wrap: true },
    { type: 'FactSet', facts },
    {
      type: 'TextBlock',
      text: `Petrel · ${n.severity} · ${n.time}`,
      isSubtle: true,
      size: 'Small',
      wrap: true,
    },
  ];
  return {
    type: 'message',
    summary: title(n),
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body,
        },
      },
    ],
  };
}
