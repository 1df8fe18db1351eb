import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.ts';

function io(env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += c;
  });
  stderr.on('data', (c) => {
    err += c;
  });
  return { io: { stdout, stderr, stdin: new PassThrough(), env }, out: () => out, err: () => err };
}

describe('petrel get, explain, retry: command lines refused before any request', () => {
  it.each([
    [['get'], 'give a kind: canary NAME or canaries (got nothing)'],
    [['get', 'pods'], 'give a kind: canary NAME or canaries (got pods)'],
    [['get', 'canary', 'a', 'b'], "unexpected argument 'b'"],
    [['get', 'canary', 'podinfo', '-A'], 'a Canary NAME and -A do not go together'],
    [['get', 'canaries', '-o', 'xml'], '-o must be one of json, yaml, name (got xml)'],
    [['get', 'canaries', '--frobnicate'], "Unknown option '--frobnicate'"],
    [['explain'], 'give exactly one Canary name'],
    [['explain', 'podinfo', '-o', 'name'], '-o must be json or yaml (got name)'],
    [['retry'], 'give exactly one Canary name'],
  ])('%j: exit 2, the reason and the usage on stderr', async (args, message) => {
    const t = io();
    expect(await runCli(args, t.io)).toBe(2);
    expect(t.err()).toContain(message);
    expect(t.err()).toContain('usage: petrel');
    expect(t.out()).toBe('');
  });

  it('answers --help on stdout with exit 0', async () => {
    for (const command of ['get', 'explain', 'retry', 'completion']) {
      const t = io();
      expect(await runCli([command, '--help'], t.io)).toBe(0);
      expect(t.out()).toContain(`petrel ${command}`);
    }
  });

  it('names a missing kubeconfig file or context (exit 2)', async () => {
    const missing = io();
    expect(await runCli(['get', 'canaries', '--kubeconfig', '/nonexistent/config'], missing.io)).toBe(2);
    expect(missing.err()).toContain('kubeconfig file /nonexistent/config does not exist');
    const dir = await mkdtemp(join(tmpdir(), 'petrel-kubeconfig-'));
    try {
      const config = join(dir, 'config');
      await writeFile(
        config,
        'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
      );
      const context = io({ KUBECONFIG: config });
      expect(await runCli(['explain', 'podinfo', '--context', 'prod'], context.io)).toBe(2);
      expect(context.err()).toContain('kubeconfig has no context named "prod"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says the API server cannot be reached, exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'petrel-kubeconfig-'));
    try {
      const config = join(dir, 'config');
      await writeFile(
        config,
        'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:9", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
      );
      const t = io({ KUBECONFIG: config });
      expect(await runCli(['get', 'canaries'], t.io)).toBe(1);
      expect(t.err()).toMatch(
        /^petrel get: cannot reach the Kubernetes API server \(.*ECONNREFUSED.*\): check --kubeconfig and --context\n$/,
      );
      expect(t.out()).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
