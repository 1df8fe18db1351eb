import type { Canary } from '../api/canary.ts';
import type { HttpRouteMatch } from '../api/gateway-api.ts';
import type { HeaderModifier, HttpRouteFilter, HttpRouteRule } from './gatewayapi.ts';
import { affinityCookie } from './istio.ts';

const DEFAULT_MAX_AGE = 86_400;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A ResponseHeaderModifier adding `Set-Cookie`, merged into the filter already there (one per type is allowed). */
function withSetCookie(filters: readonly HttpRouteFilter[] | undefined, value: string): HttpRouteFilter[] {
  const out = structuredClone([...(filters ?? [])]);
  const header = { name: 'Set-Cookie', value };
  const existing = out.find((f) => f.type === 'ResponseHeaderModifier');
  if (existing) {
    const modifier: HeaderModifier = existing.responseHeaderModifier ?? {};
    modifier.add = [...(modifier.add ?? []), header];
    existing.responseHeaderModifier = modifier;
    return out;
  }
  return [...out, { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [header] } }];
}

/**
 * spec.analysis.sessionAffinity on an HTTPRoute, as Flagger does for the Gateway API: while the canary has a
 * share of the traffic, its backendRef in the weighted rule adds `Set-Cookie: <name>=<value>; Max-Age=<maxAge>`
 * to responses, and a rule matching that cookie (a RegularExpression match on the `Cookie` header, one more
 * header match than the weighted rule, so it takes precedence) sends those users to the canary only. With no
 * share (before, after, or rolled back), that rule sends them to the primary and expires the cookie
 * (Max-Age=-1). The cookie value is the one the Istio router uses: new for each revision, stable across
 * restarts. Returns the rule to put first, or undefined; mutates the canary backendRef of `split`.
 */
export function stickyHttpRouteRule(canary: Canary, split: HttpRouteRule): HttpRouteRule | undefined {
  const cookie = affinityCookie(canary);
  const [primary, canaryBackend] = split.backendRefs ?? [];
  if (!cookie || !primary || !canaryBackend || !split.matches?.length) return undefined;
  const maxAge = canary.spec.analysis?.sessionAffinity?.maxAge ?? DEFAULT_MAX_AGE;
  const carriesCookie = {
    type: 'RegularExpression' as const,
    name: 'Cookie',
    value: `.*${escapeRegex(cookie.name)}=${cookie.value}.*`,
  };
  const matches: HttpRouteMatch[] = split.matches.map((m) => ({
    ...structuredClone(m),
    headers: [
      ...(m.headers ?? []).filter((h) => h.name.toLowerCase() !== 'cookie'),
      structuredClone(carriesCookie),
    ],
  }));
  const { matches: _split, backendRefs: _refs, filters, ...common } = split;
  if ((canaryBackend.weight ?? 0) > 0) {
    canaryBackend.filters = withSetCookie(
      canaryBackend.filters,
      `${cookie.name}=${cookie.value}; Max-Age=${maxAge}`,
    );
    const { filters: _setCookie, ...canaryRef } = canaryBackend;
    return structuredClone({
      matches,
      ...(filters ? { filters } : {}),
      ...common,
      backendRefs: [
        { ...primary, weight: 0 },
        { ...canaryRef, weight: 100 },
      ],
    });
  }
  return structuredClone({
    matches,
    filters: withSetCookie(filters, `${cookie.name}=${cookie.value}; Max-Age=-1`),
    ...common,
    backendRefs: [primary, canaryBackend],
  });
}
