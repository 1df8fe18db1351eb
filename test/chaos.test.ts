import { describe, expect, it } from 'vitest';
import { renderSummary } from '../bench/chaos/main.ts';
import { runChaos } from '../bench/chaos/run.ts';

/**
 * The short version of `npm run chaos`: a few rollouts (healthy and broken) under SIGKILLs at chosen writes and
 * at random, 5% API errors, 409s, dropped watches, 410s, a lost Prometheus, mutated specs and a deletion.
 * Every invariant of docs/reliability.md must hold; on a violation the message names the seed to replay.
 */
describe('chaos (short)', () => {
  it('keeps every invariant under controller kills and API faults', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      // Seed 40 plans broken versions killed at their rollback's route write, a lost Prometheus, a deletion,
      // a flaky alert receiver and mutated specs.
      seed: 40,
      rollouts: 6,
      concurrency: 3,
      rolloutTimeoutMs: 90_000,
      progress: (line) => lines.push(line),
    });
    const summary = renderSummary(report);
    // The run really exercised what it claims.
    expect(report.outcomes).toHaveLength(6);
    expect(report.faults.kills).toBeGreaterThan(0);
    expect(report.faults.apiErrorsInjected).toBeGreaterThan(0);
    expect(report.faults.alertPostsRefused).toBeGreaterThan(0);
    expect(report.secretScan.logLines).toBeGreaterThan(0);
    expect(report.violations, `${summary}\n${lines.join('\n')}`).toEqual([]);
    // About 100 s on a quiet machine; the bound leaves room for a loaded one.
  }, 240_000);

  it('hands over to the standby within the lease duration when the leader is killed mid-rollout', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      seed: 7,
      rollouts: 2,
      concurrency: 2,
      failover: true,
      rolloutTimeoutMs: 90_000,
      progress: (line) => lines.push(line),
    });
    const summary = renderSummary(report);
    expect(report.faults.kills, summary).toBeGreaterThan(0);
    expect(report.takeoversMs.length, summary).toBeGreaterThan(0);
    expect(report.violations, `${summary}\n${lines.join('\n')}`).toEqual([]);
  }, 180_000);
});
