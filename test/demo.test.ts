import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { demoCommand } from '../dev/cli/demo.ts';
import type { DemoEvent } from '../dev/demo/events.ts';
import { runDemo } from '../dev/demo/run.ts';
import { DemoTimeoutError } from '../dev/demo/wait.ts';
import { PROMETHEUS_INSTALL_COMMAND } from '../dev/sandbox/prometheus.ts';
import { createKubeApi } from '../src/kube/client.ts';
import { loadKubeConfig } from '../src/kube/kubeconfig.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

type Outcome = Extract<DemoEvent, { type: 'outcome' }>;

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

async function runInProcess(args: string[]) {
  const out = sink();
  const err = sink();
  const started = Date.now();
  const code = await demoCommand(args, {
    stdout: out.stream,
    stderr: err.stream,
    stdin: Readable.from([]),
    env: process.env,
  });
  const events = out
    .text()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as DemoEvent & { time: string });
  return { code, events, stderr: err.text(), elapsedMs: Date.now() - started };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `petrel demo` as a child process, its stdout parsed as JSON lines as they arrive. */
class DemoProcess {
  readonly events: DemoEvent[] = [];
  readonly child: ChildProcess;
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ['bin/petrel.js', 'demo', '--json', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.events.push(JSON.parse(line) as DemoEvent);
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async waitFor<T extends DemoEvent['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<DemoEvent, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.events.find((e) => e.type === type);
      if (found) return found as Extract<DemoEvent, { type: T }>;
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no "${type}" event within ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`);
  }

  /** Resolves with the exit code; kills the process and fails if it does not exit in time. */
  async exit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`petrel demo did not exit within ${timeoutMs} ms`);
    }
    return result;
  }
}

describe('petrel demo', () => {
  const children: DemoProcess[] = [];
  afterEach(async () => {
    for (const demo of children.splice(0)) {
      if (demo.child.exitCode === null && demo.child.signalCode === null) {
        demo.child.kill('SIGKILL');
        await demo.exit(10_000).catch(() => {});
      }
    }
  });

  it('stops at once with the install command when Prometheus cannot be found', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'petrel-demo-test-'));
    try {
      const { code, events, stderr, elapsedMs } = await runInProcess([
        '--json',
        '--prometheus',
        join(dir, 'bin/prometheus'),
      ]);
      expect(code).toBe(1);
      expect(stderr).toContain(PROMETHEUS_INSTALL_COMMAND);
      expect(stderr).toContain('--prometheus PATH');
      expect(events).toEqual([expect.objectContaining({ type: 'error', code: 'PROMETHEUS_NOT_INSTALLED' })]);
      expect((events[0] as { message: string }).message).toContain(PROMETHEUS_INSTALL_COMMAND);
      expect(elapsedMs).toBeLessThan(3000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails clearly when a release misses its deadline, and stops everything it started', async () => {
    const events: DemoEvent[] = [];
    const logs = sink();
    const run = runDemo({
      scenario: 'healthy',
      rps: 50,
      keep: false,
      reporter: { emit: (e) => events.push(e) },
      logger: pino({ level: 'warn' }, logs.stream),
      signal: new AbortController().signal,
      releaseTimeoutMs: 1500,
    });
    const error = await run.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DemoTimeoutError);
    expect((error as Error).message).toMatch(
      /^release v2 did not end in Succeeded or Failed within 1.5s: the Canary is Progressing at weight \d+/,
    );
    const ready = events.find((e) => e.type === 'ready');
    expect(ready && isAlive(ready.prometheusPid)).toBe(false);
    expect(events.some((e) => e.type === 'outcome')).toBe(false);
  }, 60_000);

  it('promotes a healthy v2 and rolls back v3 naming the failed check and its value (--json)', async () => {
    const { code, events, stderr, elapsedMs } = await runInProcess(['--json']);
    const outcomes = events.filter((e): e is Outcome & { time: string } => e.type === 'outcome');
    expect(code, stderr).toBe(0);
    expect(outcomes.map((o) => [o.release, o.phase, o.ok])).toEqual([
      ['v2', 'Succeeded', true],
      ['v3', 'Failed', true],
    ]);
    expect(events.at(-1)?.type).toBe('outcome');
    expect(elapsedMs).toBeLessThan(180_000);

    // v2 went through every weight step with passing checks before it was promoted.
    const v2Checks = events.filter((e) => e.type === 'check' && e.release === 'v2');
    expect(new Set(v2Checks.map((c) => (c as { weight: number }).weight))).toEqual(
      new Set([10, 20, 30, 40, 50]),
    );
    expect(v2Checks.every((c) => (c as { passed: boolean }).passed)).toBe(true);
    expect(v2Checks).toContainEqual(expect.objectContaining({ metric: 'request-success-rate', min: 99 }));
    expect(v2Checks).toContainEqual(expect.objectContaining({ metric: 'request-duration', max: 500 }));
    const v2Weights = events.flatMap((e) => (e.type === 'weight' && e.release === 'v2' ? [e.weight] : []));
    expect(v2Weights).toEqual(expect.arrayContaining([10, 20, 30, 40, 50]));

    // v3's rollback names the check and the value Prometheus measured.
    const v3 = outcomes[1]!;
    const match = /request-success-rate (\d+(?:\.\d+)?)% < min 99%/.exec(v3.reason);
    expect(match, v3.reason).not.toBeNull();
    const measured = Number(match![1]);
    expect(measured).toBeLessThan(99);
    expect(v3.failedChecks.map((c) => c.metric)).toContain('request-success-rate');
    expect(v3.failedChecks.some((c) => c.value !== undefined && Math.abs(c.value - measured) < 0.01)).toBe(
      true,
    );
    const warnings = events.filter(
      (e) => e.type === 'event' && e.release === 'v3' && e.severity === 'Warning',
    );
    expect(warnings.map((e) => (e as { reason: string }).reason)).toContain('Failed');
    console.log(
      `demo figures: default scenario ${(elapsedMs / 1000).toFixed(1)} s; ` +
        outcomes.map((o) => `${o.release} ${o.phase} in ${(o.durationMs / 1000).toFixed(1)} s`).join(', '),
    );
  }, 180_000);

  it('--provider gatewayapi: routes through an HTTPRoute on a Gateway, promotes v2 and rolls back v3', async () => {
    const { code, events, stderr, elapsedMs } = await runInProcess(['--json', '--provider', 'gatewayapi']);
    const outcomes = events.filter((e): e is Outcome & { time: string } => e.type === 'outcome');
    expect(code, stderr).toBe(0);
    expect(outcomes.map((o) => [o.release, o.phase, o.ok])).toEqual([
      ['v2', 'Succeeded', true],
      ['v3', 'Failed', true],
    ]);
    const setup = events.flatMap((e) => (e.type === 'setup' ? [`${e.step}: ${e.detail}`] : []));
    expect(setup).toContain('gateway: Gateway demo/public (GatewayClass petrel-demo)');
    expect(setup).toContainEqual(
      expect.stringMatching(/^canary: Canary demo\/podinfo \(provider gatewayapi:v1\)/),
    );
    const v2Weights = events.flatMap((e) => (e.type === 'weight' && e.release === 'v2' ? [e.weight] : []));
    expect(v2Weights).toEqual(expect.arrayContaining([10, 20, 30, 40, 50]));
    expect(outcomes[1]!.failedChecks.map((c) => c.metric)).toContain('request-success-rate');
    console.log(`demo figures: --provider gatewayapi ${(elapsedMs / 1000).toFixed(1)} s`);
  }, 180_000);

  it('rolls back a slow version because of request-duration with the measured p99, then --keep serves until Ctrl-C', async () => {
    const demo = new DemoProcess(['--scenario', 'latency', '--keep']);
    children.push(demo);
    const ready = await demo.waitFor('ready', 60_000);
    expect(isAlive(ready.prometheusPid)).toBe(true);
    const keep = await demo.waitFor('keep', 120_000);

    const outcome = demo.events.find((e): e is Outcome => e.type === 'outcome');
    expect(outcome).toMatchObject({ release: 'v2', phase: 'Failed', ok: true });
    const match = /request-duration (\d+(?:\.\d+)?)ms > max 500ms/.exec(outcome!.reason);
    expect(match, outcome!.reason).not.toBeNull();
    const p99 = Number(match![1]);
    expect(p99).toBeGreaterThan(500);
    expect(outcome!.failedChecks).toContainEqual(expect.objectContaining({ metric: 'request-duration' }));

    // The kept sandbox answers through the printed kubeconfig, as kubectl would use it.
    const api = createKubeApi({ kubeConfig: loadKubeConfig({ kubeconfig: keep.kubeconfig }) });
    try {
      const canary = await api.get<KubeObject & { status?: { phase?: string } }>({
        resource: RESOURCES.canary,
        namespace: 'demo',
        name: 'podinfo',
      });
      expect(canary.status?.phase).toBe('Failed');
    } finally {
      api.close();
    }

    demo.child.kill('SIGINT');
    expect(await demo.exit(20_000)).toBe(0);
    expect(demo.events.at(-1)).toMatchObject({ type: 'stopping' });
    expect(isAlive(ready.prometheusPid)).toBe(false);
    expect(existsSync(keep.kubeconfig)).toBe(false);
  }, 150_000);

  it('stops every component on Ctrl-C in the middle of a release, leaving no Prometheus behind', async () => {
    const demo = new DemoProcess(['--scenario', 'healthy']);
    children.push(demo);
    const ready = await demo.waitFor('ready', 60_000);
    await demo.waitFor('weight', 30_000);
    demo.child.kill('SIGINT');
    expect(await demo.exit(20_000)).toBe(130);
    expect(demo.events.some((e) => e.type === 'outcome')).toBe(false);
    expect(demo.events.at(-1)).toMatchObject({ type: 'stopping' });
    expect(isAlive(ready.prometheusPid)).toBe(false);
  }, 90_000);
});
