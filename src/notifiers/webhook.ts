import type { Notification } from './notification.ts';

/** The generic webhook gets the notification as it is: a flat, documented JSON object. */
export function genericMessage(n: Notification, opts: { channel?: string; username?: string } = {}) {
  return {
    ...n,
    ...(opts.channel ? { channel: opts.channel } : {}),
    ...(opts.username ? { username: opts.username } : {}),
  };
}
