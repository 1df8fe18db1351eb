import type { RequestLogEntry, SandboxApiServer } from '../../dev/sandbox/apiserver/index.ts';
import { APP } from './observer.ts';
import type { WriteKind } from './plan.ts';

const WRITES = new Set(['create', 'update', 'patch']);

/** Which kind of controller write a request-log entry is, if any of the four the chaos plan kills after. */
export function writeKind(e: Pick<RequestLogEntry, 'verb' | 'resource' | 'name'>): WriteKind | undefined {
  if (!WRITES.has(e.verb)) return undefined;
  if (e.resource === 'virtualservices') return 'route-patch';
  if (e.resource === 'canaries/status' && e.verb !== 'create') return 'status-patch';
  if (e.verb === 'create') return undefined;
  if ((e.resource === 'deployments' || e.resource === 'deployments/scale') && e.name === APP) return 'scale';
  if (e.resource === 'deployments' && e.name === `${APP}-primary`) return 'promotion-copy';
  return undefined;
}

export interface Trigger {
  namespace: string;
  kind: WriteKind;
  armedAt: number;
}

/**
 * Follows the sandbox request log and fires when a controller write of an armed kind has been answered
 * with success, so the SIGKILL lands right after that write and before whatever the controller does next.
 */
export class WriteWatcher {
  private readonly armed: Trigger[] = [];
  private last?: RequestLogEntry;
  private timer?: NodeJS.Timeout;
  readonly writesByKind: Record<WriteKind, number> = {
    'route-patch': 0,
    'status-patch': 0,
    scale: 0,
    'promotion-copy': 0,
    'decision-route': 0,
  };

  constructor(
    private readonly sandbox: SandboxApiServer,
    private readonly isHarness: (userAgent: string | undefined) => boolean,
    private readonly onFire: (trigger: Trigger) => void,
  ) {}

  arm(namespace: string, kind: WriteKind): void {
    this.armed.push({ namespace, kind, armedAt: Date.now() });
  }

  /** A write seen elsewhere (the store): fires when that kind is armed for the namespace. */
  seen(namespace: string, kind: WriteKind): void {
    this.writesByKind[kind]++;
    const at = this.armed.findIndex((t) => t.namespace === namespace && t.kind === kind);
    if (at < 0) return;
    const [trigger] = this.armed.splice(at, 1);
    this.onFire(trigger!);
  }

  disarm(namespace: string): void {
    for (let i = this.armed.length - 1; i >= 0; i--)
      if (this.armed[i]!.namespace === namespace) this.armed.splice(i, 1);
  }

  start(intervalMs = 15): void {
    this.timer = setInterval(() => this.poll(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private poll(): void {
    const entries = this.sandbox.requestLog.entries;
    let from = this.last ? entries.lastIndexOf(this.last) + 1 : 0;
    if (this.last && from === 0) from = Math.max(0, entries.length - 500);
    for (let i = from; i < entries.length; i++) {
      const e = entries[i]!;
      const kind = writeKind(e);
      // A write not answered yet (its code is set when the response is sent): look again next poll. Watches
      // stay unanswered for their whole life and are not writes.
      if (kind && e.code === undefined) return;
      this.last = e;
      if (!kind || this.isHarness(e.userAgent) || !e.namespace?.startsWith('chaos-')) continue;
      if (e.code === undefined || e.code < 200 || e.code > 299) continue;
      this.writesByKind[kind]++;
      const at = this.armed.findIndex(
        (t) => t.namespace === e.namespace && t.kind === kind && e.time.getTime() >= t.armedAt,
      );
      if (at >= 0) {
        const [trigger] = this.armed.splice(at, 1);
        this.onFire(trigger!);
      }
    }
  }
}
