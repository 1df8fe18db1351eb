import { z } from 'zod';
import { intInRange } from './common.ts';

/**
 * What the Gateway API (standard channel, `gateway.networking.k8s.io/v1`) can say of a Canary: the
 * `service.gatewayRefs` field, the translation of Istio match conditions into HTTPRoute matches, and
 * the spec fields provider `gatewayapi:v1` refuses because the standard HTTPRoute has no equivalent.
 */
export const GATEWAY_API_PROVIDER = 'gatewayapi:v1';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** HTTPRoute `spec.hostnames[]`: a DNS name, optionally with a leading `*.` wildcard label. */
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** HTTP header and query parameter names (RFC 7230 token). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
/** Gateway API Duration (GEP-2257): up to four parts of at most five digits each. */
const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const MAX_HOSTNAMES = 16;
const MAX_MATCHES = 64;

/** A Gateway API ParentReference: the Gateway (or, for a mesh, the Service) the HTTPRoute attaches to. */
export const gatewayRefSchema = z.strictObject({
  name: z.string().min(1).max(253).describe('Name of the Gateway (or Service) the HTTPRoute attaches to.'),
  namespace: z
    .string()
    .regex(DNS_LABEL, 'must be a DNS label')
    .max(63)
    .describe("Namespace of the parent; defaults to the Canary's.")
    .optional(),
  group: z
    .string()
    .max(253)
    .regex(new RegExp(`^$|${DNS_SUBDOMAIN.source}`), 'must be empty or a DNS subdomain')
    .describe('API group of the parent (default gateway.networking.k8s.io; "" for a Service).')
    .optional(),
  kind: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, 'must be a Kubernetes kind')
    .describe('Kind of the parent (default Gateway).')
    .optional(),
  sectionName: z
    .string()
    .max(253)
    .regex(DNS_SUBDOMAIN, 'must be a DNS subdomain')
    .describe('Listener name of the Gateway (or port name of the Service).')
    .optional(),
  port: intInRange(1, 65535).describe('Port of the parent the HTTPRoute attaches to.').optional(),
});
export type GatewayRef = z.output<typeof gatewayRefSchema>;

export interface HttpPathMatch {
  type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  value: string;
}
export interface HttpValueMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}
export interface HttpRouteMatch {
  path: HttpPathMatch;
  method?: string;
  headers?: HttpValueMatch[];
  queryParams?: HttpValueMatch[];
}

/** A refusal: the path below the field that holds the value, and what to do about it. */
export interface SpecProblem {
  path: (string | number)[];
  message: string;
}

const MATCH_EVERYTHING: HttpPathMatch = { type: 'PathPrefix', value: '/' };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Istio StringMatch `{exact|prefix|regex: value}`: the one key and its string value. */
function stringMatch(v: unknown): { kind: string; value: string } | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const kind = keys[0]!;
  const value = v[kind];
  return typeof value === 'string' ? { kind, value } : undefined;
}

function translatePath(
  v: unknown,
  problems: SpecProblem[],
  at: (string | number)[],
): HttpPathMatch | undefined {
  const m = stringMatch(v);
  const types: Record<string, HttpPathMatch['type']> = {
    exact: 'Exact',
    prefix: 'PathPrefix',
    regex: 'RegularExpression',
  };
  const type = m ? types[m.kind] : undefined;
  if (!m || !type) {
    problems.push({
      path: at,
      message: 'must be one of {exact|prefix|regex: "<path>"} with provider gatewayapi:v1',
    });
    return undefined;
  }
  if (type !== 'RegularExpression' && !m.value.startsWith('/')) {
    problems.push({ path: [...at, m.kind], message: `must start with "/" (got "${m.value}")` });
    return undefined;
  }
  return { type, value: m.value };
}

function translateValues(
  v: unknown,
  problems: SpecProblem[],
  at: (string | number)[],
  what: string,
): HttpValueMatch[] | undefined {
  if (!isObject(v)) {
    problems.push({ path: at, message: `must map ${what} names to {exact|regex: "<value>"}` });
    return undefined;
  }
  const out: HttpValueMatch[] = [];
  for (const [name, cond] of Object.entries(v)) {
    const m = stringMatch(cond);
    if (!HEADER_NAME.test(name)) {
      problems.push({ path: [...at, name], message: `"${name}" is not a valid ${what} name` });
    } else if (!m || (m.kind !== 'exact' && m.kind !== 'regex')) {
      problems.push({
        path: [...at, name],
        message: `provider gatewayapi:v1 matches ${what}s by exact or regex only: write {exact: "..."} or {regex: "^..."}`,
      });
    } else {
      out.push({ name, type: m.kind === 'exact' ? 'Exact' : 'RegularExpression', value: m.value });
    }
  }
  return out;
}

