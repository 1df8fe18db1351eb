import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NOT_SUPPORTED } from '../src/api/flagger-compat.ts';
import { type LintReport, lintSource } from '../src/cli/lint.ts';
import { type MigrationReport, migrateSource } from '../src/cli/migrate.ts';

/**
 * The compatibility check: every Flagger document in test/fixtures/flagger (Flagger's docs, e2e tests
 * and examples, and a GitOps example repository) goes through `petrel migrate` and then `petrel lint`,
 * with the controller's provider set as Flagger's docs assume it (the folder name). A document is
 * accepted when lint finds nothing; a refused one must be refused for a provider or feature Petrel
 * states it does not support, never for a field lint calls a misspelling.
 */

const ROOT = join(import.meta.dirname, 'fixtures/flagger');

function meshProviderFor(folder: string): string | undefined {
  const base = folder.replace(/-v1alpha3$/, '');
  if (base === 'metrictemplates' || base === 'alertproviders') return undefined;
  return base === 'gatewayapi' ? 'gatewayapi:v1' : base;
}

interface DocumentVerdict {
  file: string;
  problems: string[];
}

function emptyMigration(): MigrationReport {
  return { changes: [], remaining: [], unreadable: [], objects: 0, outputs: [] };
}

/** Migrates and lints every fixture; one verdict per fixture file (each holds one Flagger document). */
function runCorpus(): DocumentVerdict[] {
  const verdicts: DocumentVerdict[] = [];
  for (const folder of readdirSync(ROOT).sort()) {
    const meshProvider = meshProviderFor(folder);
    for (const file of readdirSync(join(ROOT, folder)).sort()) {
      const name = `${folder}/${file}`;
      const migration = emptyMigration();
      migrateSource({ name, text: readFileSync(join(ROOT, name), 'utf8') }, migration, { meshProvider });
      expect(migration.unreadable, name).toEqual([]);
      expect(migration.objects, `${name} holds one Flagger object`).toBe(1);
      const lint: LintReport = { problems: [], unreadable: [], resources: 0, files: 0 };
      // Flagger's provider for the folder fills Canaries that set none, as the controller's --mesh-provider
      // does; a provider Petrel lacks is then refused by name, as the controller would refuse it.
      for (const output of migration.outputs) lintSource(output, lint, { meshProvider });
      expect(lint.unreadable, name).toEqual([]);
      verdicts.push({ file: name, problems: lint.problems });
    }
  }
  return verdicts;
}

/** The stated reason a document is refused: its first "not supported by Petrel" problem. */
function reasonOf(problems: string[]): string | undefined {
  const stated = problems.find((p) => p.includes(`${NOT_SUPPORTED}:`));
  if (!stated) return undefined;
  const field = /: (spec\.[^:]+): not supported by Petrel: (.*)$/.exec(stated);
  if (!field) return stated;
  const what = field[2]!.split(/[;:(]/)[0]!.trim();
  return `${field[1]!.replace(/\[\d+\]/g, '[]')}: ${what}`;
}

/** Istio documents refused for a Flagger feature Petrel states it does not do (docs/flagger.md). */
const STATED_ISTIO_REFUSALS = new Set([
  // sessionAffinity.primaryCookieName: keeping users on the primary by cookie.
  'istio/test-istio-test-session-affinity-2-1-canary.yaml',
]);

describe('Flagger corpus: petrel migrate, then petrel lint', () => {
  const verdicts = runCorpus();
  const accepted = verdicts.filter((v) => v.problems.length === 0);
  const refused = verdicts.filter((v) => v.problems.length > 0);

  it('reports accepted and refused counts, by reason', () => {
    const byReason = new Map<string, number>();
    for (const v of refused) {
      const reason = reasonOf(v.problems) ?? 'UNSTATED';
      byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    }
    const lines = [...byReason]
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `  ${String(n).padStart(3)}  ${r}`);
    console.log(
      `Flagger corpus: ${verdicts.length} documents, ${accepted.length} accepted, ${refused.length} refused\n${lines.join('\n')}`,
    );
    expect(verdicts.length).toBeGreaterThanOrEqual(100);
  });

  it('refuses a document only for a provider or feature Petrel states it does not support', () => {
    const unstated = refused
      .filter((v) => reasonOf(v.problems) === undefined)
      .map((v) => `${v.file}: ${v.problems.join(' | ')}`);
    expect(unstated).toEqual([]);
  });

  it('never calls a field a Flagger user wrote on purpose a misspelling', () => {
    const spelling = refused.flatMap((v) =>
      v.problems.filter((p) => p.includes('check its spelling')).map((p) => `${v.file}: ${p}`),
    );
    expect(spelling).toEqual([]);
  });

  it('accepts every Istio and Kubernetes Deployment document, and every Prometheus MetricTemplate', () => {
    const mustPass = verdicts.filter(
      (v) =>
        /^istio(-v1alpha3)?\//.test(v.file) ||
        (/^kubernetes(-v1alpha3)?\//.test(v.file) &&
          !/daemonset|keda|svc|prometheus-operator/.test(v.file)) ||
        (/^metrictemplates\//.test(v.file) &&
          /type: prometheus/.test(readFileSync(join(ROOT, v.file), 'utf8'))),
    );
    const failing = mustPass
      .filter((v) => v.problems.length > 0 && !STATED_ISTIO_REFUSALS.has(v.file))
      .map((v) => `${v.file}: ${v.problems.join(' | ')}`);
    expect(failing).toEqual([]);
    expect(mustPass.length).toBeGreaterThanOrEqual(40);
  });

  it('accepts Gateway API session affinity: the document is refused for primaryCookieName alone, and passes without it', () => {
    const name = 'gatewayapi/test-gatewayapi-test-session-affinity-1-1-canary.yaml';
    const verdict = verdicts.find((v) => v.file === name);
    expect(verdict?.problems.map((p) => reasonOf([p]))).toEqual([
      'spec.analysis.sessionAffinity.primaryCookieName: a cookie that keeps users on the primary',
    ]);
    const text = readFileSync(join(ROOT, name), 'utf8').replace(/^\s*primaryCookieName:.*\n/m, '');
    const migration = emptyMigration();
    migrateSource({ name, text }, migration, { meshProvider: 'gatewayapi:v1' });
    const lint: LintReport = { problems: [], unreadable: [], resources: 0, files: 0 };
    for (const output of migration.outputs) lintSource(output, lint, { meshProvider: 'gatewayapi:v1' });
    expect(lint.problems).toEqual([]);
    expect(lint.resources).toBe(1);
  });
});
