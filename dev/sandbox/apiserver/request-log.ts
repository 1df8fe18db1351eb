export interface RequestLogEntry {
  time: Date;
  /** Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection), or the HTTP method for non-resource paths. */
  verb: string;
  /** Plural resource name, with the subresource after a slash (`canaries/status`); undefined for discovery and other non-resource paths. */
  resource?: string;
  group?: string;
  namespace?: string;
  name?: string;
  path: string;
  userAgent?: string;
  /** HTTP status code, filled in when the response is sent. */
  code?: number;
}

/** Every API request the server handled (admin calls excluded), with counters per verb and resource. */
export class RequestLog {
  private readonly kept: RequestLogEntry[] = [];
  private readonly counters = new Map<string, number>();

  constructor(private readonly limit = 10_000) {}

  record(entry: RequestLogEntry): RequestLogEntry {
    this.kept.push(entry);
    if (this.kept.length > this.limit) this.kept.shift();
    const key = `${entry.verb} ${entry.resource ?? entry.path}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
    return entry;
  }

  /** The most recent entries, oldest first (at most the configured limit). */
  get entries(): readonly RequestLogEntry[] {
    return this.kept;
  }

  /** Counters keyed "verb resource", e.g. `{ "patch canaries/status": 3, "watch deployments": 1 }`. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.counters.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** How many requests matched a verb and/or resource (both optional). */
  count(filter: { verb?: string; resource?: string } = {}): number {
    let total = 0;
    for (const [key, n] of this.counters) {
      const [verb, resource] = key.split(' ', 2);
      if (filter.verb !== undefined && verb !== filter.verb) continue;
      if (filter.resource !== undefined && resource !== filter.resource) continue;
      total += n;
    }
    return total;
  }

  /** Total resource requests (discovery and other non-resource paths, logged under their path, excluded). */
  get total(): number {
    let sum = 0;
    for (const [key, n] of this.counters) if (!key.split(' ', 2)[1]?.startsWith('/')) sum += n;
    return sum;
  }

  reset(): void {
    this.kept.length = 0;
    this.counters.clear();
  }
}
