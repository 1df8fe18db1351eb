/**
 * Secret values the process has read (alert URLs, tokens, passwords) and a scrubber that replaces them in
 * every string that leaves the process: log lines, Kubernetes events, status messages, error messages and
 * the metrics text. Values are registered where they are read, so the scrubbing needs no knowledge of
 * where a string came from.
 *
 * A URL is registered with the parts a server may echo back on its own: without its scheme, its path
 * and query (e.g. "Cannot POST /hooks/T0K3N"), the userinfo password, query values and path segments that
 * look like tokens. Each value is also matched in its JSON-escaped and percent-encoded forms.
 *
 * Example: register('https://hooks.example/services/T01/B02/abcdef0123') then
 * scrub('answered HTTP 404: Cannot POST /services/T01/B02/abcdef0123') → 'answered HTTP 404: Cannot POST [REDACTED]'.
 */
export const REDACTED = '[REDACTED]';

/** Shorter values would scrub ordinary words; a credential that short is not protected by hiding it. */
const MIN_VALUE_LENGTH = 6;
/**
 * A path segment is treated as a token when it is this long, or this short but holds a digit: Slack's and
 * Discord's tokens are 24 and 68 characters, while names such as "hooks", "services" or "prod-eu-1" are not.
 */
const TOKEN_SEGMENT_LENGTH = 24;
const DIGIT_SEGMENT_LENGTH = 16;

export class SecretRegistry {
  /** Insertion-ordered, so the oldest are dropped first when the registry is full. */
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;
  private dirty = false;

  constructor(private readonly maxValues = 4096) {}

  get size(): number {
    return this.values.size;
  }

  /** Registers a secret value (and, for a URL, the parts of it a server may echo). */
  register(value: string | undefined): void {
    if (typeof value !== 'string') return;
    const trimmed = value.trim();
    for (const part of [trimmed, ...urlParts(trimmed)]) this.add(part);
  }

  /** `text` with every registered value replaced by [REDACTED]. */
  scrub(text: string): string {
    const pattern = this.currentPattern();
    if (!pattern || text.length < MIN_VALUE_LENGTH) return text;
    return text.replace(pattern, REDACTED);
  }

  /** True when `text` holds a registered value (for tests and the chaos harness). */
  contains(text: string): boolean {
    const pattern = this.currentPattern();
    if (!pattern) return false;
    pattern.lastIndex = 0;
    const found = pattern.test(text);
    pattern.lastIndex = 0;
    return found;
  }

  /** A copy of a JSON-like value with every string scrubbed; the input is returned when nothing changed. */
  scrubDeep<T>(value: T): T {
    if (!this.currentPattern()) return value;
    return scrubValue(value, (s) => this.scrub(s), 0) as T;
  }

  clear(): void {
    this.values.clear();
    this.pattern = undefined;
    this.dirty = false;
  }

  private add(value: string): void {
    if (value.length < MIN_VALUE_LENGTH) return;
    for (const form of encodedForms(value)) {
      if (this.values.has(form)) continue;
      this.values.add(form);
      this.dirty = true;
      if (this.values.size > this.maxValues) {
        const oldest = this.values.values().next().value;
        if (oldest !== undefined) this.values.delete(oldest);
      }
    }
  }

  private currentPattern(): RegExp | undefined {
    if (this.dirty) {
      this.dirty = false;
      // Longest first, so a whole URL is replaced before its path is.
      const sorted = [...this.values].sort((a, b) => b.length - a.length);
      this.pattern = sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : undefined;
    }
    return this.pattern;
  }
}

/** The process-wide registry: secret values are registered where they are read, and scrubbed at the exits. */
export const secretValues = new SecretRegistry();

/** Shorthands for the process-wide registry. */
export const registerSecret = (value: string | undefined): void => secretValues.register(value);
export const scrubSecrets = (text: string): string => secretValues.scrub(text);

/**
 * A destination for pino that scrubs each serialized line before writing it, so nested fields (err.message,
 * err.stack, response bodies) are covered whatever serializer produced them.
 */
export function redactingStream(
  out: { write(chunk: string): unknown },
  registry: SecretRegistry = secretValues,
): { write(chunk: string): void } {
  return { write: (chunk: string) => void out.write(registry.scrub(chunk)) };
}

function urlParts(value: string): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return [];
  const parts: string[] = [];
  const withoutScheme = value.replace(/^https?:\/\//i, '');
  parts.push(withoutScheme);
  const pathAndQuery = `${url.pathname}${url.search}`;
  if (url.pathname.length > 1) parts.push(pathAndQuery, url.pathname);
  if (url.password) parts.push(decodeURIComponent(url.password), url.password);
  for (const [, v] of url.searchParams) parts.push(v);
  for (const segment of url.pathname.split('/')) {
    const decoded = safeDecode(segment);
    if (
      decoded.length >= TOKEN_SEGMENT_LENGTH ||
      (decoded.length >= DIGIT_SEGMENT_LENGTH && /\d/.test(decoded))
    )
      parts.push(decoded, segment);
  }
  return parts;
}

function encodedForms(value: string): string[] {
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]);
  return [...forms].filter((f) => f.length >= MIN_VALUE_LENGTH);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const MAX_DEPTH = 64;

function scrubValue(value: unknown, scrub: (s: string) => string, depth: number): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item) => {
      const next = scrubValue(item, scrub, depth + 1);
      if (next !== item) changed = true;
      return next;
    });
    return changed ? out : value;
  }
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const next = scrubValue(item, scrub, depth + 1);
    if (next !== item) changed = true;
    out[key] = next;
  }
  return changed ? out : value;
}
