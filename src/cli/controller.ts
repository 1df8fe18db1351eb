import pino from 'pino';
import { z } from 'zod';
import { MESH_PROVIDERS } from '../controller/mesh.ts';
import { ArgsError, type FlagValues, parseFlags, wantsHelp } from '../lib/args.ts';
import { redactingStream } from '../lib/redact.ts';
import {
  NOTIFICATION_FLAGS_USAGE,
  type NotificationOptions,
  NotificationUsageError,
  parseNotificationArgs,
} from '../notifiers/flags.ts';
import { usageError } from './command-line.ts';
import {
  OPERATIONS_USAGE,
  type OperationsOptions,
  OperationsUsageError,
  parseOperationsArgs,
} from './operations.ts';
import type { CliIo, Command } from './run.ts';

const USAGE = `usage: petrel controller [options]

options (environment variable in brackets):
  --kubeconfig PATH            kubeconfig file [KUBECONFIG]; default ~/.kube/config
  --in-cluster                 use the pod's service account instead of a kubeconfig
  --prometheus-address URL     default Prometheus for builtin checks [PETREL_PROMETHEUS_ADDRESS]
  --mesh-provider NAME         ${MESH_PROVIDERS.join(', ')} (default istio) [PETREL_MESH_PROVIDER]
  --namespace NS               namespace to watch; repeat or comma-separate; default all [PETREL_NAMESPACES]
  --workers N                  canaries reconciled at once, 1-64 (default 16) [PETREL_WORKERS]
  --log-level LEVEL            trace, debug, info, warn, error, fatal (default info) [PETREL_LOG_LEVEL]
  --no-cross-namespace-refs    refuse templateRef/providerRef to another namespace [PETREL_NO_CROSS_NAMESPACE_REFS=true]
  --track-secrets              Secrets a target uses start a rollout and are copied to <name>-primary;
                               needs list/watch/create/patch on Secrets [PETREL_TRACK_SECRETS=true]
  --gateway-api                route canaries with provider gatewayapi:v1 (HTTPRoutes); needs
                               list/watch/create/patch on httproutes [PETREL_GATEWAY_API=true]
${OPERATIONS_USAGE}${NOTIFICATION_FLAGS_USAGE}`;

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const controllerOptionsSchema = z.strictObject({
  kubeconfig: z.string().min(1).optional(),
  inCluster: z.boolean().default(false),
  prometheusAddress: z
    .url({
      protocol: /^https?$/,
      error: 'must be an http:// or https:// URL, such as http://prometheus:9090',
    })
    .optional(),
  meshProvider: z
    .enum(MESH_PROVIDERS, { error: `must be one of ${MESH_PROVIDERS.join(', ')}` })
    .default('istio'),
  namespaces: z
    .array(z.string().regex(NAMESPACE, 'must be a namespace name (lowercase letters, digits and -)'))
    .default([]),
  workers: z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(64, 'must be at most 64')
    // Reconciles mostly wait on Prometheus and the API server: 2 at once left 100 canaries stepping every
    // 10 s with a p99 step lag of 14 s (docs/benchmarks.md); 16 brought it under 2 s.
    .default(16),
  logLevel: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], {
      error: 'must be one of trace, debug, info, warn, error, fatal',
    })
    .default('info'),
  noCrossNamespaceRefs: z
    .union([z.boolean(), z.enum(['true', 'false'])], { error: 'must be true or false' })
    .transform((v) => v === true || v === 'true')
    .optional(),
  trackSecrets: z
    .union([z.boolean(), z.enum(['true', 'false'])], { error: 'must be true or false' })
    .transform((v) => v === true || v === 'true')
    .optional(),
  gatewayApi: z
    .union([z.boolean(), z.enum(['true', 'false'])], { error: 'must be true or false' })
    .transform((v) => v === true || v === 'true')
    .optional(),
});

export type ControllerCliOptions = z.output<typeof controllerOptionsSchema>;

const FLAG_NAMES: Record<string, string> = {
  kubeconfig: '--kubeconfig',
  inCluster: '--in-cluster',
  prometheusAddress: '--prometheus-address',
  meshProvider: '--mesh-provider',
  namespaces: '--namespace',
  workers: '--workers',
  logLevel: '--log-level',
  noCrossNamespaceRefs: '--no-cross-namespace-refs',
  trackSecrets: '--track-secrets',
  gatewayApi: '--gateway-api',
};

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

