import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseControllerArgs } from '../src/cli/controller.ts';
import { lintCommand } from '../src/cli/lint.ts';
import { migrateCommand } from '../src/cli/migrate.ts';
import type { Command } from '../src/cli/run.ts';
import { helmTemplate } from './support/tools.ts';

function capture(stdinText = '', env: NodeJS.ProcessEnv = {}) {
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
  stdin.end(stdinText);
  return { io: { stdout, stderr, stdin, env }, out: () => out, err: () => err };
}

async function run(command: Command, args: string[], stdinText = '', env: NodeJS.ProcessEnv = {}) {
  const t = capture(stdinText, env);
  const code = await command(args, t.io);
  return { code, out: t.out(), err: t.err(), errLines: t.err().split('\n').filter(Boolean) };
}

const V1ALPHA3 = `# Deployed by Flux
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: blue
---
# the canary of the podinfo app
apiVersion: flagger.app/v1alpha3
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  service:
    port: 9898
  canaryAnalysis:
    interval: 1m # one step a minute
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      # minimum req success rate (non 5xx responses)
      threshold: 99
      interval: 1m
    - name: request-duration
      threshold: 500
      interval: 30s
    - name: "404s percentage"
      threshold: 5
      query: |
        100 - sum(rate(istio_requests_total{response_code!="404"}[1m])) / sum(rate(istio_requests_total[1m])) * 100
`;

describe('petrel migrate', () => {
  it('rewrites a v1alpha3 Canary, keeps comments and the other documents, and lint then passes', async () => {
    const result = await run(migrateCommand, ['-'], V1ALPHA3);
    expect(result.code).toBe(0);
    expect(result.out).toContain('# Deployed by Flux');
    expect(result.out).toContain('# the canary of the podinfo app');
    expect(result.out).toContain('# minimum req success rate (non 5xx responses)');
    expect(result.out).toContain('interval: 1m # one step a minute');
    const docs = parseAllDocuments(result.out).map((d) => d.toJS());
    expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual([
      'v1 ConfigMap',
      'petrel.dev/v1alpha1 Canary',
      'petrel.dev/v1alpha1 MetricTemplate',
    ]);
    expect(docs[0]).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings' },
      data: { mode: 'blue' },
    });
    expect(docs[1].spec).not.toHaveProperty('canaryAnalysis');
    expect(docs[1].spec.analysis.metrics).toEqual([
      { name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' },
      { name: 'request-duration', thresholdRange: { max: 500 }, interval: '30s' },
      {
        name: '404s percentage',
        thresholdRange: { max: 5 },
        templateRef: { name: 'podinfo-404s-percentage' },
      },
    ]);
    expect(docs[2]).toMatchObject({
      metadata: { name: 'podinfo-404s-percentage', namespace: 'test' },
      spec: { provider: { type: 'prometheus' }, query: expect.stringContaining('istio_requests_total') },
    });
    expect(result.errLines).toContain(
      '<stdin>#2 Canary test/podinfo: apiVersion: flagger.app/v1alpha3 -> petrel.dev/v1alpha1',
    );
    expect(result.errLines).toContain(
      '<stdin>#2 Canary test/podinfo: spec.canaryAnalysis: renamed to spec.analysis',
    );
    expect(result.errLines).toContain(
      '<stdin>#2 Canary test/podinfo: spec.analysis.metrics[0].threshold: 99 -> thresholdRange.min: 99',
    );
    const lint = await run(lintCommand, ['-'], result.out);
    expect(lint.out).toBe('');
    expect(lint.code).toBe(0);
  });

  it('exits 1 and names what has no equivalent, leaving it in place for the user to decide', async () => {
    const nginx = `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  provider: nginx
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: podinfo}
  service: {port: 80}
  analysis: {interval: 1m, stepWeight: 10}
`;
    const result = await run(migrateCommand, ['-'], nginx);
    expect(result.code).toBe(1);
    expect(result.out).toContain('ingressRef');
    expect(result.errLines.filter((l) => l.includes(': no equivalent: '))).toEqual([
      expect.stringMatching(
        /^<stdin>#1 Canary test\/podinfo: no equivalent: spec\.provider: not supported by Petrel: provider nginx/,
      ),
      expect.stringMatching(
        /^<stdin>#1 Canary test\/podinfo: no equivalent: spec\.ingressRef: not supported by Petrel: /,
      ),
    ]);
    expect(result.err).toMatch(
      /1 Flagger object migrated with 1 change in 1 file; 2 fields with no equivalent/,
    );
  });

  it('rewrites AlertProviders and MetricTemplates too, and renames Rocket.Chat to its Slack-compatible type', async () => {
    const text = `apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata: {name: chat, namespace: flagger}
spec: {type: rocket, address: "https://rocket.example.com/hooks/x"}
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: latency, namespace: flagger}
spec:
  provider: {type: prometheus, address: "http://prometheus:9090"}
  query: histogram_quantile(0.99, sum(rate(x_bucket{namespace="{{ namespace }}"}[{{ interval }}])) by (le))
`;
    const result = await run(migrateCommand, ['-'], text);
    expect(result.code).toBe(0);
    const docs = parseAllDocuments(result.out).map((d) => d.toJS());
    expect(docs.map((d) => d.apiVersion)).toEqual(['petrel.dev/v1alpha1', 'petrel.dev/v1alpha1']);
    expect(docs[0].spec.type).toBe('slack');
    expect(result.errLines).toContain('<stdin>#1 AlertProvider flagger/chat: spec.type: rocket -> slack');
  });

  describe('on files', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'petrel-migrate-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('--write rewrites only the files with Flagger objects, and a folder is searched', async () => {
      const other = 'apiVersion: v1\nkind: Service\nmetadata:   {name: x}\n';
      await writeFile(join(dir, 'canary.yaml'), V1ALPHA3);
      await writeFile(join(dir, 'service.yml'), other);
      const result = await run(migrateCommand, ['--write', dir]);
      expect(result.code).toBe(0);
      expect(result.out).toBe('');
      expect(await readFile(join(dir, 'service.yml'), 'utf8')).toBe(other);
      const rewritten = await readFile(join(dir, 'canary.yaml'), 'utf8');
      expect(rewritten).toContain('apiVersion: petrel.dev/v1alpha1');
      expect(rewritten).toContain('# the canary of the podinfo app');
      const again = await run(migrateCommand, ['--write', dir]);
      expect(again.err).toMatch(/^0 Flagger objects migrated/m);
    });

    it('refuses --write with stdin, and an unreadable path exits 2', async () => {
      expect((await run(migrateCommand, ['--write', '-'], V1ALPHA3)).code).toBe(2);
      const missing = await run(migrateCommand, [join(dir, 'nope.yaml')]);
      expect(missing.code).toBe(2);
      expect(missing.err).toContain('no such file or directory');
    });
  });
});

