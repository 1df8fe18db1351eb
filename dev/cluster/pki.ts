import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** openssl is needed to sign the serving certificate; the message says how to install it. */
export class OpensslMissingError extends Error {
  override readonly name = 'OpensslMissingError';
  readonly code = 'CLUSTER_OPENSSL_MISSING';
  constructor(cause: unknown) {
    super('openssl failed or is not installed (Debian: apt-get install -y openssl)', { cause });
  }
}

/** One client of the API server, authenticated by a static bearer token. */
export interface TokenUser {
  readonly name: string;
  readonly token: string;
  readonly groups: readonly string[];
}

export interface Pki {
  readonly caCertFile: string;
  readonly caPem: string;
  readonly servingCertFile: string;
  readonly servingKeyFile: string;
  /** Service-account token signing key pair (the API server verifies, the controller manager signs). */
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  readonly tokenAuthFile: string;
  readonly users: Record<'admin' | 'controllerManager' | 'scheduler' | 'kwok', TokenUser>;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args);
  } catch (error) {
    throw new OpensslMissingError(error);
  }
}

function tokenUser(name: string, groups: string[]): TokenUser {
  return { name, groups, token: randomBytes(24).toString('hex') };
}

/**
 * A throwaway certificate authority, a serving certificate for 127.0.0.1 signed by it, the
 * service-account key pair, and static tokens for the admin and each component (the controller
 * manager and scheduler as the users the default RBAC policy already binds).
 */
export async function createPki(dir: string): Promise<Pki> {
  const file = (name: string) => join(dir, name);
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=petrel-local-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    file('apiserver.key'),
    '-out',
    file('apiserver.csr'),
    '-subj',
    '/CN=kube-apiserver',
  ]);
  await writeFile(
    file('apiserver.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
      '',
    ].join('\n'),
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    file('apiserver.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('apiserver.ext'),
    '-out',
    file('apiserver.crt'),
  ]);

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(file('sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(file('sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

  const users = {
    admin: tokenUser('petrel-local-admin', ['system:masters']),
    controllerManager: tokenUser('system:kube-controller-manager', []),
    scheduler: tokenUser('system:kube-scheduler', []),
    kwok: tokenUser('kwok-controller', ['system:masters']),
  };
  const lines = Object.values(users).map(
    (u) => `${u.token},${u.name},${u.name}${u.groups.length ? `,"${u.groups.join(',')}"` : ''}`,
  );
  await writeFile(file('tokens.csv'), `${lines.join('\n')}\n`, { mode: 0o600 });

  return {
    caCertFile: file('ca.crt'),
    caPem: await readFile(file('ca.crt'), 'utf8'),
    servingCertFile: file('apiserver.crt'),
    servingKeyFile: file('apiserver.key'),
    serviceAccountKeyFile: file('sa.key'),
    serviceAccountPublicKeyFile: file('sa.pub'),
    tokenAuthFile: file('tokens.csv'),
    users,
  };
}