/**
 * Istio HTTPMatchRequests (uri, method, headers, queryParams) as HTTPRoute matches, every default
 * written out (path PathPrefix "/" when no uri), so what Petrel writes is what the API server stores.
 * Any other condition is a problem: the standard HTTPRoute cannot express it.
 *
 *   [{headers: {x-canary: {exact: "insider"}}}]
 *     → [{path: {type: PathPrefix, value: "/"}, headers: [{type: Exact, name: x-canary, value: insider}]}]
 */
export function toHttpRouteMatches(
  istio: readonly Record<string, unknown>[],
  at: (string | number)[] = [],
): { matches: HttpRouteMatch[]; problems: SpecProblem[] } {
  const problems: SpecProblem[] = [];
  const matches: HttpRouteMatch[] = [];
  istio.forEach((cond, index) => {
    const here = [...at, index];
    const match: HttpRouteMatch = { path: { ...MATCH_EVERYTHING } };
    for (const [key, value] of Object.entries(cond)) {
      if (key === 'uri') {
        const path = translatePath(value, problems, [...here, key]);
        if (path) match.path = path;
      } else if (key === 'method') {
        const m = stringMatch(value);
        if (m?.kind !== 'exact' || !HTTP_METHODS.includes(m.value)) {
          problems.push({
            path: [...here, key],
            message: `must be {exact: METHOD} with one of ${HTTP_METHODS.join(', ')} for provider gatewayapi:v1`,
          });
        } else match.method = m.value;
      } else if (key === 'headers' || key === 'queryParams') {
        const values = translateValues(
          value,
          problems,
          [...here, key],
          key === 'headers' ? 'header' : 'query parameter',
        );
        if (values?.length) match[key] = values;
      } else {
        problems.push({
          path: [...here, key],
          message: `not supported with provider gatewayapi:v1 (an HTTPRoute matches on uri, method, headers and queryParams only): remove it`,
        });
      }
    }
    matches.push(match);
  });
  if (matches.length > MAX_MATCHES)
    problems.push({ path: at, message: `at most ${MAX_MATCHES} conditions fit one HTTPRoute rule` });
  return { matches, problems };
}

/**
 * The A/B rule's matches: every combination of an A/B condition and a service condition, the A/B
 * condition's path and method winning and its headers and query parameters added (replacing a service
 * condition on the same name), so the canary only sees traffic the service route would have seen.
 */
export function mergeHttpRouteMatches(
  ab: readonly HttpRouteMatch[],
  service: readonly HttpRouteMatch[],
): HttpRouteMatch[] {
  if (!service.length) return ab.map((m) => structuredClone(m));
  const merge = (base: HttpValueMatch[] | undefined, over: HttpValueMatch[] | undefined) => {
    const names = new Set((over ?? []).map((v) => v.name.toLowerCase()));
    const out = [...(base ?? []).filter((v) => !names.has(v.name.toLowerCase())), ...(over ?? [])];
    return out.length ? out : undefined;
  };
  return ab.flatMap((a) =>
    service.map((s) => {
      const matchesAll = a.path.type === 'PathPrefix' && a.path.value === '/';
      const out: HttpRouteMatch = { path: matchesAll ? s.path : a.path };
      const method = a.method ?? s.method;
      if (method) out.method = method;
      const headers = merge(s.headers, a.headers);
      if (headers) out.headers = headers;
      const queryParams = merge(s.queryParams, a.queryParams);
      if (queryParams) out.queryParams = queryParams;
      return structuredClone(out);
    }),
  );
}

/** The Istio-only fields of spec.service, each with what to use instead with the Gateway API. */
const ISTIO_ONLY_SERVICE_FIELDS: Record<string, string> = {
  gateways: 'Istio gateways of a VirtualService: name the Gateways in service.gatewayRefs instead',
  trafficPolicy: 'a DestinationRule setting: configure it on the mesh or Gateway implementation instead',
  retries: 'HTTPRoute retries are not in the standard channel of the Gateway API: remove it',
  corsPolicy: 'the HTTPRoute CORS filter is not in the standard channel of the Gateway API: remove it',
};

interface SpecView {
  provider?: string;
  service: {
    gatewayRefs?: unknown[];
    hosts?: string[];
    match?: Record<string, unknown>[];
    [key: string]: unknown;
  };
  analysis?: {
    match?: Record<string, unknown>[];
    mirrorWeight?: number;
    sessionAffinity?: unknown;
    [key: string]: unknown;
  };
}

/**
 * Why a Canary spec cannot be routed as asked: gatewayRefs without provider gatewayapi:v1, or, with it,
 * no gatewayRefs, Istio-only fields, hosts that are not HTTPRoute hostnames, match conditions an
 * HTTPRoute cannot express, a mirror percentage, or a Set-Cookie header beside session affinity. Empty when
 * the spec is fine. Session affinity itself is written as a cookie-matching rule (src/routers/gatewayapi-affinity.ts).
 */
