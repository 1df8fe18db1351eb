import { failingCheckText, type Notification, title } from './notification.ts';

const EMOJI = { info: ':large_blue_circle:', warn: ':warning:', error: ':red_circle:' } as const;

/** Slack Block Kit field: at most 2000 characters of mrkdwn. */
interface TextObject {
  type: 'mrkdwn' | 'plain_text';
  text: string;
}

export interface SlackMessage {
  text: string;
  channel?: string;
  username?: string;
  blocks: (
    | { type: 'header'; text: { type: 'plain_text'; text: string } }
    | { type: 'section'; text?: TextObject; fields?: TextObject[] }
    | { type: 'context'; elements: TextObject[] }
  )[];
}

/** A Slack incoming-webhook message with Block Kit blocks; `text` is the fallback for notifications. */
export function slackMessage(
  n: Notification,
  opts: { channel?: string; username?: string } = {},
): SlackMessage {
  const fields: TextObject[] = [
    { type: 'mrkdwn', text: `*Canary*\n${escapeMrkdwn(n.canary)}` },
    { type: 'mrkdwn', text: `*Namespace*\n${escapeMrkdwn(n.namespace)}` },
    { type: 'mrkdwn', text: `*Phase*\n${escapeMrkdwn(n.phase)}` },
    { type: 'mrkdwn', text: `*Weight*\n${n.weight}%` },
  ];
  if (n.cluster) fields.push({ type: 'mrkdwn', text: `*Cluster*\n${escapeMrkdwn(n.cluster)}` });
  const check = failingCheckText(n);
  if (check) fields.push({ type: 'mrkdwn', text: `*Failing check*\n${escapeMrkdwn(check)}` });
  return {
    text: `${title(n)} ${n.message}`.slice(0, 3000),
    ...(opts.channel ? { channel: opts.channel } : {}),
    ...(opts.username ? { username: opts.username } : {}),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${title(n)}`.slice(0, 150) } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `${EMOJI[n.severity]} ${escapeMrkdwn(n.message)}`.slice(0, 3000) },
      },
      { type: 'section', fields: fields.map((f) => ({ ...f, text: f.text.slice(0, 2000) })) },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `Petrel · ${n.severity} · ${n.time}` }] },
    ],
  };
}

/** Slack's three control characters in mrkdwn. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
