import { validateAlertProvider } from '../api/alert-provider.ts';
import type { AlertProviderType } from '../api/constants.ts';
import { registerSecret } from '../lib/redact.ts';
import type { NotifierTarget } from './notifier.ts';

/** Where AlertProviders and Secrets are read from (informer cache and the API server in the controller). */
export interface ProviderSources {
  getAlertProvider(namespace: string, name: string): unknown | undefined;
  getSecret(namespace: string, name: string): Promise<{ data?: Record<string, string> } | undefined>;
}

export type AlertProviderErrorCode =
  | 'ALERT_PROVIDER_NOT_FOUND'
  | 'ALERT_PROVIDER_INVALID'
  | 'ALERT_SECRET_INVALID';

/** An AlertProvider that cannot be used; the message names the object and the fix, never the URL. */
export class AlertProviderError extends Error {
  override readonly name = 'AlertProviderError';
  constructor(
    message: string,
    readonly code: AlertProviderErrorCode,
    /** Known once the AlertProvider itself is valid (its Secret may still be the problem). */
    readonly providerType?: AlertProviderType,
  ) {
    super(message);
  }
}

export const SECRET_ADDRESS_KEY = 'address';

/** Reads an AlertProvider and, when it uses secretRef, the URL from its Secret's `address` key. */
export async function resolveAlertProvider(
  sources: ProviderSources,
  namespace: string,
  name: string,
): Promise<NotifierTarget> {
  const where = `AlertProvider ${namespace}/${name}`;
  const raw = sources.getAlertProvider(namespace, name);
  if (raw === undefined) {
    throw new AlertProviderError(
      `${where} was not found: create it or fix analysis.alerts[].providerRef`,
      'ALERT_PROVIDER_NOT_FOUND',
    );
  }
  const result = validateAlertProvider(raw);
  if (!result.ok) {
    const detail = result.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new AlertProviderError(`${where} is invalid: ${detail}`, 'ALERT_PROVIDER_INVALID');
  }
  const spec = result.value.spec;
  const address = spec.secretRef
    ? await addressFromSecret(sources, namespace, spec.secretRef.name, where).catch((err: unknown) => {
        if (err instanceof AlertProviderError) throw new AlertProviderError(err.message, err.code, spec.type);
        throw err;
      })
    : spec.address;
  registerSecret(address);
  if (address === undefined) {
    throw new AlertProviderError(
      `${where} has neither address nor secretRef`,
      'ALERT_PROVIDER_INVALID',
      spec.type,
    );
  }
  return target(spec.type, address, spec.channel, spec.username);
}

async function addressFromSecret(
  sources: ProviderSources,
  namespace: string,
  secretName: string,
  where: string,
): Promise<string> {
  const secret = await sources.getSecret(namespace, secretName);
  const fix = `create Secret ${namespace}/${secretName} with the key "${SECRET_ADDRESS_KEY}" holding the webhook URL`;
  if (!secret)
    throw new AlertProviderError(
      `${where}: Secret ${namespace}/${secretName} was not found: ${fix}`,
      'ALERT_SECRET_INVALID',
    );
  const encoded = secret.data?.[SECRET_ADDRESS_KEY];
  if (typeof encoded !== 'string' || encoded === '') {
    throw new AlertProviderError(
      `${where}: Secret ${namespace}/${secretName} has no "${SECRET_ADDRESS_KEY}" key: ${fix}`,
      'ALERT_SECRET_INVALID',
    );
  }
  const address = Buffer.from(encoded, 'base64').toString('utf8').trim();
  if (!isHttpUrl(address)) {
    // The value is a credential even when malformed: never echo it.
    throw new AlertProviderError(
      `${where}: the "${SECRET_ADDRESS_KEY}" key of Secret ${namespace}/${secretName} is not an http(s) URL`,
      'ALERT_SECRET_INVALID',
    );
  }
  return address;
}

function target(
  type: AlertProviderType,
  address: string,
  channel?: string,
  username?: string,
): NotifierTarget {
  return { type, address, ...(channel ? { channel } : {}), ...(username ? { username } : {}) };
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