export function gatewayApiProblems(spec: SpecView): SpecProblem[] {
  const svc = spec.service;
  if (spec.provider !== GATEWAY_API_PROVIDER) {
    return svc.gatewayRefs !== undefined
      ? [
          {
            path: ['service', 'gatewayRefs'],
            message: `only used with provider ${GATEWAY_API_PROVIDER}: set spec.provider: ${GATEWAY_API_PROVIDER} or remove it`,
          },
        ]
      : [];
  }
  const problems: SpecProblem[] = [];
  if (!svc.gatewayRefs?.length) {
    problems.push({
      path: ['service', 'gatewayRefs'],
      message: `required with provider ${GATEWAY_API_PROVIDER}: name the Gateway(s) the HTTPRoute attaches to, e.g. [{name: public-gateway, namespace: istio-ingress}]`,
    });
  }
  for (const [field, why] of Object.entries(ISTIO_ONLY_SERVICE_FIELDS)) {
    if (svc[field] !== undefined)
      problems.push({
        path: ['service', field],
        message: `not supported with provider ${GATEWAY_API_PROVIDER}: ${why}`,
      });
  }
  problems.push(...headerOperationProblems(svc.headers));
  if (typeof svc.timeout === 'string' && !GATEWAY_DURATION.test(svc.timeout))
    problems.push({
      path: ['service', 'timeout'],
      message: `"${svc.timeout}" is not a Gateway API duration (at most four parts of up to five digits, e.g. 1m30s)`,
    });
  const hosts = svc.hosts ?? [];
  if (hosts.length > MAX_HOSTNAMES)
    problems.push({
      path: ['service', 'hosts'],
      message: `at most ${MAX_HOSTNAMES} hostnames fit an HTTPRoute`,
    });
  hosts.forEach((host, index) => {
    if (!HOSTNAME.test(host))
      problems.push({
        path: ['service', 'hosts', index],
        message: `"${host}" is not an HTTPRoute hostname (a lower-case DNS name, optionally starting with "*."; no IPs, ports or "*" alone)`,
      });
  });
  problems.push(...toHttpRouteMatches(svc.match ?? [], ['service', 'match']).problems);
  problems.push(...toHttpRouteMatches(spec.analysis?.match ?? [], ['analysis', 'match']).problems);
  const combined = (spec.analysis?.match?.length ?? 0) * Math.max(1, svc.match?.length ?? 0);
  if (combined > MAX_MATCHES)
    problems.push({
      path: ['analysis', 'match'],
      message: `${combined} conditions once combined with each of service.match; at most ${MAX_MATCHES} fit one HTTPRoute rule`,
    });
  if (spec.analysis?.mirrorWeight !== undefined) {
    problems.push({
      path: ['analysis', 'mirrorWeight'],
      message: `not supported with provider ${GATEWAY_API_PROVIDER}: a RequestMirror percentage is not in the standard channel of the Gateway API; remove it to mirror all requests`,
    });
  }
  // Session affinity adds `Set-Cookie` to the same response header filter: one header name appears once.
  const responseAdd = (svc.headers as { response?: { add?: unknown } } | undefined)?.response?.add;
  const addsSetCookie =
    isObject(responseAdd) && Object.keys(responseAdd).some((k) => k.toLowerCase() === 'set-cookie');
  if (spec.analysis?.sessionAffinity !== undefined && addsSetCookie) {
    problems.push({
      path: ['service', 'headers', 'response', 'add'],
      message: `cannot add Set-Cookie together with analysis.sessionAffinity with provider ${GATEWAY_API_PROVIDER}: the HTTPRoute filter adds the session cookie there; remove one of them`,
    });
  }
  return problems;
}

/** Istio header operations `{request|response: {set, add, remove}}` map to HTTPRoute header modifier filters. */
function headerOperationProblems(headers: unknown): SpecProblem[] {
  if (headers === undefined) return [];
  const at = ['service', 'headers'];
  if (!isObject(headers)) return [{ path: at, message: 'must be {request: {...}, response: {...}}' }];
  const problems: SpecProblem[] = [];
  for (const [side, ops] of Object.entries(headers)) {
    if (side !== 'request' && side !== 'response') {
      problems.push({
        path: [...at, side],
        message: 'only request and response header operations exist: remove it',
      });
      continue;
    }
    if (!isObject(ops)) {
      problems.push({ path: [...at, side], message: 'must be {set: {...}, add: {...}, remove: [...]}' });
      continue;
    }
    for (const [op, value] of Object.entries(ops)) {
      const here = [...at, side, op];
      if (op === 'set' || op === 'add') {
        const ok =
          isObject(value) &&
          Object.entries(value).every(([k, v]) => HEADER_NAME.test(k) && typeof v === 'string');
        if (!ok) problems.push({ path: here, message: 'must map header names to string values' });
      } else if (op === 'remove') {
        const ok = Array.isArray(value) && value.every((k) => typeof k === 'string' && HEADER_NAME.test(k));
        if (!ok) problems.push({ path: here, message: 'must be a list of header names' });
      } else {
        problems.push({ path: here, message: 'only set, add and remove exist: remove it' });
      }
    }
  }
  return problems;
}
