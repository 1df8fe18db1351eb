import type { Logger } from 'pino';
import type { MetricTemplateProvider } from '../api/index.ts';
import { type PrometheusCredentials, PrometheusProvider } from './prometheus.ts';
import type { MetricsProvider, MetricsQueryHook } from './provider.ts';

export class InvalidProviderError extends Error {
  override readonly name = 'InvalidProviderError';
  readonly code = 'INVALID_PROVIDER';
}

export interface CreateProviderOptions {
  /** Address used when the spec has none: the controller's --prometheus-address. */
  defaultAddress?: string;
  /** Decoded data of the Secret named by `spec.secretRef`, if it has one. */
  secretValues?: Readonly<Record<string, string>>;
  timeoutMs?: number;
  logger?: Logger;
  /** Told about every query run to its end (the controller counts the failed ones). */
  onQuery?: MetricsQueryHook;
}

/** A provider for a MetricTemplate's `spec.provider`; `undefined` means the default Prometheus. */
export function createMetricsProvider(
  spec: MetricTemplateProvider | undefined,
  opts: CreateProviderOptions = {},
): MetricsProvider {
  const type: string = spec?.type ?? 'prometheus';
  const kind = type as MetricTemplateProvider['type'];
  switch (kind) {
    case 'prometheus': {
      const address = spec?.address ?? opts.defaultAddress;
      if (!address) {
        throw new InvalidProviderError(
          'no Prometheus address: set spec.provider.address on the MetricTemplate or start the controller with a Prometheus address',
        );
      }
      assertHttpUrl(address);
      return new PrometheusProvider({
        address,
        credentials: spec?.secretRef
          ? credentialsFromSecret(spec.secretRef.name, opts.secretValues)
          : undefined,
        insecureSkipVerify: spec?.insecureSkipVerify,
        timeoutMs: opts.timeoutMs,
        logger: opts.logger,
        onQuery: opts.onQuery,
      });
    }
    default: {
      const unknown: never = kind;
      throw new InvalidProviderError(
        `unknown metrics provider type "${String(unknown)}": supported types are prometheus`,
      );
    }
  }
}

/**
 * Reads `username` + `password` (basic auth) or `token` (bearer) from a Secret's data, as
 * Flagger does. Error messages name the keys, never the values.
 */
export function credentialsFromSecret(
  secretName: string,
  values: Readonly<Record<string, string>> | undefined,
): PrometheusCredentials {
  if (!values) {
    throw new InvalidProviderError(`secret "${secretName}" was not found or could not be read`);
  }
  const { username, password, token } = values;
  if (username && password) return { kind: 'basic', username, password };
  if (token) return { kind: 'bearer', token };
  const keys = Object.keys(values);
  throw new InvalidProviderError(
    `secret "${secretName}" needs keys "username" and "password" (basic auth) or "token" (bearer); ` +
      `it has ${keys.length ? keys.map((k) => `"${k}"`).join(', ') : 'no keys'}`,
  );
}

function assertHttpUrl(address: string): void {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new InvalidProviderError(
      `Prometheus address "${address}" is not a URL: write it as http://host:9090`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidProviderError(`Prometheus address "${address}" must start with http:// or https://`);
  }
  if (url.username || url.password) {
    throw new InvalidProviderError(
      'the Prometheus address must not carry credentials: put them in a Secret referenced by secretRef',
    );
  }
}
