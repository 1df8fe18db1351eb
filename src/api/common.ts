import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.ts';
import { describeValue } from './issues.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** An integer in [min, max] whose error message shows the range and the value, e.g. `must be 1..100 (got 0)`. */
export function intInRange(min: number, max: number) {
  const error = (issue: { input?: unknown }) => `must be ${min}..${max} (got ${describeValue(issue.input)})`;
  return z.number().int().min(min, { error }).max(max, { error });
}

/** A whole number >= min. */
export function intAtLeast(min: number) {
  return z
    .number()
    .int()
    .min(min, { error: (issue) => `must be >= ${min} (got ${describeValue(issue.input)})` })
    .max(Number.MAX_SAFE_INTEGER);
}

/** A traffic weight in percent. */
export const weightSchema = intInRange(1, 100);

/** What the API server enforces for durations; the zod check below adds the minimum and overflow checks. */
export const DURATION_PATTERN = '^([0-9]+(ms|s|m|h))+$';

/** A duration string (`30s`, `1m`, `1h30m`) of at least `minMs` milliseconds. */
export function durationSchema(minMs = 1) {
  return z
    .string()
    .regex(new RegExp(DURATION_PATTERN), {
      abort: true,
      error: (issue) => `must be a duration such as 30s, 1m or 1h30m (got ${describeValue(issue.input)})`,
    })
    .check((ctx) => {
      let ms: number;
      try {
        ms = parseDuration(ctx.value);
      } catch (error) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: (error as Error).message });
        return;
      }
      if (ms < minMs) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          message: `must be at least ${formatDuration(minMs)} (got ${ctx.value})`,
        });
      }
    });
}

export function dnsSubdomainSchema() {
  return z
    .string()
    .min(1)
    .max(253)
    .regex(DNS_SUBDOMAIN, {
      error: (issue) =>
        `must be a lowercase DNS name: letters, digits, '-' and '.' (got ${describeValue(issue.input)})`,
    });
}

export function dnsLabelSchema() {
  return z
    .string()
    .min(1)
    .max(63)
    .regex(DNS_LABEL, {
      error: (issue) =>
        `must be a lowercase DNS label: letters, digits and '-' (got ${describeValue(issue.input)})`,
    });
}

export const stringMapSchema = z.record(z.string(), z.string());

/** Fields passed through to the mesh as they are (Istio trafficPolicy, match, corsPolicy...). */
export const freeFormObjectSchema = z.record(z.string(), z.unknown());

export const httpUrlSchema = z.url({ protocol: /^https?$/ });

/**
 * Kubernetes object metadata: the fields Petrel reads are typed, everything else the API server
 * adds (uid, managedFields, ownerReferences...) is kept as it is.
 */
export const objectMetaSchema = z.looseObject({
  name: dnsSubdomainSchema(),
  namespace: dnsLabelSchema().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  labels: stringMapSchema.optional(),
  annotations: stringMapSchema.optional(),
});
export type ObjectMeta = z.output<typeof objectMetaSchema>;

/** A reference to a Secret in the resource's own namespace. */
export const secretRefSchema = z.strictObject({ name: dnsSubdomainSchema() });

/** A reference to another Petrel resource, defaulting to the referring resource's namespace. */
export const crossNamespaceRefSchema = z.strictObject({
  name: dnsSubdomainSchema(),
  namespace: dnsLabelSchema().optional(),
});
