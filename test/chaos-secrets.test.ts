import { describe, expect, it } from 'vitest';
import { renderSummary } from '../bench/chaos/main.ts';
import { runChaos } from '../bench/chaos/run.ts';

/**
 * A full sandbox run (controller process, real Prometheus, traffic) with alert URLs in Secrets and a receiver
 * that answers 500 to every non-terminal alert, echoing the token in the path or alone, under 5% API errors:
 * every controller log line and every stored object but the Secret (events, Canary status, owned objects) is
 * scanned for the tokens. No kills, so the give-up lines are logged rather than lost with the process.
 */
describe('secrets in a full run', () => {
  it('reach no log line, event or status, though the receiver echoed them into errors the controller logged', async () => {
    const report = await runChaos({
      seed: 5,
      rollouts: 2,
      concurrency: 2,
      plan: { kills: false, allReceiversFlaky: true },
      rolloutTimeoutMs: 90_000,
    });
    const summary = renderSummary(report);
    expect(report.faults.kills, summary).toBe(0);
    expect(report.faults.alertPostsRefused, summary).toBeGreaterThan(3);
    // Lines where the controller scrubbed an echoed token or URL: the scan had something to find.
    expect(report.secretScan.redactedLogLines, summary).toBeGreaterThan(0);
    expect(report.secretScan.storeObjects, summary).toBeGreaterThan(50);
    expect(
      report.violations.filter((v) => v.invariant === 'secret-leaked'),
      summary,
    ).toEqual([]);
  }, 150_000);
});
