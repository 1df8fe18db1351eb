import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

/** A proxy variable that cannot be used. The message names the variable, never its value (it may hold a password). */
export class ProxyConfigError extends Error {
  override readonly name = 'ProxyConfigError';
  readonly code = 'PROXY_CONFIG';
}

/** The proxy did not open a tunnel to an https target: it refused (status) or did not answer. */
export class ProxyTunnelError extends Error {
  override readonly name = 'ProxyTunnelError';
  readonly code = 'PROXY_TUNNEL';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ProxySettings {
  /** For http:// targets: requests in absolute form to this proxy. */
  httpProxy?: URL;
  /** For https:// targets: a CONNECT tunnel through this proxy, TLS end to end with the target. */
  httpsProxy?: URL;
  /** NO_PROXY: comma-separated hosts, domains (.example.com, *.example.com), IPs and CIDRs, optional :port; `*` for all. */
  noProxy?: string;
}

export interface OutboundProxyOptions {
  /** TLS settings for the targets and an https:// proxy (a private CA, say); NODE_EXTRA_CA_CERTS works too. */
  tls?: tls.SecureContextOptions;
  /** How long the proxy may take to open a tunnel (default 10 s). */
  connectTimeoutMs?: number;
}

/** How one request goes out: which request function, and the options that aim it at the target or the proxy. */
export interface OutboundRoute {
  request: typeof http.request;
  options: http.RequestOptions;
}

/**
 * The outbound proxy of webhook and alert posts, from HTTPS_PROXY, HTTP_PROXY and NO_PROXY (lowercase names win,
 * as in curl). Follows Go's net/http rules, which kubectl, Flagger and Argo CD use: localhost and loopback
 * addresses never go through the proxy; a NO_PROXY domain matches itself and its subdomains.
 * Returns undefined when no proxy is set. Throws ProxyConfigError for a value that is not an http(s) URL.
 */
export function proxyFromEnv(
  env: NodeJS.ProcessEnv,
  opts: OutboundProxyOptions = {},
): OutboundProxy | undefined {
  const read = (name: string) => env[name.toLowerCase()] || env[name] || undefined;
  const httpProxy = parseProxyUrl('HTTP_PROXY', read('HTTP_PROXY'));
  const httpsProxy = parseProxyUrl('HTTPS_PROXY', read('HTTPS_PROXY'));
  if (!httpProxy && !httpsProxy) return undefined;
  return new OutboundProxy({ httpProxy, httpsProxy, noProxy: read('NO_PROXY') ?? '' }, opts);
}

function parseProxyUrl(name: string, value: string | undefined): URL | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new ProxyConfigError(`${name} is not a URL: set it to http://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProxyConfigError(
      `${name}: only http:// and https:// proxies are supported, not ${url.protocol}//`,
    );
  }
  return url;
}

/** Chooses, per target, a direct connection or the proxy, and keeps one keep-alive agent per proxy. */
export class OutboundProxy {
  private readonly bypass: NoProxy;
  private readonly tunnels = new Map<string, TunnelAgent>();
  private readonly forwarders = new Map<string, http.Agent>();

  constructor(
    private readonly settings: ProxySettings,
    private readonly opts: OutboundProxyOptions = {},
  ) {
    this.bypass = new NoProxy(settings.noProxy ?? '');
  }

  /** The proxy a request to `target` goes through, or undefined for a direct connection. */
  proxyFor(target: URL): URL | undefined {
    const proxy = target.protocol === 'https:' ? this.settings.httpsProxy : this.settings.httpProxy;
    if (!proxy || this.bypass.matches(hostOf(target), portOf(target))) return undefined;
    return proxy;
  }

  route(target: URL): OutboundRoute {
    const proxy = this.proxyFor(target);
    if (!proxy) return directRoute(target, this.opts.tls);
    if (target.protocol === 'https:') {
      return {
        request: https.request,
        options: { ...targetOptions(target), agent: this.tunnelThrough(proxy) },
      };
    }
    const credentials = basicAuth(target);
    return {
      request: requestOf(proxy),
      options: {
        host: hostOf(proxy),
        port: portOf(proxy),
        path: `${target.protocol}//${target.host}${target.pathname}${target.search}`,
        agent: this.forwarderTo(proxy),
        headers: {
          host: target.host,
          ...proxyAuthorization(proxy),
          ...(credentials ? { authorization: credentials } : {}),
        },
      },
    };
  }

  /** Closes the idle connections kept for reuse. */
  close(): void {
    for (const agent of [...this.tunnels.values(), ...this.forwarders.values()]) agent.destroy();
    this.tunnels.clear();
    this.forwarders.clear();
  }

  private tunnelThrough(proxy: URL): TunnelAgent {
    let agent = this.tunnels.get(proxy.href);
    if (!agent) {
      agent = new TunnelAgent(proxy, this.opts.tls ?? {}, this.opts.connectTimeoutMs ?? 10_000);
      this.tunnels.set(proxy.href, agent);
    }
    return agent;
  }

  private forwarderTo(proxy: URL): http.Agent {
    let agent = this.forwarders.get(proxy.href);
    if (!agent) {
      agent =
        proxy.protocol === 'https:'
          ? new https.Agent({ keepAlive: true, ...this.opts.tls })
          : new http.Agent({ keepAlive: true });
      this.forwarders.set(proxy.href, agent);
    }
    return agent;
  }
}

