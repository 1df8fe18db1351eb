import type { AlertProviderType } from '../api/constants.ts';
import { postJson } from '../outbound/post.ts';
import type { OutboundProxy } from '../outbound/proxy.ts';
import { discordMessage } from './discord.ts';
import { teamsMessage } from './msteams.ts';
import type { Notification } from './notification.ts';
import { slackMessage } from './slack.ts';
import { genericMessage } from './webhook.ts';

/** Where a notification goes, once the AlertProvider (and its Secret) are resolved. */
export interface NotifierTarget {
  type: AlertProviderType;
  /** The webhook URL: a credential. Never log it, never put it in an event or an error. */
  address: string;
  channel?: string;
  username?: string;
}

export interface Notifier {
  post(n: Notification, signal?: AbortSignal): Promise<void>;
}

export const DEFAULT_NOTIFY_TIMEOUT_MS = 5_000;

/** The JSON body a channel expects for a notification; unknown types are an error, never a fallback. */
export function messageFor(target: Omit<NotifierTarget, 'address'>, n: Notification): unknown {
  const opts = {
    ...(target.channel ? { channel: target.channel } : {}),
    ...(target.username ? { username: target.username } : {}),
  };
  switch (target.type) {
    case 'slack':
      return slackMessage(n, opts);
    case 'msteams':
      return teamsMessage(n);
    case 'discord':
      return discordMessage(n, opts);
    case 'webhook':
      return genericMessage(n, opts);
    default:
      return assertNever(target.type);
  }
}

export function createNotifier(
  target: NotifierTarget,
  opts: { timeoutMs?: number; proxy?: OutboundProxy } = {},
): Notifier {
  return {
    post: async (n, signal) => {
      await postJson(target.address, messageFor(target, n), {
        timeoutMs: opts.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS,
        maxResponseBytes: 4096,
        signal,
        proxy: opts.proxy,
      });
    },
  };
}

function assertNever(type: never): never {
  throw new Error(`unknown alert provider type ${String(type)}`);
}
