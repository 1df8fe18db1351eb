import { failingCheckText, type Notification, title } from './notification.ts';

const COLOR = { info: 0x0078d7, warn: 0xffa500, error: 0xd70000 } as const;

/** A Discord webhook message with one embed; mentions are disabled so a message can never ping anyone. */
export function discordMessage(n: Notification, opts: { username?: string } = {}) {
  const fields = [
    { name: 'Canary', value: n.canary, inline: true },
    { name: 'Namespace', value: n.namespace, inline: true },
    { name: 'Phase', value: n.phase, inline: true },
    { name: 'Weight', value: `${n.weight}%`, inline: true },
  ];
  if (n.cluster) fields.push({ name: 'Cluster', value: n.cluster, inline: true });
  const check = failingCheckText(n);
  if (check) fields.push({ name: 'Failing check', value: check.slice(0, 1024), inline: false });
  return {
    ...(opts.username ? { username: opts.username } : {}),
    allowed_mentions: { parse: [] as string[] },
    embeds: [
      {
        title: title(n).slice(0, 256),
        description: n.message.slice(0, 4096),
        color: COLOR[n.severity],
        timestamp: n.time,
        fields,
      },
    ],
  };
}
