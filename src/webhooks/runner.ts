import type { Logger } from 'pino';
import type { CanaryWebhook } from '../api/canary.ts';
import { callWebhook, type WebhookOutcome } from './client.ts';
import type { WebhookPayload } from './payload.ts';

export type WebhookCall = (
  hook: CanaryWebhook,
  payload: WebhookPayload,
  signal: AbortSignal,
) => Promise<WebhookOutcome>;

export interface WebhookRunnerOptions {
  logger: Logger;
  call?: WebhookCall;
  /** Told when a polled call finishes, so the canary is reconciled again at once. */
  onSettled?: (canaryKey: string) => void;
  /** Calls in flight at once across all canaries; more wait their turn. */
  maxInFlight?: number;
  /** Fire-and-forget calls allowed to wait; beyond that they are dropped (and logged). */
  maxQueued?: number;
}

interface Entry {
  token: string;
  outcome?: WebhookOutcome;
  /** When a caller first saw the answer, in the caller's clock. */
  seenAt?: number;
}

/**
 * Runs webhook calls in the background so a reconcile never waits on one: `poll` answers from a cache
 * (keyed by canary, hook and a token naming the step the answer is for) and starts the call when there is
 * no answer yet. A hook that hangs holds only its own slot until its timeout; other canaries go on.
 */
export class WebhookRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly waiting: (() => void)[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private running = 0;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly call: WebhookCall;
  readonly stats = { calls: 0, failures: 0, dropped: 0 };

  constructor(private readonly opts: WebhookRunnerOptions) {
    this.maxInFlight = opts.maxInFlight ?? 32;
    this.maxQueued = opts.maxQueued ?? 1000;
    this.call = opts.call ?? ((hook, payload, signal) => callWebhook(hook, payload, { signal }));
  }

  /**
   * The outcome of `hook` for `token`, or undefined while it is being called. A new token (next step,
   * next revision) starts a new call; an answer for an old token is thrown away. An answer seen more
   * than `maxAgeMs` ago (by `nowMs`, counted from the first poll that saw it, so a slow hook is never
   * asked again before its answer is used) is asked again: that is how a closed gate is polled once per
   * interval.
   */
  poll(
    canaryKey: string,
    hook: CanaryWebhook,
    payload: WebhookPayload,
    token: string,
    freshness: { maxAgeMs: number; nowMs: number } = { maxAgeMs: Number.POSITIVE_INFINITY, nowMs: 0 },
  ): WebhookOutcome | undefined {
    const id = `${canaryKey}\u0000${hook.name}`;
    const entry = this.entries.get(id);
    if (entry?.token === token) {
      if (entry.outcome === undefined) return undefined;
      entry.seenAt ??= freshness.nowMs;
      if (freshness.nowMs - entry.seenAt < freshness.maxAgeMs) return entry.outcome;
    }
    const fresh: Entry = { token };
    this.entries.set(id, fresh);
    this.track(
      this.run(canaryKey, hook, payload).then((outcome) => {
        if (this.entries.get(id) !== fresh) return;
        fresh.outcome = outcome;
        this.opts.onSettled?.(canaryKey);
      }),
    );
    return undefined;
  }

  /**
   * Calls a hook whose answer decides nothing (post-rollout, event): the outcome is only logged. The promise
   * (never rejected) resolves once the call is done, dropped or given up on.
   */
  fire(canaryKey: string, hook: CanaryWebhook, payload: WebhookPayload): Promise<unknown> {
    if (this.waiting.length >= this.maxQueued) {
      this.stats.dropped++;
      this.opts.logger.warn(
        { canary: canaryKey, hook: hook.name, type: hook.type },
        'webhook queue full: call dropped',
      );
      return Promise.resolve();
    }
    const call = this.run(canaryKey, hook, payload);
    this.track(call);
    return call.catch(() => {});
  }

  /** Drops every cached answer of a canary (it was deleted). */
  forget(canaryKey: string): void {
    for (const id of this.entries.keys()) if (id.startsWith(`${canaryKey}\u0000`)) this.entries.delete(id);
  }

  /** Resolves once no call is running or waiting. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Cancels calls in flight and waits for them to end. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('webhook runner stopped'));
    await this.idle();
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch(() => {}).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async run(
    canaryKey: string,
    hook: CanaryWebhook,
    payload: WebhookPayload,
  ): Promise<WebhookOutcome> {
    await this.slot();
    try {
      this.stats.calls++;
      const outcome = await this.call(hook, payload, this.abort.signal);
      if (!outcome.ok) this.stats.failures++;
      const fields = {
        canary: canaryKey,
        hook: hook.name,
        type: hook.type,
        ok: outcome.ok,
        status: outcome.status,
        code: outcome.code,
        attempts: outcome.attempts,
        durationMs: outcome.durationMs,
      };
      if (outcome.ok) this.opts.logger.info(fields, outcome.message);
      else this.opts.logger.warn(fields, outcome.message);
      return outcome;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async slot(): Promise<void> {
    if (this.running < this.maxInFlight) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
  }
}
