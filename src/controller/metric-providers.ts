import { createHash } from 'node:crypto';
import type { MetricTemplateProvider } from '../api/index.ts';
import { canonicalJson } from '../kube/canonical.ts';
import type { Secret } from '../kube/configs.ts';
import { isKubeApiError } from '../kube/errors.ts';
import type { CacheReader } from '../kube/informer.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi } from '../kube/types.ts';
import { registerSecret } from '../lib/redact.ts';
import type { MetricsProvider } from '../metrics/provider.ts';

/** A MetricTemplate's `provider.secretRef` could not be turned into credentials: a failed check. */
export class MetricSecretError extends Error {
  override readonly name = 'MetricSecretError';
  readonly code = 'METRIC_SECRET_INVALID';
}

export interface MetricProvidersOptions {
  api: KubeApi;
  /** The Secret informer, when the controller runs one (config tracking of Secrets); else Secrets are read with a GET. */
  secrets?: CacheReader<Secret>;
  /** Builds a provider from a spec and the decoded values of its Secret (createMetricsProvider with the controller's defaults). */
  create: (
    spec: MetricTemplateProvider | undefined,
    secretValues?: Readonly<Record<string, string>>,
  ) => MetricsProvider;
}

const FIX = 'the key "token" (bearer) or the keys "username" and "password" (basic auth)';

/**
 * The metrics provider of each MetricTemplate. A template with `provider.secretRef` gets its credentials
 * from that Secret in the template's namespace, read when a query runs, so a rotated Secret is used from
 * the next check on. Secret values go to the provider only: errors name the Secret and its keys, never a
 * value.
 */
export class MetricProviders {
  private readonly plain = new Map<string, MetricsProvider>();
  /** By template provider spec and namespace: the provider built for one version of its Secret. */
  private readonly withSecret = new Map<string, { fingerprint: string; provider: MetricsProvider }>();

  constructor(private readonly opts: MetricProvidersOptions) {}

  /** The provider for a template's `spec.provider` (undefined: the default Prometheus) in `namespace`. */
  readonly providerFor = (spec: MetricTemplateProvider | undefined, namespace?: string): MetricsProvider => {
    const secretRef = spec?.secretRef;
    if (!spec || !secretRef || namespace === undefined) {
      const key = canonicalJson(spec ?? null);
      let provider = this.plain.get(key);
      if (!provider) {
        provider = this.opts.create(spec);
        this.plain.set(key, provider);
      }
      return provider;
    }
    const resolve = () => this.resolve(spec, namespace, secretRef.name);
    return {
      runQuery: async (query, opts) => (await resolve()).runQuery(query, opts),
      isOnline: async () => {
        try {
          return await (await resolve()).isOnline();
        } catch {
          return false;
        }
      },
    };
  };

  private async resolve(
    spec: MetricTemplateProvider,
    namespace: string,
    secretName: string,
  ): Promise<MetricsProvider> {
    const values = await this.secretValues(namespace, secretName);
    const key = canonicalJson({ namespace, spec });
    const fingerprint = createHash('sha256').update(canonicalJson(values)).digest('hex');
    const known = this.withSecret.get(key);
    if (known?.fingerprint === fingerprint) return known.provider;
    const provider = this.opts.create(spec, values);
    this.withSecret.set(key, { fingerprint, provider });
    return provider;
  }

  private async secretValues(namespace: string, name: string): Promise<Record<string, string>> {
    const where = `Secret ${namespace}/${name} (provider.secretRef)`;
    const secret = this.opts.secrets
      ? this.opts.secrets.get(namespace, name)
      : await this.opts.api.get<Secret>({ resource: RESOURCES.secret, namespace, name }).catch((err) => {
          if (isKubeApiError(err, 'NOT_FOUND')) return undefined;
          throw new MetricSecretError(
            `${where} could not be read: ${isKubeApiError(err, 'FORBIDDEN') ? 'forbidden: grant the controller get on Secrets' : (err as Error).message}`,
          );
        });
    if (!secret) throw new MetricSecretError(`${where} was not found: create it with ${FIX}`);
    const values: Record<string, string> = {};
    for (const [key, encoded] of Object.entries(secret.data ?? {})) {
      // `kubectl create secret --from-file` keeps the file's final newline, which no header may carry.
      values[key] = Buffer.from(encoded, 'base64')
        .toString('utf8')
        .replace(/\r?\n$/, '');
    }
    const { token, username, password } = values;
    for (const value of [token, password, username && password ? basic(username, password) : undefined])
      registerSecret(value);
    if (!token && !(username && password)) {
      const keys = Object.keys(values);
      const has = keys.length ? `it has ${keys.map((k) => `"${k}"`).join(', ')}` : 'it has no keys';
      const partial = username || password ? ` ("username" and "password" go together)` : '';
      throw new MetricSecretError(`${where} has no usable credentials: it needs ${FIX}${partial}; ${has}`);
    }
    return values;
  }
}

/** The Authorization value basic auth sends, which carries the password in base64. */
function basic(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`).toString('base64');
}
