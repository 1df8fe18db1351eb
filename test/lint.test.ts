import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsupportedProviderMessage } from '../src/api/flagger-compat.ts';
import { lintCommand } from '../src/cli/lint.ts';

const root = join(import.meta.dirname, '..');
const fixtures = 'test/fixtures/lint';

function capture(stdinText?: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => {
    out += chunk;
  });
  stderr.on('data', (chunk) => {
    err += chunk;
  });
  stdin.end(stdinText ?? '');
  return { io: { stdout, stderr, stdin, env: {} }, out: () => out, err: () => err };
}

async function lint(args: string[], stdinText?: string) {
  const t = capture(stdinText);
  const previous = process.cwd();
  process.chdir(root);
  try {
    const code = await lintCommand(args, t.io);
    return { code, out: t.out(), err: t.err(), lines: t.out().split('\n').filter(Boolean) };
  } finally {
    process.chdir(previous);
  }
}

const CANARY = `apiVersion: petrel.dev/v1alpha1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    kind: Deployment
    name: podinfo
  service:
    port: 9898
`;

describe('petrel lint', () => {
  it('passes the examples with exit 0', async () => {
    const result = await lint(['examples/']);
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
    expect(result.err).toMatch(/^0 problems in [1-9]\d* Petrel resources/);
  });

  it('names the field of a Canary with stepWeight 0 (document index counted from 1) and exits 1', async () => {
    const result = await lint([`${fixtures}/step-weight-zero.yaml`]);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      `${fixtures}/step-weight-zero.yaml#2 Canary test/podinfo: spec.analysis.stepWeight: must be 1..100 (got 0)`,
    ]);
  });

  it('names an unknown webhook type and exits 1', async () => {
    const result = await lint([`${fixtures}/unknown-webhook-type.yaml`]);
    expect(result.code).toBe(1);
    expect(result.lines).toHaveLength(1);
    expect(result.lines[0]).toMatch(
      /^test\/fixtures\/lint\/unknown-webhook-type\.yaml#1 Canary test\/podinfo: spec\.analysis\.webhooks\[0\]\.type: must be one of .*"confirm-rollout".*\(got "pre-deploy"\)$/,
    );
  });

  it('reports unparsable PromQL in a MetricTemplate with its position and exits 1', async () => {
    const result = await lint([`${fixtures}/bad-promql.yaml`]);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      `${fixtures}/bad-promql.yaml#1 MetricTemplate test/error-rate: spec.query: PromQL does not parse at line 3, column 76 of the query (near "by")`,
    ]);
  });

  it('exits 2 with the parser position for a file that is not YAML', async () => {
    const result = await lint([`${fixtures}/not-yaml.yaml`]);
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^test\/fixtures\/lint\/not-yaml\.yaml:4:1: not valid YAML \(document 1\): /m);
  });

  it('skips other kinds and empty documents silently', async () => {
    const result = await lint([`${fixtures}/valid.yaml`]);
    expect(result).toMatchObject({ code: 0, out: '' });
    expect(result.err).toContain('0 problems in 1 Petrel resource (1 file read)');
  });

  it('recurses into folders, in name order, and lets unreadable input win over problems', async () => {
    const result = await lint([fixtures]);
    expect(result.code).toBe(2);
    expect(result.lines.map((line) => line.split(' ')[0])).toEqual([
      `${fixtures}/bad-promql.yaml#1`,
      `${fixtures}/step-weight-zero.yaml#2`,
      `${fixtures}/unknown-webhook-type.yaml#1`,
    ]);
    expect(result.err).toContain('1 unreadable');
  });

  it('reads stdin for -', async () => {
    const ok = await lint(['-'], CANARY);
    expect(ok.code).toBe(0);
    const bad = await lint(['-'], `${CANARY}  provider: linkerd\n`);
    expect(bad.code).toBe(1);
    expect(bad.lines).toEqual([
      `<stdin>#1 Canary test/podinfo: spec.provider: ${unsupportedProviderMessage('linkerd')}`,
    ]);
  });

  it('lints the items of a v1 List, as kubectl get -o yaml prints them', async () => {
    const indented = (text: string) => text.replace(/^/gm, '    ').trimEnd();
    const list = `apiVersion: v1\nkind: List\nitems:\n  -\n${indented(CANARY)}\n  -\n${indented(`${CANARY}  provider: nginx\n`)}\n`;
    const result = await lint(['-'], list);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      `<stdin>#1.items[1] Canary test/podinfo: spec.provider: ${unsupportedProviderMessage('nginx')}`,
    ]);
    expect(result.err).toContain('in 2 Petrel resources');
  });

  it('refuses alias bombs with exit 2 instead of expanding them', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++)
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    const result = await lint(['-'], `${levels.join('\n')}\n`);
    expect(result.code).toBe(2);
    expect(result.err).toContain('<stdin>: document 1 cannot be expanded');
  });

  it('reads YAML 1.1 booleans as kubectl does', async () => {
    const result = await lint(['-'], `${CANARY}  suspend: yes\n  skipAnalysis: off\n`);
    expect(result).toMatchObject({ code: 0, out: '' });
    const unquoted = await lint(['-'], CANARY.replace('name: podinfo\n  namespace', 'name: y\n  namespace'));
    expect(unquoted.lines).toEqual([
      '<stdin>#1 Canary test/<no name>: metadata.name: must be a string (got true)',
    ]);
  });

  it('reports several problems in several documents, one line each', async () => {
    const text = `${CANARY}  analysis:\n    stepWeights: [10, 5]\n---\n${CANARY.replace('podinfo\n  namespace', 'other\n  namespace')}  suspend: maybe\n`;
    const result = await lint(['-'], text);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      '<stdin>#1 Canary test/podinfo: spec.analysis.stepWeights[1]: must be greater than the previous step 10 (got 5): weights must increase',
      '<stdin>#2 Canary test/other: spec.suspend: must be a boolean (got "maybe")',
    ]);
  });

  it('flags a petrel.dev object of an unknown kind or version', async () => {
    const result = await lint(
      ['-'],
      'apiVersion: petrel.dev/v1alpha1\nkind: Rollout\nmetadata:\n  name: x\n---\napiVersion: petrel.dev/v1\nkind: AlertProvider\nmetadata:\n  name: ap\nspec:\n  type: slack\n  address: https://hooks.slack.com/services/x\n',
    );
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      '<stdin>#1 Rollout x: kind: must be one of Canary, MetricTemplate, AlertProvider, ReleaseFreeze (got "Rollout")',
      '<stdin>#2 AlertProvider ap: apiVersion: must be "petrel.dev/v1alpha1" (got "petrel.dev/v1")',
    ]);
  });

  it('exits 2 for a document that is not a mapping, naming its position', async () => {
    const result = await lint(['-'], 'just a sentence\n');
    expect(result.code).toBe(2);
    expect(result.err).toContain('<stdin>:1:1: document 1 is not a Kubernetes object');
  });

  it('exits 2 for missing files and without arguments', async () => {
    const missing = await lint(['does-not-exist.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('does-not-exist.yaml: no such file or directory');
    const none = await lint([]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('usage: petrel lint');
  });

  describe('with files on disk', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'petrel-lint-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('ignores non-YAML files and hidden folders when walking a folder', async () => {
      await writeFile(join(dir, 'notes.txt'), 'kind: Canary\napiVersion: petrel.dev/v1alpha1\n');
      await writeFile(join(dir, 'canary.yml'), CANARY);
      const result = await lint([dir]);
      expect(result.err).toContain('1 Petrel resource');
    });
  });
});

describe('bin/petrel.js lint (child process)', () => {
  const run = promisify(execFile);

  it('exits 0 on the examples and 1 with the problem line on stdout', async () => {
    const ok = await run(process.execPath, ['bin/petrel.js', 'lint', 'examples/'], {
      cwd: root,
      timeout: 20_000,
    });
    expect(ok.stdout).toBe('');
    const failed = await run(
      process.execPath,
      ['bin/petrel.js', 'lint', `${fixtures}/step-weight-zero.yaml`],
      {
        cwd: root,
        timeout: 20_000,
      },
    ).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('spec.analysis.stepWeight: must be 1..100 (got 0)');
  });
});
