import { describe, expect, it } from 'vitest';
import { NotificationUsageError, parseNotificationArgs } from '../src/notifiers/flags.ts';

describe('controller notification flags', () => {
  it('takes its flags out and leaves the others', () => {
    const { options, rest } = parseNotificationArgs(
      [
        '--workers',
        '4',
        '--cluster-name=prod-eu',
        '--alert-type',
        'slack',
        '--alert-severity',
        'warn',
        '--log-level',
        'debug',
      ],
      { PETREL_ALERT_ADDRESS: 'https://hooks.slack.com/services/T/B/secret', PETREL_ALERT_CHANNEL: '#ops' },
    );
    expect(rest).toEqual(['--workers', '4', '--log-level', 'debug']);
    expect(options).toEqual({
      clusterName: 'prod-eu',
      defaultAlertProvider: {
        severity: 'warn',
        target: { type: 'slack', address: 'https://hooks.slack.com/services/T/B/secret', channel: '#ops' },
      },
    });
  });

  it('needs nothing when no default provider is wanted', () => {
    expect(parseNotificationArgs([], {})).toEqual({ options: {}, rest: [] });
  });

  it('refuses incomplete or bad values without repeating the address', () => {
    const cases: [string[], string][] = [
      [['--alert-type', 'pager', '--alert-address', 'https://x/secret'], '--alert-type'],
      [['--alert-type', 'slack'], '--alert-address'],
      [['--alert-address', 'https://x/secret'], '--alert-type'],
      [['--alert-type', 'slack', '--alert-address', 'not a url secret'], '--alert-address'],
      [['--alert-severity', 'critical'], '--alert-severity'],
      [['--cluster-name'], '--cluster-name'],
    ];
    for (const [args, flag] of cases) {
      const err = (() => {
        try {
          parseNotificationArgs(args, {});
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(NotificationUsageError);
      expect((err as Error).message.startsWith(flag)).toBe(true);
      expect((err as Error).message).not.toContain('secret');
    }
  });
});