describe('petrel lint on Flagger objects', () => {
  it('names a flagger.app object and the command that rewrites it', async () => {
    const result = await run(lintCommand, ['-'], V1ALPHA3);
    expect(result.code).toBe(1);
    expect(result.out.trim()).toBe(
      '<stdin>#2 Canary test/podinfo: apiVersion: flagger.app/v1alpha3 is a Flagger Canary, which Petrel does not read: rewrite it with `petrel migrate -`',
    );
    expect(result.err).toContain('1 Flagger object to migrate');
  });
});

const WEIGHTED = `apiVersion: petrel.dev/v1alpha1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {kind: Deployment, name: podinfo}
  service: {port: 80}
  analysis: {stepWeight: 10}
`;

describe('the default provider: one setting for the controller, the chart and lint', () => {
  it('lint --mesh-provider (or PETREL_MESH_PROVIDER) judges Canaries without spec.provider as the controller will', async () => {
    expect((await run(lintCommand, ['-'], WEIGHTED)).code).toBe(0);
    const flag = await run(lintCommand, ['--mesh-provider', 'kubernetes', '-'], WEIGHTED);
    expect(flag.code).toBe(1);
    expect(flag.out).toContain('spec.analysis.iterations: required with provider kubernetes');
    const env = await run(lintCommand, ['-'], WEIGHTED, { PETREL_MESH_PROVIDER: 'kubernetes' });
    expect(env.out).toBe(flag.out);
    const explicit = await run(
      lintCommand,
      ['--mesh-provider', 'kubernetes', '-'],
      `${WEIGHTED}  provider: istio\n`,
    );
    expect(explicit.code).toBe(0);
    const bad = await run(lintCommand, ['--mesh-provider', 'linkerd', '-'], WEIGHTED);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--mesh-provider: must be one of istio, kubernetes');
  });

  it('the controller takes it from --mesh-provider or PETREL_MESH_PROVIDER', () => {
    expect(parseControllerArgs(['--mesh-provider', 'kubernetes'], {}).meshProvider).toBe('kubernetes');
    expect(parseControllerArgs([], { PETREL_MESH_PROVIDER: 'kubernetes' }).meshProvider).toBe('kubernetes');
    expect(parseControllerArgs([], {}).meshProvider).toBe('istio');
  });

  it('the chart passes meshProvider to the controller as PETREL_MESH_PROVIDER', async () => {
    type Doc = {
      kind: string;
      spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
    };
    const docs = await helmTemplate<Doc>({
      release: 'petrel',
      namespace: 'petrel',
      set: ['meshProvider=kubernetes'],
    });
    const env = docs.find((d) => d.kind === 'Deployment')?.spec?.template?.spec?.containers?.[0]?.env ?? [];
    expect(env).toContainEqual({ name: 'PETREL_MESH_PROVIDER', value: 'kubernetes' });
  });
});
