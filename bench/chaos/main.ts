// Run: npm run chaos -- [--seed N] [--rollouts N] [--concurrency N] [--failover] [--out FILE]
// Rollouts under SIGKILLs, API faults, Prometheus outages, mutated specs and deletions; checks the
// invariants of docs/reliability.md and exits 1 when any is violated.
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type ChaosReport, runChaos } from './run.ts';

const USAGE = `usage: npm run chaos -- [options]
  --seed N          the plan's seed (default: from the clock; printed, so a run can be replayed)
  --rollouts N      rollouts, 1-1000 (default 30)
  --concurrency N   rollouts in flight at once, 1-20 (default 3)
  --failover        two controller replicas with leader election; kills hit the leader
  --out FILE        the JSON report (default chaos-report-<seed>.json)
  --logs FILE       every controller log line, prefixed with its replica (default chaos-logs-<seed>.txt)
`;

function whole(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name}: a whole number from ${min} to ${max}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

export function renderSummary(r: ChaosReport): string {
  const outcomes = new Map<string, number>();
  for (const o of r.outcomes) {
    const key = `${o.expected} -> ${o.deleted ? 'deleted' : (o.finalPhase ?? 'none')}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  const lines = [
    `chaos seed ${r.seed}: ${r.rollouts} rollouts (${r.concurrency} at once${r.failover ? ', two replicas with leader election' : ''}) in ${(r.durationMs / 1000).toFixed(0)} s`,
    `outcomes: ${[...outcomes].map(([k, n]) => `${k}: ${n}`).join('; ')}`,
    `faults: ${r.faults.kills} SIGKILLs (${Object.entries(r.faults.killsByCause)
      .map(([k, n]) => `${k} ${n}`)
      .join(
        ', ',
      )}), ${r.faults.apiErrorsInjected} injected 500s, ${r.faults.conflictsInjected} 409s, ${r.faults.watchDrops} watch drops, ${r.faults.goneEvents} 410 rounds, ${r.faults.prometheusKills} Prometheus kills, ${r.faults.prometheusQueriesCut} Prometheus queries cut, ${r.faults.mutantsPosted} mutated specs (${r.faults.mutantsRefusedByApiServer} refused by the API server), ${r.faults.canariesDeleted} Canaries deleted, ${r.faults.alertPostsRefused}/${r.faults.alertPosts} alert posts answered 500`,
    ...(r.failover
      ? [
          `takeovers with a synced standby: ${r.takeoversMs.length}${r.takeoversMs.length ? `, longest ${Math.max(...r.takeoversMs)} ms` : ''}; with the other replica still starting: ${r.takeoversWithoutReadyStandbyMs.length}${r.takeoversWithoutReadyStandbyMs.length ? `, longest ${Math.max(...r.takeoversWithoutReadyStandbyMs)} ms` : ''}`,
        ]
      : []),
    `secret scan: ${r.secretScan.logLines} log lines (${r.secretScan.redactedLogLines} with a value scrubbed), ${r.secretScan.storeObjects} stored objects: ${r.secretScan.hits} with a secret`,
    `violations: ${r.violations.length} (${Object.entries(r.violationCounts)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')})`,
    ...r.violations
      .slice(0, 40)
      .map((v) => `  ${v.invariant}${v.namespace ? ` ${v.namespace}` : ''}: ${v.detail}`),
    ...(r.violations.length ? [`replay: ${r.replay}`] : []),
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      rollouts: { type: 'string' },
      concurrency: { type: 'string' },
      failover: { type: 'boolean' },
      out: { type: 'string' },
      logs: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const seed = whole('seed', values.seed, Date.now() % 1_000_000, 0, 2 ** 31 - 1);
  const rollouts = whole('rollouts', values.rollouts, 30, 1, 1000);
  const concurrency = whole('concurrency', values.concurrency, 3, 1, 20);
  const out = values.out ?? `chaos-report-${seed}.json`;
  const logs = createWriteStream(values.logs ?? `chaos-logs-${seed}.txt`);
  console.log(`chaos: seed ${seed}, ${rollouts} rollouts`);
  const report = await runChaos({
    controllerLog: (line, identity) => logs.write(`${identity} ${line}\n`),
    seed,
    rollouts,
    concurrency,
    failover: values.failover ?? false,
    progress: (line) => console.log(line),
  });
  await new Promise((resolve) => logs.end(resolve));
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(renderSummary(report));
  console.log(`report written to ${out}`);
  return report.violations.length > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
