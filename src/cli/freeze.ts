import { parseArgs } from 'node:util';
import { PETREL_API_VERSION } from '../api/constants.ts';
import { isDuration, parseDuration } from '../api/duration.ts';
import { type ReleaseFreezeInput, validateReleaseFreeze } from '../api/release-freeze.ts';
import { createKubeApi, type HttpKubeApi } from '../kube/client.ts';
import { isKubeApiError } from '../kube/errors.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeObject } from '../kube/types.ts';
import type { CliIo, Command } from './run.ts';

const FREEZE_USAGE = `usage: petrel freeze NAME [-n NAMESPACE] [--selector KEY=VALUE,...] [--from TIME] [--until TIME]
                    [--reason TEXT] [--kubeconfig PATH] [--context NAME]

Creates a ReleaseFreeze: no new rollout starts for the Canaries it selects (rollouts in flight go on).

options:
  -n, --namespace NS   namespace of the freeze and the Canaries it holds (default: the kubeconfig
                       context's, else default)
  --selector K=V,...   hold only the Canaries with these labels (default: every Canary in the namespace)
  --from TIME          when the freeze begins: RFC 3339 (2026-12-20T00:00:00+01:00) (default: now)
  --until TIME         when it ends: RFC 3339, or a duration from now such as 2h (default: until
                       petrel unfreeze)
  --reason TEXT        shown on every Canary it holds
  --kubeconfig PATH    kubeconfig file [KUBECONFIG]
  --context NAME       kubeconfig context
`;

const UNFREEZE_USAGE = `usage: petrel unfreeze NAME [-n NAMESPACE] [--kubeconfig PATH] [--context NAME]

Deletes the ReleaseFreeze NAME: the Canaries it held start their waiting rollouts at once (or at the
next opening of their release windows).
`;

interface Connection {
  api: HttpKubeApi;
  namespace: string;
}

function connect(values: Record<string, unknown>, io: CliIo, userAgent: string): Connection {
  const kubeConfig = loadKubeConfig({
    kubeconfig: (values.kubeconfig as string | undefined) ?? io.env.KUBECONFIG,
    ...(values.context ? { context: values.context as string } : {}),
  });
  const namespace =
    (values.namespace as string | undefined) ??
    kubeConfig.getContextObject(kubeConfig.currentContext)?.namespace ??
    'default';
  return { api: createKubeApi({ kubeConfig, userAgent }), namespace };
}

/** What `petrel freeze`/`unfreeze` were given: the freeze name and the options, or the exit code. */
type NamedArgs = { name: string; values: Record<string, string | boolean | undefined> } | { exit: number };

const CONNECTION_OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses `COMMAND NAME [options]`, answering --help and usage errors itself. */
function parseNamed(
  command: string,
  usage: string,
  args: string[],
  io: CliIo,
  extra: Record<string, { type: 'string' }> = {},
): NamedArgs {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...CONNECTION_OPTIONS, ...extra },
    }));
  } catch (err) {
    io.stderr.write(`petrel ${command}: ${(err as Error).message}\n${usage}`);
    return { exit: 2 };
  }
  if (values.help) {
    io.stdout.write(usage);
    return { exit: 0 };
  }
  if (positionals.length !== 1) {
    io.stderr.write(`petrel ${command}: give exactly one freeze name\n${usage}`);
    return { exit: 2 };
  }
  return { name: positionals[0]!, values };
}

/** `team=payments,tier=web` as matchLabels. */
export function parseSelector(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').filter((p) => p.trim() !== '')) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--selector: "${pair}" is not KEY=VALUE`);
    labels[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return labels;
}

/** An RFC 3339 time as given, or a duration (`2h`, `3d` is not one) counted from `now`. */
export function parseUntil(text: string, now: Date): string {
  return isDuration(text) ? new Date(now.getTime() + parseDuration(text)).toISOString() : text;
}

/** The ReleaseFreeze `petrel freeze` creates; exported for tests. */
export function freezeObject(
  name: string,
  namespace: string,
  opts: { selector?: string; from?: string; until?: string; reason?: string },
  now: Date,
): ReleaseFreezeInput {
  const spec: ReleaseFreezeInput['spec'] = {};
  if (opts.selector) spec.selector = { matchLabels: parseSelector(opts.selector) };
  if (opts.from) spec.start = opts.from;
  if (opts.until) spec.end = parseUntil(opts.until, now);
  if (opts.reason) spec.reason = opts.reason;
  return { apiVersion: PETREL_API_VERSION, kind: 'ReleaseFreeze', metadata: { name, namespace }, spec };
}

export const freezeCommand: Command = async (args, io) => {
  const parsed = parseNamed('freeze', FREEZE_USAGE, args, io, {
    selector: { type: 'string' },
    from: { type: 'string' },
    until: { type: 'string' },
    reason: { type: 'string' },
  });
  if ('exit' in parsed) return parsed.exit;
  const { name, values } = parsed;
  let connection: Connection;
  let object: ReleaseFreezeInput;
  try {
    connection = connect(values, io, 'petrel-freeze');
    object = freezeObject(name, connection.namespace, values as Record<string, string>, new Date());
  } catch (err) {
    io.stderr.write(`petrel freeze: ${(err as Error).message}\n`);
    return 2;
  }
  const { api, namespace } = connection;
  try {
    const validation = validateReleaseFreeze(object);
    if (!validation.ok) {
      for (const issue of validation.issues)
        io.stderr.write(`petrel freeze: ${issue.path}: ${issue.message}\n`);
      return 2;
    }
    await api.create(RESOURCES.releaseFreeze, object as unknown as KubeObject);
    const until = object.spec.end ? `until ${object.spec.end}` : 'until petrel unfreeze';
    io.stdout.write(`releasefreeze ${namespace}/${name} created: new rollouts held ${until}\n`);
    return 0;
  } catch (err) {
    if (isKubeApiError(err, 'ALREADY_EXISTS')) {
      io.stderr.write(
        `petrel freeze: ReleaseFreeze ${namespace}/${name} already exists: petrel unfreeze it first, or pick another name\n`,
      );
    } else {
      io.stderr.write(`petrel freeze: ${(err as Error).message}\n`);
    }
    return 1;
  } finally {
    api.close();
  }
};

export const unfreezeCommand: Command = async (args, io) => {
  const parsed = parseNamed('unfreeze', UNFREEZE_USAGE, args, io);
  if ('exit' in parsed) return parsed.exit;
  const { name, values } = parsed;
  let connection: Connection;
  try {
    connection = connect(values, io, 'petrel-unfreeze');
  } catch (err) {
    io.stderr.write(`petrel unfreeze: ${(err as Error).message}\n`);
    return 2;
  }
  const { api, namespace } = connection;
  try {
    await api.delete({ resource: RESOURCES.releaseFreeze, namespace, name });
    io.stdout.write(`releasefreeze ${namespace}/${name} deleted\n`);
    return 0;
  } catch (err) {
    if (isKubeApiError(err, 'NOT_FOUND')) {
      io.stderr.write(
        `petrel unfreeze: ReleaseFreeze ${namespace}/${name} was not found: check the name and -n NAMESPACE\n`,
      );
    } else {
      io.stderr.write(`petrel unfreeze: ${(err as Error).message}\n`);
    }
    return 1;
  } finally {
    api.close();
  }
};
