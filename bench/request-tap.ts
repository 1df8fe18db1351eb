import type { RequestLog, RequestLogEntry } from '../dev/sandbox/apiserver/index.ts';
import { userAgent as petrelUserAgent } from '../src/kube/user-agent.ts';

export const BENCH_USER_AGENT = 'petrel-bench';
export const SIMULATOR_USER_AGENT = 'petrel-traffic-simulator';

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const READ_VERBS = new Set(['get', 'list']);

export type RequestClass = 'read' | 'write' | 'watch';

export interface TappedRequest {
  time: number;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
}

export function classOf(verb: string): RequestClass | undefined {
  if (READ_VERBS.has(verb)) return 'read';
  if (WRITE_VERBS.has(verb)) return 'write';
  if (verb === 'watch') return 'watch';
  return undefined;
}

/** One request as the API server saw it: from the sandbox's request log or kube-apiserver's audit log. */
export interface ObservedRequest {
  time: Date;
  verb: string;
  resource?: string;
  namespace?: string;
  name?: string;
  userAgent?: string;
}

/**
 * Sees every request the API server reports, keeping the controller's own (everything not sent by the
 * bench or the traffic simulator) without the request log's 10,000-entry cap. Recording can be paused
 * so a 10,000-canary setup does not fill memory with requests nobody will look at.
 */
export class RequestTap {
  private kept: TappedRequest[] = [];
  recording = false;

  /**
   * `log`: the sandbox's request log, tapped as it records. Without it, requests come through
   * `observe`, and `catchUp` (called before every read) pulls in what the source has so far.
   */
  constructor(
    log?: RequestLog,
    private readonly catchUp: () => void = () => {},
  ) {
    if (!log) return;
    const record = log.record.bind(log);
    log.record = (entry: RequestLogEntry) => {
      this.observe(entry);
      return record(entry);
    };
  }

  observe(entry: ObservedRequest): void {
    if (this.recording && entry.resource !== undefined && !isOthers(entry.userAgent)) {
      this.kept.push({
        time: entry.time.getTime(),
        verb: entry.verb,
        resource: entry.resource,
        namespace: entry.namespace,
        name: entry.name,
      });
    }
  }

  start(): void {
    this.catchUp();
    this.kept = [];
    this.recording = true;
  }

  stop(): TappedRequest[] {
    this.catchUp();
    this.recording = false;
    return this.kept;
  }

  /** Requests seen so far in the current recording. */
  get seen(): readonly TappedRequest[] {
    this.catchUp();
    return this.kept;
  }
}

function isOthers(agent: string | undefined): boolean {
  return agent === petrelUserAgent(BENCH_USER_AGENT) || agent === petrelUserAgent(SIMULATOR_USER_AGENT);
}

/** Counts keyed "verb resource", sorted. */
export function countByVerb(requests: readonly TappedRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of requests) {
    const key = `${r.verb} ${r.resource}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

export function countByClass(requests: readonly TappedRequest[]): Record<RequestClass, number> {
  const counts = { read: 0, write: 0, watch: 0 };
  for (const r of requests) {
    const c = classOf(r.verb);
    if (c) counts[c]++;
  }
  return counts;
}
