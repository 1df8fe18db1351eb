import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../src/kube/errors.ts';
import { EventRecorder, REPORTING_CONTROLLER } from '../src/kube/events.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { InMemoryKubeApi } from './support/fake-kube.ts';

interface CoreEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  involvedObject?: Record<string, unknown>;
  source?: Record<string, unknown>;
  reportingComponent?: string;
}

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const canary = {
  apiVersion: 'petrel.dev/v1alpha1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'test', uid: 'uid-1', resourceVersion: '42' },
};

function setup(opts: { burst?: number; refillIntervalMs?: number } = {}) {
  let now = new Date('2026-01-01T00:00:00Z');
  const api = new InMemoryKubeApi();
  const { logger, lines } = memoryLogger();
  const recorder = new EventRecorder({ api, logger, now: () => now, instance: 'petrel-0', ...opts });
  const events = () => api.cache<CoreEvent>(RESOURCES.event).list('test');
  const advance = (ms: number) => {
    now = new Date(now.getTime() + ms);
  };
  return { api, recorder, events, lines, advance };
}

describe('EventRecorder', () => {
  it('creates a core/v1 Event on the involved object', async () => {
    const { recorder, events } = setup();
    await recorder.record(canary, 'Normal', 'Synced', 'Advance podinfo.test canary weight 10');
    const [event] = events();
    expect(event).toMatchObject({
      type: 'Normal',
      reason: 'Synced',
      message: 'Advance podinfo.test canary weight 10',
      count: 1,
      firstTimestamp: '2026-01-01T00:00:00Z',
      lastTimestamp: '2026-01-01T00:00:00Z',
      involvedObject: {
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'Canary',
        name: 'podinfo',
        namespace: 'test',
        uid: 'uid-1',
      },
      source: { component: 'petrel', host: 'petrel-0' },
      reportingComponent: REPORTING_CONTROLLER,
    });
    expect(event?.metadata?.name).toMatch(/^podinfo\./);
  });

  it('aggregates repeats of the same reason and message into a count patch', async () => {
    const { api, recorder, events, advance } = setup();
    await recorder.record(canary, 'Warning', 'Halted', 'canary not ready');
    advance(30_000);
    await recorder.record(canary, 'Warning', 'Halted', 'canary not ready');
    advance(30_000);
    await recorder.record(canary, 'Warning', 'Halted', 'canary not ready');
    await recorder.record(canary, 'Warning', 'Halted', 'something else');
    const list = events();
    expect(list).toHaveLength(2);
    const halted = list.find((e) => e.message === 'canary not ready');
    expect(halted).toMatchObject({
      count: 3,
      firstTimestamp: '2026-01-01T00:00:00Z',
      lastTimestamp: '2026-01-01T00:01:00Z',
    });
    expect(api.writes().map((w) => w.verb)).toEqual(['create', 'patch', 'patch', 'create']);
    expect(recorder.stats).toMatchObject({ created: 2, aggregated: 2, dropped: 0, failed: 0 });
  });

  it('starts a new event when the aggregated one has expired', async () => {
    const { api, recorder, events } = setup();
    await recorder.record(canary, 'Normal', 'Synced', 'same');
    const first = events()[0];
    await api.delete({ resource: RESOURCES.event, namespace: 'test', name: first?.metadata?.name ?? '' });
    await recorder.record(canary, 'Normal', 'Synced', 'same');
    expect(events()).toHaveLength(1);
    expect(events()[0]?.count).toBe(1);
  });

  it('rate-limits each object so a storm cannot flood the API server', async () => {
    const { api, recorder, advance } = setup({ burst: 5, refillIntervalMs: 10_000 });
    for (let i = 0; i < 50; i++) await recorder.record(canary, 'Warning', 'Storm', `event ${i}`);
    expect(api.writes()).toHaveLength(5);
    expect(recorder.stats.dropped).toBe(45);
    // Another object has its own budget.
    await recorder.record(
      { ...canary, metadata: { ...canary.metadata, name: 'other', uid: 'uid-2' } },
      'Normal',
      'X',
      'y',
    );
    expect(api.writes()).toHaveLength(6);
    advance(20_000);
    await recorder.record(canary, 'Warning', 'Storm', 'after refill 1');
    await recorder.record(canary, 'Warning', 'Storm', 'after refill 2');
    await recorder.record(canary, 'Warning', 'Storm', 'after refill 3');
    expect(api.writes()).toHaveLength(8);
  });

  it('never throws into the caller; failures go to the logger without the message text', async () => {
    const { api, recorder, lines } = setup();
    api.failNext = () => new KubeApiError('create events: 403 forbidden', { code: 'FORBIDDEN', status: 403 });
    await expect(recorder.record(canary, 'Warning', 'Failed', 'token=abc')).resolves.toBeUndefined();
    expect(recorder.stats.failed).toBe(1);
    const warn = lines.find((l) => l.msg === 'could not record Kubernetes event');
    expect(warn).toMatchObject({ level: 40, reason: 'Failed', object: 'test/podinfo' });
    expect(JSON.stringify(warn)).not.toContain('token=abc');
  });

  it('truncates very long messages', async () => {
    const { recorder, events } = setup();
    await recorder.record(canary, 'Normal', 'Long', 'x'.repeat(5000));
    expect(events()[0]?.message?.length).toBe(1024);
  });

  it('keeps its memory bounded', async () => {
    const api = new InMemoryKubeApi();
    const { logger } = memoryLogger();
    const recorder = new EventRecorder({ api, logger, maxRemembered: 3, burst: 1000 });
    for (let i = 0; i < 10; i++) await recorder.record(canary, 'Normal', 'R', `m${i}`);
    // m0 was forgotten: the repeat finds its Event by name and adds to its count instead of duplicating it.
    await recorder.record(canary, 'Normal', 'R', 'm0');
    await recorder.record(canary, 'Normal', 'R', 'm9');
    expect(
      api
        .writes()
        .map((w) => w.verb)
        .slice(-2),
    ).toEqual(['patch', 'patch']);
    const m0 = api
      .cache<CoreEvent>(RESOURCES.event)
      .list('test')
      .filter((e) => e.message === 'm0');
    expect(m0.map((e) => e.count)).toEqual([2]);
  });

  it('repeated ticks and a restarted recorder add to one Event instead of creating duplicates', async () => {
    const { api, recorder, events, advance } = setup();
    for (let i = 0; i < 3; i++) {
      await recorder.record(canary, 'Warning', 'TargetNotFound', 'target missing');
      advance(10_000);
    }
    // A restarted controller remembers nothing, and still finds the Event.
    const { logger } = memoryLogger();
    const restarted = new EventRecorder({ api, logger, now: () => new Date('2026-01-01T00:01:00Z') });
    await restarted.record(canary, 'Warning', 'TargetNotFound', 'target missing');
    expect(events().map((e) => [e.reason, e.count, e.lastTimestamp])).toEqual([
      ['TargetNotFound', 4, '2026-01-01T00:01:00Z'],
    ]);
  });

  it('records a keyed transition once, across repeats and restarts, and never rate-limits it', async () => {
    const { api, recorder, events } = setup({ burst: 1, refillIntervalMs: 3_600_000 });
    await recorder.record(canary, 'Warning', 'Halted', 'spends the burst');
    const notice = { key: 'uid-1/rev-2/Failed/2026-01-01T00:00:00.000Z' };
    await recorder.record(canary, 'Warning', 'Failed', 'rolled back', notice);
    await recorder.record(canary, 'Warning', 'Failed', 'rolled back', notice);
    const { logger } = memoryLogger();
    const restarted = new EventRecorder({ api, logger });
    await restarted.record(canary, 'Warning', 'Failed', 'rolled back', notice);
    // The same reason and message of another transition is an Event of its own.
    await restarted.record(canary, 'Warning', 'Failed', 'rolled back', { key: `${notice.key}-later` });
    const failed = events().filter((e) => e.reason === 'Failed');
    expect(failed.map((e) => e.count)).toEqual([1, 1]);
    expect(recorder.stats.repeated + restarted.stats.repeated).toBe(2);
  });
});