const FLAGS = {
  kubeconfig: { type: 'string' },
  'in-cluster': { type: 'boolean' },
  'prometheus-address': { type: 'string' },
  'mesh-provider': { type: 'string' },
  namespace: { type: 'string', multiple: true },
  workers: { type: 'string' },
  'log-level': { type: 'string' },
  'no-cross-namespace-refs': { type: 'boolean' },
  'track-secrets': { type: 'boolean' },
  'gateway-api': { type: 'boolean' },
} as const;

/** Flags win over environment variables; every value is validated, and errors name the flag and the fix. */
export function parseControllerArgs(args: string[], env: NodeJS.ProcessEnv): ControllerCliOptions {
  let values: FlagValues<typeof FLAGS>;
  try {
    ({ values } = parseFlags(args, FLAGS));
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    throw new UsageError(err.message);
  }
  const namespaceValues = values.namespace ?? (env.PETREL_NAMESPACES ? [env.PETREL_NAMESPACES] : []);
  const raw = {
    kubeconfig: values.kubeconfig ?? (values['in-cluster'] ? undefined : env.KUBECONFIG || undefined),
    inCluster: values['in-cluster'] ?? false,
    prometheusAddress: values['prometheus-address'] ?? (env.PETREL_PROMETHEUS_ADDRESS || undefined),
    meshProvider: values['mesh-provider'] ?? (env.PETREL_MESH_PROVIDER || undefined),
    namespaces: namespaceValues
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v.length > 0),
    workers: values.workers ?? (env.PETREL_WORKERS || undefined),
    logLevel: values['log-level'] ?? (env.PETREL_LOG_LEVEL || undefined),
    noCrossNamespaceRefs:
      values['no-cross-namespace-refs'] ?? (env.PETREL_NO_CROSS_NAMESPACE_REFS || undefined),
    trackSecrets: values['track-secrets'] ?? (env.PETREL_TRACK_SECRETS || undefined),
    gatewayApi: values['gateway-api'] ?? (env.PETREL_GATEWAY_API || undefined),
  };
  const result = controllerOptionsSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '');
      return `${FLAG_NAMES[field] ?? field}: ${issue.message}`;
    });
    throw new UsageError(lines.join('\n'));
  }
  if (result.data.inCluster && values.kubeconfig) {
    throw new UsageError('--kubeconfig and --in-cluster: choose one of them');
  }
  return result.data;
}

export const controllerCommand: Command = async (args: string[], io: CliIo): Promise<number> => {
  if (wantsHelp(args)) {
    io.stdout.write(USAGE);
    return 0;
  }
  let options: ControllerCliOptions;
  let operations: OperationsOptions;
  let notifications: NotificationOptions;
  try {
    const split = parseOperationsArgs(args, io.env);
    operations = split.options;
    const notify = parseNotificationArgs(split.rest, io.env);
    notifications = notify.options;
    options = parseControllerArgs(notify.rest, io.env);
  } catch (err) {
    const usage =
      err instanceof UsageError ||
      err instanceof OperationsUsageError ||
      err instanceof NotificationUsageError;
    if (!usage) throw err;
    return usageError(io, { command: 'petrel controller', usage: USAGE }, err.message);
  }
  const logger = pino(
    { level: options.logLevel, base: { component: 'controller' } },
    redactingStream(io.stdout),
  );
  // Loaded here so `--help` and flag errors answer without loading the Kubernetes client.
  const { loadKubeConfig } = await import('../kube/kubeconfig.ts');
  const { startController } = await import('../controller/controller.ts');
  let kubeConfig: ReturnType<typeof loadKubeConfig>;
  try {
    kubeConfig = loadKubeConfig({ kubeconfig: options.kubeconfig, inCluster: options.inCluster });
  } catch (err) {
    io.stderr.write(`petrel controller: ${(err as Error).message}\n`);
    return 2;
  }
  const { startOperated } = await import('../controller/operated.ts');
  const operated = await startOperated(operations, logger, (extra) =>
    startController({
      kubeConfig,
      logger,
      prometheusAddress: options.prometheusAddress,
      meshProvider: options.meshProvider,
      namespaces: options.namespaces,
      workers: options.workers,
      noCrossNamespaceRefs: options.noCrossNamespaceRefs,
      trackSecrets: options.trackSecrets,
      gatewayApi: options.gatewayApi,
      ...notifications,
      ...extra,
    }),
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  logger.info({ signal }, 'shutting down');
  await operated.stop();
  return 0;
};
