import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A self-signed certificate for 127.0.0.1 (or `altNames`, e.g. DNS:hooks.example.test), written into `dir`
 * (openssl ships with Debian; CI installs it).
 */
export async function selfSignedCertificate(
  dir: string,
  altNames = 'IP:127.0.0.1',
): Promise<{ cert: Buffer; key: Buffer }> {
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      `subjectAltName=${altNames}`,
    ],
    { stdio: 'ignore' },
  );
  return { cert: await readFile(certPath), key: await readFile(keyPath) };
}
