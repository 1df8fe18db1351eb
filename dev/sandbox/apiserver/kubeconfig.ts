import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

/** A kubeconfig for the sandbox: one cluster, one user (bearer token when auth is on), one context. */
export function kubeconfigYaml(url: string, token?: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    // client-node 1.x refuses plain http unless TLS verification is marked as skipped.
    clusters: [{ name: 'petrel-sandbox', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'petrel-sandbox', user: token ? { token } : {} }],
    contexts: [
      {
        name: 'petrel-sandbox',
        context: { cluster: 'petrel-sandbox', user: 'petrel-sandbox', namespace: 'default' },
      },
    ],
    'current-context': 'petrel-sandbox',
    preferences: {},
  });
}

export function kubeConfigFor(url: string, token?: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromString(kubeconfigYaml(url, token));
  return config;
}
