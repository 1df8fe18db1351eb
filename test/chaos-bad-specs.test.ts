import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  MAX_PROBLEM_CHARS,
  MAX_SUMMARY_BYTES,
  NO_DETAILS,
  summarizeIssues,
} from '../src/api/issue-summary.ts';
import { ControllerMetrics } from '../src/controller/metrics.ts';
import { TerminalError } from '../src/controller/queue.ts';
import { CanaryReconciler } from '../src/controller/reconciler.ts';
import { EventRecorder } from '../src/kube/events.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeApi, KubeObject } from '../src/kube/types.ts';
import type { Deployment } from '../src/kube/workloads.ts';
import type { Clock } from '../src/lib/clock.ts';
import type { Router } from '../src/routers/router.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

const bytes = (s: string) => Buffer.byteLength(s);

describe('summarizeIssues', () => {
  it('is never empty', () => {
    expect(summarizeIssues([])).toBe(NO_DETAILS);
    expect(summarizeIssues([{ path: '', message: '  ' }, ''])).toBe(NO_DETAILS);
  });

  it('lists every problem when they fit', () => {
    expect(
      summarizeIssues([
        { path: 'spec.analysis.interval', message: 'must be a duration' },
        { path: '', message: 'spec is required' },
      ]),
    ).toBe('spec.analysis.interval: must be a duration; spec is required');
  });

  it('lists the first problems that fit in 1 KiB and counts the rest', () => {
    const issues = Array.from({ length: 60 }, (_, i) => ({
      path: `spec.analysis.stepWeights[${i}]`,
      message: 'expected number, received string',
    }));
    const text = summarizeIssues(issues);
    expect(bytes(text)).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    expect(text.startsWith('spec.analysis.stepWeights[0]: expected number')).toBe(true);
    const shown = text.split('; ').length;
    expect(text).toMatch(new RegExp(`… and ${60 - shown} more problems$`));
  });

  it('cuts one huge problem (a 1 MB name, multi-byte text) to its first characters', () => {
    const huge = `spec.analysis.metrics[0].name: "${'m'.repeat(1024 * 1024)}" is too long: use at most 63 characters`;
    const text = summarizeIssues([huge, 'second problem']);
    const first = text.split('; ')[0]!;
    expect(Array.from(first).length).toBe(MAX_PROBLEM_CHARS);
    // The field and the fix survive; the value in between is cut.
    expect(first.startsWith('spec.analysis.metrics[0].name: "mmm')).toBe(true);
    expect(first.endsWith('" is too long: use at most 63 characters')).toBe(true);
    expect(text.endsWith('; second problem')).toBe(true);
    const wide = summarizeIssues(Array.from({ length: 100 }, () => '€'.repeat(5000)));
    expect(bytes(wide)).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    expect(wide).toMatch(/and \d+ more problems$/);
  });

  it('says "1 more problem" in the singular and flattens newlines', () => {
    const issues = Array.from({ length: 4 }, (_, i) => `p${i}\n${'x'.repeat(290)}`);
    const text = summarizeIssues(issues);
    expect(text).not.toContain('\n');
    expect(text).toMatch(/… and 1 more problem$/);
  });
});

/** One invalid spec of a few kinds the issue saw: a 1 MB metric name, a 49 KB array, wrong types, unknown fields. */
function invalidSpec(i: number): Record<string, unknown> {
  const base = {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    service: { port: 9898 },
  };
  switch (i % 4) {
    case 0:
      return {
        ...base,
        analysis: {
          interval: '10s',
          threshold: 2,
          metrics: [{ name: `m${i}-${'x'.repeat(i % 100 === 0 ? 1024 * 1024 : 4096)}`, interval: 'soon' }],
        },
      };
    case 1:
      // 49 KB either way: mostly 49 long items, and every 200th spec 8,000 short ones (8,000 problems).
      return {
        ...base,
        analysis: {
          interval: '10s',
          stepWeights:
            i % 200 === 1
              ? Array.from({ length: 8000 }, () => 'ten')
              : Array.from({ length: 49 }, (_, j) => `${j}${'w'.repeat(1000)}`),
        },
      };
    case 2:
      return { ...base, analysis: { interval: 42, threshold: 'many', maxWeight: -1 }, [`unknown${i}`]: true };
    default:
      return { ...base, service: { port: 'http' }, analysis: { interval: `${i}x`, webhooks: [{ url: 7 }] } };
  }
}

function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Events are the cluster's memory, not the controller's: this API answers their writes and keeps nothing. */
function eventSinkApi(): KubeApi {
  return {
    create: async (_r: unknown, obj: KubeObject) => obj,
    mergePatch: async (_r: unknown, _ref: unknown) => ({}),
  } as unknown as KubeApi;
}

