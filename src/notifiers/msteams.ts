import { failingCheckText, type Notification, title } from './notification.ts';

const COLOR = { info: '0078D7', warn: 'FFA500', error: 'D70000' } as const;

/** A Microsoft Teams incoming-webhook MessageCard (what Teams connectors and Workflows both accept). */
export function teamsMessage(n: Notification) {
  const facts = [
    { name: 'Canary', value: n.canary },
    { name: 'Namespace', value: n.namespace },
    { name: 'Phase', value: n.phase },
    { name: 'Weight', value: `${n.weight}%` },
  ];
  if (n.cluster) facts.push({ name: 'Cluster', value: n.cluster });
  const check = failingCheckText(n);
  if (check) facts.push({ name: 'Failing check', value: check });
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    themeColor: COLOR[n.severity],
    summary: title(n),
    sections: [{ activityTitle: title(n), activitySubtitle: n.message, facts, markdown: false }],
  };
}
