import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export type TlsOptions = https.RequestOptions & { pfx?: unknown; passphrase?: string };

/**
 * One keep-alive agent per client, so requests reuse connections (and TLS sessions) instead of opening
 * one each; rebuilt when the credentials it was made with change (rotated client certificates).
 * Behind a proxy, client-node's own per-request agent is used.
 */
export class AgentPool {
  private pooled?: { fingerprint: string; agent: http.Agent };

  constructor(private readonly kc: KubeConfig) {}

  agentFor(url: URL, opts: TlsOptions): http.Agent | undefined {
    if (this.kc.getCurrentCluster()?.proxyUrl)
      return opts.agent instanceof http.Agent ? opts.agent : undefined;
    const tls = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      pfx: opts.pfx,
      passphrase: opts.passphrase,
      rejectUnauthorized: opts.rejectUnauthorized,
      servername: this.kc.getCurrentCluster()?.tlsServerName ?? opts.servername,
    };
    const fingerprint = createHash('sha256')
      .update(url.protocol)
      .update(JSON.stringify(tls, (_k, v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)))
      .digest('hex');
    if (this.pooled?.fingerprint !== fingerprint) {
      this.pooled?.agent.destroy();
      const common = { keepAlive: true, maxSockets: 32, timeout: 60_000 };
      const agent =
        url.protocol === 'http:'
          ? new http.Agent(common)
          : new https.Agent({ ...common, ...(tls as https.AgentOptions) });
      this.pooled = { fingerprint, agent };
    }
    return this.pooled.agent;
  }

  /** Closes the pooled keep-alive connections (idle ones never keep the process alive). */
  close(): void {
    this.pooled?.agent.destroy();
    this.pooled = undefined;
  }
}
