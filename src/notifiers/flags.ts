import {
  ALERT_PROVIDER_TYPES,
  ALERT_SEVERITIES,
  type AlertProviderType,
  type AlertSeverity,
} from '../api/constants.ts';
import { type FlagDefs, takeFlags } from '../lib/args.ts';
import { registerSecret } from '../lib/redact.ts';
import type { DefaultAlertProvider } from './alerter.ts';
import { isHttpUrl } from './providers.ts';

export const NOTIFICATION_FLAGS_USAGE = `  --cluster-name NAME          shown in notifications [PETREL_CLUSTER_NAME]
  --alert-type TYPE            default alert provider for canaries without analysis.alerts:
                               ${ALERT_PROVIDER_TYPES.join(', ')} [PETREL_ALERT_TYPE]
  --alert-address URL          its webhook URL; prefer the variable, a flag shows in ps [PETREL_ALERT_ADDRESS]
  --alert-channel NAME         its channel [PETREL_ALERT_CHANNEL]
  --alert-username NAME        its user name [PETREL_ALERT_USERNAME]
  --alert-severity LEVEL       lowest severity sent to it: info, warn, error (default info) [PETREL_ALERT_SEVERITY]
`;

export interface NotificationOptions {
  clusterName?: string;
  defaultAlertProvider?: DefaultAlertProvider;
}

export class NotificationUsageError extends Error {
  override readonly name = 'NotificationUsageError';
  readonly code = 'USAGE';
}

const FLAGS = {
  '--cluster-name': 'PETREL_CLUSTER_NAME',
  '--alert-type': 'PETREL_ALERT_TYPE',
  '--alert-address': 'PETREL_ALERT_ADDRESS',
  '--alert-channel': 'PETREL_ALERT_CHANNEL',
  '--alert-username': 'PETREL_ALERT_USERNAME',
  '--alert-severity': 'PETREL_ALERT_SEVERITY',
} as const;
type Flag = keyof typeof FLAGS;
const FLAG_DEFS: FlagDefs = Object.fromEntries(
  Object.keys(FLAGS).map((flag) => [flag.slice(2), { type: 'string' }]),
);

/** Takes the notification flags out of `args` (flags win over the environment); the rest is returned. */
export function parseNotificationArgs(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { options: NotificationOptions; rest: string[] } {
  const taken = takeFlags(args, FLAG_DEFS, (message) => new NotificationUsageError(message));
  const given: Partial<Record<Flag, string>> = {};
  for (const flag of Object.keys(FLAGS) as Flag[]) {
    const value = taken.values[flag.slice(2)] as string | undefined;
    if (value === '') throw new NotificationUsageError(`${flag}: needs a value`);
    given[flag] = value;
  }
  const rest = taken.rest;
  const get = (flag: Flag) => given[flag] ?? (env[FLAGS[flag]] || undefined);
  const options: NotificationOptions = {};
  const cluster = get('--cluster-name');
  if (cluster) options.clusterName = cluster.slice(0, 100);
  const type = get('--alert-type');
  const address = get('--alert-address');
  registerSecret(address);
  const severity = get('--alert-severity') ?? 'info';
  if (!ALERT_SEVERITIES.includes(severity as AlertSeverity)) {
    throw new NotificationUsageError(`--alert-severity: must be one of ${ALERT_SEVERITIES.join(', ')}`);
  }
  if (type === undefined && address === undefined) return { options, rest };
  if (type === undefined || !ALERT_PROVIDER_TYPES.includes(type as AlertProviderType)) {
    throw new NotificationUsageError(`--alert-type: must be one of ${ALERT_PROVIDER_TYPES.join(', ')}`);
  }
  if (address === undefined) throw new NotificationUsageError('--alert-address: needed with --alert-type');
  // The address is a credential: the message never repeats it.
  if (!isHttpUrl(address))
    throw new NotificationUsageError('--alert-address: must be an http:// or https:// URL');
  const channel = get('--alert-channel');
  const username = get('--alert-username');
  options.defaultAlertProvider = {
    severity: severity as AlertSeverity,
    target: {
      type: type as AlertProviderType,
      address,
      ...(channel ? { channel } : {}),
      ...(username ? { username } : {}),
    },
  };
  return { options, rest };
}