/** A request straight to the target, over Node's global agents. */
export function directRoute(target: URL, tlsOptions: tls.SecureContextOptions = {}): OutboundRoute {
  if (target.protocol === 'https:')
    return { request: https.request, options: { ...targetOptions(target), ...tlsOptions } };
  return { request: http.request, options: targetOptions(target) };
}

function targetOptions(target: URL): http.RequestOptions {
  const auth = target.username
    ? `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`
    : undefined;
  return {
    host: hostOf(target),
    port: portOf(target),
    path: `${target.pathname}${target.search}`,
    ...(auth ? { auth } : {}),
  };
}

/**
 * An https agent whose connections are CONNECT tunnels through the proxy; TLS runs inside the tunnel with
 * the target's name checked as usual, so the proxy sees only the host and port.
 */
class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    tlsOptions: tls.SecureContextOptions,
    private readonly connectTimeoutMs: number,
  ) {
    super({ keepAlive: true, ...tlsOptions });
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = String(options.host ?? 'localhost');
    const port = Number(options.port ?? 443);
    openTunnel(this.proxy, host, port, this.connectTimeoutMs, this.options).then(
      (socket) => {
        const { servername, ...rest } = options as tls.ConnectionOptions;
        callback?.(null, tls.connect({ ...rest, host, port, socket, ...(servername ? { servername } : {}) }));
      },
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    // The socket is handed over through the callback once the tunnel is open.
    return undefined;
  }
}

function openTunnel(
  proxy: URL,
  host: string,
  port: number,
  timeoutMs: number,
  tlsOptions: tls.SecureContextOptions,
): Promise<Duplex> {
  const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const req = requestOf(proxy)({
      host: hostOf(proxy),
      port: portOf(proxy),
      method: 'CONNECT',
      path: authority,
      agent: false,
      timeout: timeoutMs,
      headers: { host: authority, ...proxyAuthorization(proxy) },
      ...(proxy.protocol === 'https:' ? tlsOptions : {}),
    });
    req.once('connect', (res, socket, head) => {
      socket.setTimeout(0);
      if (res.statusCode === 200) {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(new ProxyTunnelError(`proxy answered HTTP ${res.statusCode} to CONNECT`, res.statusCode));
    });
    req.once('timeout', () =>
      req.destroy(new ProxyTunnelError(`proxy did not open a tunnel within ${timeoutMs}ms`)),
    );
    req.once('error', reject);
    req.end();
  });
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** NO_PROXY as Go's httpproxy reads it. */
class NoProxy {
  private readonly all: boolean = false;
  private readonly addresses = new net.BlockList();
  private readonly addressPorts: { ip: string; port: string }[] = [];
  private readonly domains: { suffix: string; port: string; itself: boolean }[] = [];

  constructor(list: string) {
    for (const raw of list.split(',')) {
      const entry = raw.trim().toLowerCase();
      if (entry === '') continue;
      if (entry === '*') {
        this.all = true;
        continue;
      }
      if (entry.includes('/')) {
        const [ip = '', bits = ''] = entry.split('/');
        const family = net.isIP(ip);
        if (family !== 0 && /^\d+$/.test(bits))
          this.addresses.addSubnet(ip, Number(bits), familyName(family));
        continue;
      }
      if (net.isIP(entry)) {
        this.addresses.addAddress(entry, familyName(net.isIP(entry)));
        continue;
      }
      const withPort = /^\[(.+)\]:(\d+)$/.exec(entry) ?? /^([^:]+):(\d+)$/.exec(entry);
      const host = withPort?.[1] ?? entry;
      const port = withPort?.[2] ?? '';
      if (net.isIP(host)) {
        this.addressPorts.push({ ip: host, port });
        continue;
      }
      const domain = host.startsWith('*.') ? host.slice(1) : host;
      if (domain === '' || domain === '.') continue;
      const itself = !domain.startsWith('.');
      this.domains.push({ suffix: itself ? `.${domain}` : domain, port, itself });
    }
  }

  matches(host: string, port: string): boolean {
    if (this.all || host === 'localhost') return true;
    const family = net.isIP(host);
    if (family !== 0) {
      const type = familyName(family);
      if (LOOPBACK.check(host, type) || this.addresses.check(host, type)) return true;
      return this.addressPorts.some((a) => a.ip === host && (a.port === '' || a.port === port));
    }
    return this.domains.some(
      (d) =>
        (host.endsWith(d.suffix) || (d.itself && host === d.suffix.slice(1))) &&
        (d.port === '' || d.port === port),
    );
  }
}

function familyName(family: number): 'ipv4' | 'ipv6' {
  return family === 6 ? 'ipv6' : 'ipv4';
}

function requestOf(url: URL): typeof http.request {
  return url.protocol === 'https:' ? https.request : http.request;
}

/** URL.hostname keeps the brackets of an IPv6 address; sockets want it bare. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

function portOf(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  const credentials = basicAuth(proxy);
  return credentials ? { 'proxy-authorization': credentials } : {};
}

function basicAuth(url: URL): string | undefined {
  if (!url.username) return undefined;
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(pair).toString('base64')}`;
}