describe('thousands of invalid specs through the reconciler', () => {
  it('keep the message, the log, the caches, the metrics and the event aggregation bounded', async () => {
    const kube = new InMemoryKubeApi();
    const now = Date.parse('2026-01-01T00:00:00Z');
    let tick = 0;
    const clock: Clock = {
      now: () => new Date(now + tick * 1000),
      setTimeout: () => 0,
      clearTimeout: () => {},
    };
    let logBytes = 0;
    let logLines = 0;
    let longestLine = 0;
    const logger = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          logBytes += bytes(line);
          logLines++;
          longestLine = Math.max(longestLine, bytes(line));
        },
      },
    );
    const recorder = new EventRecorder({ api: eventSinkApi(), logger, now: () => clock.now() });
    const metrics = new ControllerMetrics();
    const router = { getRoutes: () => undefined } as unknown as Router;
    const reconciler = new CanaryReconciler({
      api: kube,
      canaries: kube.cache(RESOURCES.canary),
      deployments: { api: kube, deployments: kube.cache<Deployment>(RESOURCES.deployment) },
      routerFor: () => router,
      events: recorder,
      runChecks: async () => [],
      clock,
      logger,
    });
    const messages: string[] = [];
    const SPECS = 2000;
    const NAMES = 40;
    let heapAtHalf = 0;
    for (let i = 0; i < SPECS; i++) {
      tick++;
      const name = `bad-${i % NAMES}`;
      const canary = kube.seed(RESOURCES.canary, {
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'Canary',
        metadata: { name, namespace: 'chaos', uid: `uid-${i}`, generation: 1 },
        spec: invalidSpec(i),
      } as KubeObject);
      metrics.observeCanary(canary as never);
      const err = await reconciler.reconcile(`chaos/${name}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TerminalError);
      const stored = kube.cache(RESOURCES.canary).get('chaos', name) as {
        status?: { conditions?: { type: string; message: string }[] };
      };
      const message = stored.status?.conditions?.find((c) => c.type === 'InvalidSpec')?.message ?? '';
      messages.push(message.length > 0 ? message.slice(0, 40) : '');
      expect(message.length).toBeGreaterThan(0);
      expect(bytes(message)).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
      // Each name is deleted and re-created with the next spec, as a person retrying a manifest would.
      await kube.delete({ resource: RESOURCES.canary, namespace: 'chaos', name });
      reconciler.forget(canary);
      metrics.forgetCanary('chaos', name);
      kube.requests.length = 0;
      if (i === SPECS / 2 - 1) heapAtHalf = heapAfterGc();
    }
    const heapAtEnd = heapAfterGc();
    console.info(
      `${SPECS} invalid specs: log ${(logBytes / 1024).toFixed(0)} KiB in ${logLines} lines, heap ${(heapAtHalf / 2 ** 20).toFixed(1)} MiB at ${SPECS / 2} -> ${(heapAtEnd / 2 ** 20).toFixed(1)} MiB at ${SPECS}`,
    );

    expect(messages.every((m) => m.length > 0)).toBe(true);
    // One warn line and one event per spec, each carrying at most the 1 KiB message.
    expect(longestLine).toBeLessThan(4 * 1024);
    expect(logBytes / SPECS).toBeLessThan(4 * 1024);
    expect(logLines).toBeLessThanOrEqual(SPECS * 2);
    // Event aggregation remembers a bounded number of entries of bounded size.
    const remembered = (recorder as unknown as { remembered: Map<string, unknown> }).remembered;
    const buckets = (recorder as unknown as { buckets: Map<string, unknown> }).buckets;
    expect(remembered.size).toBeLessThanOrEqual(4096);
    expect([...remembered.keys()].reduce((n, k) => n + k.length, 0)).toBeLessThan(4096 * 1400);
    expect(buckets.size).toBeLessThanOrEqual(4096);
    // No series is left behind for a deleted canary.
    const text = await metrics.text();
    expect(text).not.toMatch(/name="bad-/);
    // The write-through cache of Canaries holds nothing for the deleted ones.
    const cache = (reconciler as unknown as { canaries: { written: Map<string, unknown> } }).canaries;
    expect(cache.written.size).toBeLessThanOrEqual(NAMES);
    // The second thousand specs did not keep what the first did not: growth is a few MB, not a per-spec share
    // of the 1 MB names and 49 KB arrays (about 100 MB if kept).
    expect(heapAtEnd - heapAtHalf).toBeLessThan(24 * 1024 * 1024);
  }, 120_000);
});
