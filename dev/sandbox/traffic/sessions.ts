import type { RandomSource } from './random.ts';
import {
  addBackends,
  type ClusterView,
  type HttpRouteLike,
  type ResolvedRoutes,
  type VirtualServiceLike,
  type WorkloadTarget,
} from './routes.ts';

/**
 * Users with cookies, for VirtualServices that route on the Cookie header (session affinity): requests are
 * then routed one by one, as Istio does, instead of by shares. A share of the simulated clients keeps the
 * cookies responses set (a browser); the others never send any (curl, most API clients).
 */
export interface SimulatedClient {
  id: number;
  keepsCookies: boolean;
  cookies: Map<string, { value: string; expiresAtMs: number }>;
}

export interface ClientPoolOptions {
  /** How many distinct clients send the requests. Default 100. */
  count?: number;
  /** Share (0..1) of them that keep cookies. Default 0.5. */
  keepCookies?: number;
}

export class ClientPool {
  readonly clients: SimulatedClient[];

  constructor(opts: ClientPoolOptions = {}) {
    const count = Math.max(1, Math.floor(opts.count ?? 100));
    const keeping = Math.round(count * Math.max(0, Math.min(1, opts.keepCookies ?? 0.5)));
    this.clients = Array.from({ length: count }, (_, id) => ({
      id,
      keepsCookies: id < keeping,
      cookies: new Map(),
    }));
  }

  pick(random: RandomSource): SimulatedClient {
    return this.clients[Math.floor(random() * this.clients.length)] ?? (this.clients[0] as SimulatedClient);
  }
}

/** One request routed by the simulator, for tests and displays. */
export interface RoutedRequest {
  virtualService: string;
  client: number;
  keepsCookies: boolean;
  /** The destination host it went to. */
  host: string;
  /** It carried a cookie that an http route matched. */
  matchedCookie: boolean;
}

type StringMatch = { exact?: string; prefix?: string; regex?: string };

/** Whether some http route of the VirtualService matches on the Cookie header. */
export function routesByCookie(vs: VirtualServiceLike): boolean {
  return (vs.spec?.http ?? []).some((h) => h.match?.some((m) => headerMatchOf(m, 'cookie') !== undefined));
}

/**
 * Routes `count` requests of the pool's clients through the VirtualService one by one: the first http
 * route whose match accepts the request (only header matches are evaluated: the simulated requests are
 * `GET /` with no other attribute worth matching), a destination drawn by weight, then the response header
 * operations of the route and the destination applied to the client's cookies (`Set-Cookie` with
 * `Max-Age`; 0 or less deletes). The shares that result go to the Services' ready pods.
 */
export function resolveSessionRoutes(
  vs: VirtualServiceLike,
  cluster: ClusterView,
  pool: ClientPool,
  count: number,
  nowMs: number,
  random: RandomSource,
  onRequest?: (request: RoutedRequest) => void,
): ResolvedRoutes {
  const vsNamespace = vs.metadata?.namespace ?? 'default';
  const vsName = `${vsNamespace}/${vs.metadata?.name ?? '?'}`;
  const problems: string[] = [];
  const targets: WorkloadTarget[] = [];
  const byHost = new Map<string, number>();
  let mirrorRoute: HttpRouteLike | undefined;
  for (let i = 0; i < count; i++) {
    const client = pool.pick(random);
    const cookieHeader = cookieHeaderOf(client, nowMs);
    const route = (vs.spec?.http ?? []).find((h) => accepts(h, cookieHeader));
    if (!route) continue;
    const destination = pickDestination(route, random);
    if (!destination) continue;
    const host = destination.destination?.host ?? '';
    byHost.set(host, (byHost.get(host) ?? 0) + 1);
    if (route.mirror?.host) mirrorRoute = route;
    if (client.keepsCookies) {
      applySetCookie(client, (route as RouteWithHeaders).headers, nowMs);
      applySetCookie(client, (destination as { headers?: unknown }).headers, nowMs);
    }
    onRequest?.({
      virtualService: vsName,
      client: client.id,
      keepsCookies: client.keepsCookies,
      host,
      matchedCookie: (route.match ?? []).some((m) => headerMatchOf(m, 'cookie') !== undefined),
    });
  }
  const into = { vsNamespace, vsName, cluster, problems, targets };
  for (const [host, n] of byHost) addBackends(into, host, n / Math.max(1, count), 'destination', false);
  if (mirrorRoute?.mirror?.host) {
    const percent = Math.max(0, Math.min(100, mirrorRoute.mirrorPercentage?.value ?? 100));
    if (percent > 0) addBackends(into, mirrorRoute.mirror.host, percent / 100, 'mirror', true);
  }
  return { targets, problems };
}

type RouteWithHeaders = HttpRouteLike & { headers?: unknown };

function cookieHeaderOf(client: SimulatedClient, nowMs: number): string {
  const live: string[] = [];
  for (const [name, cookie] of client.cookies) {
    if (cookie.expiresAtMs <= nowMs) client.cookies.delete(name);
    else live.push(`${name}=${cookie.value}`);
  }
  return live.join('; ');
}

function headerMatchOf(match: unknown, name: string): StringMatch | undefined {
  const headers = (match as { headers?: Record<string, StringMatch> } | null)?.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** A route without match takes everything; otherwise one of its matches must accept the request's headers. */
function accepts(route: HttpRouteLike, cookieHeader: string): boolean {
  if (!route.match || route.match.length === 0) return true;
  return route.match.some((m) => {
    const headers = (m as { headers?: Record<string, StringMatch> } | null)?.headers ?? {};
    return Object.entries(headers).every(([name, want]) =>
      name.toLowerCase() === 'cookie' ? stringMatches(want, cookieHeader) : false,
    );
  });
}

function stringMatches(want: StringMatch, value: string): boolean {
  if (!value) return false;
  if (want.exact !== undefined) return value === want.exact;
  if (want.prefix !== undefined) return value.startsWith(want.prefix);
  if (want.regex !== undefined) return new RegExp(`^(?:${want.regex})$`).test(value);
  return false;
}

function pickDestination(route: HttpRouteLike, random: RandomSource) {
  const destinations = route.route ?? [];
  const weights = destinations.map((d) =>
    typeof d.weight === 'number' ? Math.max(0, d.weight) : destinations.length === 1 ? 100 : 0,
  );
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return undefined;
  let draw = random() * total;
  for (let i = 0; i < destinations.length; i++) {
    draw -= weights[i] ?? 0;
    if (draw < 0) return destinations[i];
  }
  return destinations.at(-1);
}

/** Applies `Set-Cookie: name=value; Max-Age=N` from Istio header operations (response add or set). */
function applySetCookie(client: SimulatedClient, headers: unknown, nowMs: number): void {
  const response = (headers as { response?: { add?: Record<string, string>; set?: Record<string, string> } })
    ?.response;
  for (const ops of [response?.set, response?.add]) {
    for (const [name, value] of Object.entries(ops ?? {})) {
      if (name.toLowerCase() !== 'set-cookie') continue;
      const [pair, ...attributes] = value.split(';').map((p) => p.trim());
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq <= 0) continue;
      const maxAge = attributes.map((a) => /^max-age=(-?\d+)$/i.exec(a)?.[1]).find((v) => v !== undefined);
      const seconds = maxAge === undefined ? 86_400 : Number(maxAge);
      const cookieName = pair.slice(0, eq);
      if (seconds <= 0) client.cookies.delete(cookieName);
      else client.cookies.set(cookieName, { value: pair.slice(eq + 1), expiresAtMs: nowMs + seconds * 1000 });
    }
  }
}
