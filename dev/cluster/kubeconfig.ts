import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/** Writes a kubeconfig for one token user of the local control plane (context `petrel-local`). */
export async function writeKubeconfig(
  path: string,
  opts: { server: string; caPem: string; user: string; token: string },
): Promise<string> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'petrel-local',
        cluster: {
          server: opts.server,
          'certificate-authority-data': Buffer.from(opts.caPem).toString('base64'),
        },
      },
    ],
    users: [{ name: opts.user, user: { token: opts.token } }],
    contexts: [{ name: 'petrel-local', context: { cluster: 'petrel-local', user: opts.user } }],
    'current-context': 'petrel-local',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}
