import { hostname } from 'node:os';
import { z } from 'zod';
import { parseDuration } from '../api/duration.ts';
import { LeaderElectionConfigError, validateTimings } from '../controller/leader.ts';
import { type FlagDefs, takeFlags } from '../lib/args.ts';

/** The `petrel controller` flags for running in a cluster: the metrics/probe server and leader election. */
export const OPERATIONS_USAGE = `  --metrics-port N             port of /metrics, /healthz, /readyz; 0 picks one (default 8080) [PETREL_METRICS_PORT]
  --metrics-host HOST          address to listen on (default 0.0.0.0) [PETREL_METRICS_HOST]
  --leader-elect               elect one acting replica over a Lease (default off) [PETREL_LEADER_ELECT=true]
  --lease-name NAME            Lease name (default petrel-leader) [PETREL_LEASE_NAME]
  --lease-namespace NS         Lease namespace [PETREL_LEASE_NAMESPACE, else POD_NAMESPACE]
  --leader-identity ID         this replica's name in the Lease [PETREL_LEADER_IDENTITY, else POD_NAME, else host name]
  --lease-duration D           a standby takes over this long after the last renewal (default 15s) [PETREL_LEASE_DURATION]
  --renew-deadline D           the leader steps down when it could not renew for this long (default 10s) [PETREL_RENEW_DEADLINE]
  --retry-period D             renewal and retry interval (default 2s) [PETREL_RETRY_PERIOD]
`;

const VALUE_FLAGS: Record<string, keyof RawOperations> = {
  '--metrics-port': 'metricsPort',
  '--metrics-host': 'metricsHost',
  '--lease-name': 'leaseName',
  '--lease-namespace': 'leaseNamespace',
  '--leader-identity': 'identity',
  '--lease-duration': 'leaseDuration',
  '--renew-deadline': 'renewDeadline',
  '--retry-period': 'retryPeriod',
};
const FLAGS: FlagDefs = {
  'leader-elect': { type: 'boolean' },
  ...Object.fromEntries(Object.keys(VALUE_FLAGS).map((flag) => [flag.slice(2), { type: 'string' }])),
};
const FLAG_OF = Object.fromEntries(Object.entries(VALUE_FLAGS).map(([flag, key]) => [key, flag]));

interface RawOperations {
  metricsPort?: string;
  metricsHost?: string;
  leaderElect?: string | boolean;
  leaseName?: string;
  leaseNamespace?: string;
  identity?: string;
  leaseDuration?: string;
  renewDeadline?: string;
  retryPeriod?: string;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 500ms, 15s or 1m' });
    return z.NEVER;
  }
});

const schema = z
  .strictObject({
    metricsPort: z.coerce
      .number({ error: 'must be a port number' })
      .int('must be a whole number')
      .min(0, 'must be 0-65535')
      .max(65535, 'must be 0-65535')
      .default(8080),
    metricsHost: z.string().min(1).default('0.0.0.0'),
    leaderElect: z
      .union([z.boolean(), z.enum(['true', 'false'], { error: 'must be true or false' })])
      .transform((v) => v === true || v === 'true')
      .default(false),
    leaseName: z.string().regex(NAME, 'must be a lowercase DNS name').max(253).default('petrel-leader'),
    leaseNamespace: z.string().regex(NAME, 'must be a namespace name').max(63).optional(),
    identity: z.string().min(1).max(253),
    leaseDuration: duration.default(15_000),
    renewDeadline: duration.default(10_000),
    retryPeriod: duration.default(2_000),
  })
  .check((ctx) => {
    if (ctx.value.leaderElect && !ctx.value.leaseNamespace) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.leaseNamespace,
        path: ['leaseNamespace'],
        message: 'is required with --leader-elect: set it, or POD_NAMESPACE from the downward API',
      });
    }
    try {
      validateTimings(ctx.value.leaseDuration, ctx.value.renewDeadline, ctx.value.retryPeriod);
    } catch (err) {
      if (!(err instanceof LeaderElectionConfigError)) throw err;
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.leaseDuration,
        path: ['leaseDuration'],
        message: err.message,
      });
    }
  });

export type OperationsOptions = z.output<typeof schema>;

export class OperationsUsageError extends Error {
  override readonly name = 'OperationsUsageError';
  readonly code = 'USAGE';
}

/**
 * Takes the metrics and leader-election flags out of `args` (the rest goes to the controller's own
 * parser) and reads them, flags winning over the environment. Errors name the flag and the fix.
 */
export function parseOperationsArgs(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { options: OperationsOptions; rest: string[] } {
  const taken = takeFlags(args, FLAGS, (message) => new OperationsUsageError(message));
  const raw = { leaderElect: taken.values['leader-elect'] } as RawOperations;
  for (const [flag, key] of Object.entries(VALUE_FLAGS)) raw[key] = taken.values[flag.slice(2)] as string;
  const rest = taken.rest;
  const fromEnv = (name: string) => env[name] || undefined;
  const result = schema.safeParse({
    metricsPort: raw.metricsPort ?? fromEnv('PETREL_METRICS_PORT'),
    metricsHost: raw.metricsHost ?? fromEnv('PETREL_METRICS_HOST'),
    leaderElect: raw.leaderElect ?? fromEnv('PETREL_LEADER_ELECT'),
    leaseName: raw.leaseName ?? fromEnv('PETREL_LEASE_NAME'),
    leaseNamespace: raw.leaseNamespace ?? fromEnv('PETREL_LEASE_NAMESPACE') ?? fromEnv('POD_NAMESPACE'),
    identity: raw.identity ?? fromEnv('PETREL_LEADER_IDENTITY') ?? fromEnv('POD_NAME') ?? hostname(),
    leaseDuration: raw.leaseDuration ?? fromEnv('PETREL_LEASE_DURATION'),
    renewDeadline: raw.renewDeadline ?? fromEnv('PETREL_RENEW_DEADLINE'),
    retryPeriod: raw.retryPeriod ?? fromEnv('PETREL_RETRY_PERIOD'),
  });
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '');
      const flag = field === 'leaderElect' ? '--leader-elect' : (FLAG_OF[field] ?? field);
      return `${flag}: ${issue.message}`;
    });
    throw new OperationsUsageError(lines.join('\n'));
  }
  return { options: result.data, rest };
}
