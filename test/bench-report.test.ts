import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { chartNodeOptions, planFor, runBench } from '../bench/run.ts';
import { type ScaleResult, whileAlive } from '../bench/scenarios.ts';
import { type BenchReport, evaluateTargets, renderSummary } from '../bench/summary.ts';

const distributionShape = {
  count: expect.any(Number),
  p50Ms: expect.toSatisfy((v) => v === null || typeof v === 'number'),
  p99Ms: expect.toSatisfy((v) => v === null || typeof v === 'number'),
  maxMs: expect.toSatisfy((v) => v === null || typeof v === 'number'),
};

describe('npm run bench', () => {
  // The shape of the report only: the figures depend on the machine and its load.
  it('measures every scenario and evaluates every target (a smaller --quick)', async () => {
    const quick = planFor({ quick: true, sizes: [20] });
    const plan = {
      ...quick,
      idle: { canaries: 4, windowMs: 2000 },
      detection: { changes: 4, timeoutMs: 5000 },
      controllerNodeOptions: chartNodeOptions(),
    };
    const report = await runBench(plan, () => {});

    expect(report).toMatchObject({ version: 1, mode: 'quick' });
    // As the chart runs it: compiled, with the chart's heap limit.
    expect(report.controller).toEqual({
      workers: 16,
      build: 'dist',
      nodeOptions: expect.stringMatching(/^--max-old-space-size=\d+$/),
    });
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.costPerStep).toMatchObject({
      load: expect.any(String),
      phase: 'Succeeded',
      reads: expect.any(Number),
      writesPerWeightStep: expect.any(Number),
      requestsByVerb: expect.any(Object),
      prometheusQueries: expect.any(Number),
      prometheusQueriesPerStep: expect.any(Number),
    });
    expect(report.costPerStep?.weightSteps).toBeGreaterThan(1);
    expect(report.idleCost).toMatchObject({
      canaries: 4,
      requestsPerMinute: expect.any(Number),
      controllerCpuSecondsPerMinute: expect.any(Number),
    });
    expect(report.detectionLatency).toMatchObject({ changes: 4, ...distributionShape });
    expect(report.detectionLatency?.count).toBe(4 - (report.detectionLatency?.missed ?? 0));
    expect(report.scale).toHaveLength(1);
    const [scale] = report.scale;
    expect(scale).toMatchObject({
      canaries: 20,
      progressing: 2,
      peakRssMiB: expect.any(Number),
      cpuSecondsPerMinute: expect.any(Number),
      stepLag: distributionShape,
    });
    expect(scale?.error).toBeUndefined();
    expect(scale?.failedChecks).toEqual(expect.any(Number));
    expect(scale?.failedCheckReasons).toEqual(expect.any(Object));
    expect(scale?.peakRssMiB).toBeGreaterThan(0);
    expect(scale?.weightSteps).toBeGreaterThan(0);
    expect(report.targets.map((t) => t.met === null || typeof t.met === 'boolean')).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    const summary = renderSummary(report);
    for (const section of ['cost per step', 'idle cost', 'detection latency', 'scale', 'targets'])
      expect(summary).toContain(section);
  }, 150_000);

  it('stops waiting for a scenario as soon as the controller process dies', async () => {
    let die: (err: Error) => void = () => {};
    const died = new Promise<never>((_, reject) => {
      die = reject;
    });
    const controller = { died } as Parameters<typeof whileAlive>[0];
    const forever = new Promise<number>(() => {});
    const waiting = whileAlive(controller, forever);
    die(new Error('the controller exited with code 134: JavaScript heap out of memory'));
    await expect(waiting).rejects.toThrow(/heap out of memory/);
    await expect(
      whileAlive({ died: new Promise<never>(() => {}) } as never, Promise.resolve(7)),
    ).resolves.toBe(7);
  });

  it('judges the 10,000-canary target on the run closest to 10,000; a larger run only counts when it meets it', () => {
    const run = (canaries: number, peakRssMiB: number, p99Ms: number): ScaleResult =>
      ({ canaries, peakRssMiB, stepLag: { count: 1, p50Ms: 1, p99Ms, maxMs: p99Ms } }) as ScaleResult;
    const judge = (...scale: ScaleResult[]) => {
      const report = { costPerStep: null, idleCost: null, detectionLatency: null, scale } as unknown as Omit<
        BenchReport,
        'targets'
      >;
      return evaluateTargets(report).at(-1)?.met;
    };
    expect(judge(run(10_000, 450, 700))).toBe(true);
    expect(judge(run(10_000, 600, 700))).toBe(false);
    expect(judge(run(10_000, 450, 1500))).toBe(false);
    expect(judge(run(20_000, 450, 700))).toBe(true);
    expect(judge(run(20_000, 790, 2500))).toBeNull();
    expect(judge(run(10_000, 450, 700), run(20_000, 790, 2500))).toBe(true);
    expect(judge(run(1000, 190, 90))).toBeNull();
  });

  it('refuses bad flags with the fix', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--sizes', '5'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--sizes');
    const build = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--controller-build', 'docker'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(build.status).toBe(2);
    expect(build.stderr).toContain('--controller-build: dist');
  });
});
