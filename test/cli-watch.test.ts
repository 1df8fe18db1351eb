import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../src/cli/run.ts';
import type { RunningController } from '../src/controller/controller.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  TrafficLoop,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';
import { kubectlPath } from './support/tools.ts';

const env = useE2e({ deploymentReadyDelayMs: 300 });
const PETREL_BIN = fileURLToPath(new URL('../bin/petrel.js', import.meta.url));
const PLUGIN_BIN = fileURLToPath(new URL('../bin/kubectl-petrel.js', import.meta.url));
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes is the point
const ESCAPE = /\u001b/;
const WEIGHT_LINE = /^Weight\s+\[[#-]+\]\s+(\d+)%/gm;

function cliIo(extraEnv: NodeJS.ProcessEnv = {}, tty = false) {
  const stdout = Object.assign(new PassThrough(), tty ? { isTTY: true } : {});
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += c;
  });
  stderr.on('data', (c) => {
    err += c;
  });
  const controller = new AbortController();
  return {
    io: { stdout, stderr, stdin: new PassThrough(), env: { ...extraEnv }, signal: controller.signal },
    out: () => out,
    err: () => err,
    stop: () => controller.abort(),
  };
}

/** `petrel ARGS` as its own process, as a user runs it; stdout is a pipe, not a terminal. */
function spawnPetrel(args: string[]): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [PETREL_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c) => {
    out += c;
  });
  child.stderr?.on('data', (c) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** The canary's 5xx rate over the check's 10s window, from the real Prometheus. */
async function canaryErrorRate(namespace: string): Promise<number> {
  const query = `sum(rate(istio_requests_total{destination_workload_namespace="${namespace}",destination_workload="podinfo",response_code=~"5.*"}[10s]))`;
  const res = await fetch(`${env.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1] ?? 0);
}

function weightsShown(text: string): number[] {
  const seen: number[] = [];
  for (const m of text.matchAll(WEIGHT_LINE)) {
    const w = Number(m[1]);
    if (seen.at(-1) !== w) seen.push(w);
  }
  return seen;
}

describe('petrel get, explain, retry against the sandbox with the controller', () => {
  const cleanups = useCleanups();

  async function prepare(namespace: string, canaryErrorRatio = 0) {
    await createNamespace(env.api, namespace);
    const traffic = new TrafficLoop(env.prometheusUrl, namespace);
    traffic.setErrorRatio('podinfo', canaryErrorRatio);
    traffic.start();
    cleanups.push(() => traffic.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(namespace, 'podinfo:1.0'));
    const controller: RunningController = runController(env, namespace, testLogger().logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(RESOURCES.canary, podinfoCanary(namespace) as unknown as KubeObject);
    await waitForPhase(env.api, namespace, ['Initialized']);
    return { traffic };
  }

  it('get --watch redraws every step 10..50 up to Succeeded, survives a dropped watch, and exits 0 on Ctrl-C', async () => {
    const ns = 'cli-watch';
    await prepare(ns);
    const watch = spawnPetrel([
      'get',
      'canary',
      'podinfo',
      '-n',
      ns,
      '--watch',
      '--kubeconfig',
      env.sandbox.kubeconfigPath,
    ]);
    cleanups.push(async () => {
      if (watch.child.exitCode === null) watch.child.kill('SIGKILL');
    });
    await waitFor('the first frame', () => watch.out().includes('Phase       Initialized'), {
      timeoutMs: 30_000,
    });
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitFor('weight 20 on screen', () => weightsShown(watch.out()).includes(20), { timeoutMs: 30_000 });
    const beforeDrop = watch.out().length;
    env.sandbox.faults.dropWatches();
    await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    await waitFor('Succeeded on screen', () => watch.out().includes('Phase       Succeeded'), {
      timeoutMs: 15_000,
    });
    const out = watch.out();
    expect(weightsShown(out).filter((w) => w > 0)).toEqual([10, 20, 30, 40, 50]);
    expect(weightsShown(out.slice(beforeDrop))).toEqual(expect.arrayContaining([30, 40, 50]));
    expect(out).toMatch(/pass\s+request-success-rate\s+100\s+threshold >= 99/);
    expect(out).toContain('Events');
    expect(out).toContain('NewRevision');
    expect(out).not.toMatch(ESCAPE);
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
    expect(watch.err()).toBe('');
  }, 90_000);

  it('explain after a rollback names the failed check and its value; retry starts it again and it promotes', async () => {
    const ns = 'cli-explain';
    const { traffic } = await prepare(ns, 0.05);
    await setImage(env.api, ns, 'podinfo:2.0-bad');
    const failed = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(failed.status?.phase).toBe('Failed');

    const kubeconfig = { KUBECONFIG: env.sandbox.kubeconfigPath };
    const explain = cliIo(kubeconfig);
    expect(await runCli(['explain', 'podinfo', '-n', ns], explain.io)).toBe(0);
    const text = explain.out();
    expect(text).toContain(`Canary ${ns}/podinfo is Failed`);
    expect(text).toMatch(/FAIL\s+request-success-rate\s+95\s+threshold >= 99/);
    expect(text).toMatch(/request-success-rate 95%? < min 99/);
    expect(text).toContain(`petrel retry podinfo -n ${ns}`);
    expect(text).not.toMatch(ESCAPE);

    const asJson = cliIo(kubeconfig);
    expect(await runCli(['explain', 'podinfo', '-n', ns, '-o', 'json'], asJson.io)).toBe(0);
    const explanation = JSON.parse(asJson.out());
    expect(explanation.view.phase).toBe('Failed');
    expect(explanation.evidence.checks[0]).toMatchObject({
      metric: 'request-success-rate',
      verdict: 'fail',
      value: 95,
    });

    // The fault is fixed without a new revision: retry the same one.
    traffic.setErrorRatio('podinfo', 0);
    await waitFor(
      'the errors to leave the 10s window of the check',
      () => canaryErrorRate(ns).then((rate) => rate === 0),
      {
        timeoutMs: 30_000,
        intervalMs: 500,
      },
    );
    const retry = cliIo(kubeconfig);
    expect(await runCli(['retry', 'podinfo', '-n', ns, '--by', 'alice'], retry.io)).toBe(0);
    expect(retry.out()).toContain('retry requested by alice');
    await waitFor(
      'the retry to start',
      async () => ((await getCanary(env.api, ns)).status?.phase === 'Progressing' ? true : undefined),
      {
        timeoutMs: 15_000,
      },
    );
    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    expect(done.metadata?.annotations?.['petrel.dev/action']).toBeUndefined();

    // A retry of a canary that did not fail is refused by the CLI, before any annotation is set.
    const refused = cliIo(kubeconfig);
    expect(await runCli(['retry', 'podinfo', '-n', ns], refused.io)).toBe(1);
    expect(refused.err()).toContain('is Succeeded: only a Failed rollout can be retried');
    expect((await getCanary(env.api, ns)).metadata?.annotations?.['petrel.dev/action']).toBeUndefined();
  }, 120_000);

  it('get and explain name the freeze that holds a new revision and when it ends', async () => {
    const ns = 'cli-freeze';
    await prepare(ns);
    const kubeconfig = { KUBECONFIG: env.sandbox.kubeconfigPath };
    const freeze = cliIo(kubeconfig);
    expect(
      await runCli(['freeze', 'year-end', '-n', ns, '--until', '1h', '--reason', 'holidays'], freeze.io),
    ).toBe(0);
    await setImage(env.api, ns, 'podinfo:2.0');
    await waitForPhase(env.api, ns, ['Waiting']);
    const get = cliIo(kubeconfig);
    expect(await runCli(['get', 'canary', 'podinfo', '-n', ns], get.io)).toBe(0);
    expect(get.out()).toContain('freeze: new rollouts are frozen by ReleaseFreeze year-end (holidays)');
    expect(get.out()).toContain('Revisions   target a new revision (waiting to start)');
    expect(get.out()).toMatch(
      /Window {6}may advance, may not start; next opening \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
    );
    const explain = cliIo(kubeconfig);
    expect(await runCli(['explain', 'podinfo', '-n', ns], explain.io)).toBe(0);
    expect(explain.out()).toMatch(
      /The rollout starts at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(.*\), when the freeze ends\./,
    );
    const table = cliIo(kubeconfig);
    expect(await runCli(['get', 'canaries', '-n', ns], table.io)).toBe(0);
    expect(table.out()).toMatch(
      /podinfo\s+Waiting\s+0%\s+0\/5\s+0\/2\s+\S+\s+new rollouts are frozen by ReleaseFreeze year-end/,
    );
  }, 60_000);

  describe('on the canaries left by the rollouts above', () => {
    const kubeconfig = () => ({ KUBECONFIG: env.sandbox.kubeconfigPath });

    it('get canaries -o json and -o yaml parse; -A shows every namespace', async () => {
      const json = cliIo(kubeconfig());
      expect(await runCli(['get', 'canaries', '-A', '-o', 'json'], json.io)).toBe(0);
      const doc = JSON.parse(json.out());
      const names = doc.items.map((v: { namespace: string; name: string }) => `${v.namespace}/${v.name}`);
      expect(names).toEqual(expect.arrayContaining(['cli-watch/podinfo', 'cli-explain/podinfo']));
      const one = cliIo(kubeconfig());
      expect(await runCli(['get', 'canary', 'podinfo', '-n', 'cli-watch', '-o', 'json'], one.io)).toBe(0);
      expect(JSON.parse(one.out())).toMatchObject({
        phase: 'Succeeded',
        step: { total: 5, schedule: [10, 20, 30, 40, 50] },
      });
      const table = cliIo(kubeconfig());
      expect(await runCli(['get', 'canaries', '-A'], table.io)).toBe(0);
      expect(table.out()).toMatch(/^NAMESPACE\s+NAME\s+PHASE\s+WEIGHT/);
      expect(table.out()).toMatch(/cli-watch\s+podinfo\s+Succeeded\s+0%/);
      expect(table.out()).not.toMatch(ESCAPE);
    });

    it('colours a terminal and nothing else', async () => {
      const tty = cliIo(kubeconfig(), true);
      expect(await runCli(['get', 'canary', 'podinfo', '-n', 'cli-watch'], tty.io)).toBe(0);
      expect(tty.out()).toMatch(ESCAPE);
      const noColor = cliIo({ ...kubeconfig(), NO_COLOR: '1' }, true);
      expect(await runCli(['get', 'canary', 'podinfo', '-n', 'cli-watch'], noColor.io)).toBe(0);
      expect(noColor.out()).not.toMatch(ESCAPE);
    });

    it('says clearly when a canary does not exist, and exits 1 (get, get --watch, explain, retry)', async () => {
      for (const args of [
        ['get', 'canary', 'nope', '-n', 'cli-watch'],
        ['get', 'canary', 'nope', '-n', 'cli-watch', '--watch'],
        ['explain', 'nope', '-n', 'cli-watch'],
        ['retry', 'nope', '-n', 'cli-watch'],
      ]) {
        const t = cliIo(kubeconfig());
        expect(await runCli(args, t.io), args.join(' ')).toBe(1);
        expect(t.err()).toContain('cli-watch/nope was not found');
        expect(t.out()).toBe('');
      }
    });

    it('a watch in the same process stops cleanly on its signal with exit 0, drawing in place on a terminal', async () => {
      const t = cliIo(kubeconfig(), true);
      const running = runCli(['get', 'canaries', '-n', 'cli-watch', '--watch'], t.io);
      await waitFor('the table', () => t.out().includes('podinfo'));
      t.stop();
      expect(await running).toBe(0);
      expect(t.out()).toContain('\u001b[H');
    });

    it('works as a kubectl plugin through a real kubectl, with --kubeconfig, --context and the context namespace', async () => {
      const kubectl = await kubectlPath();
      const dir = await mkdtemp(join(tmpdir(), 'petrel-plugin-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const bin = join(dir, 'bin');
      await import('node:fs/promises').then((fs) => fs.mkdir(bin));
      await symlink(PLUGIN_BIN, join(bin, 'kubectl-petrel'));
      // Two contexts: the current one points nowhere; `sandbox` is the sandbox, namespace cli-watch.
      const server = env.sandbox.kubeConfig().getCurrentCluster()?.server;
      const config = join(dir, 'kubeconfig');
      await writeFile(
        config,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            { name: 'sandbox', cluster: { server, 'insecure-skip-tls-verify': true } },
            { name: 'nowhere', cluster: { server: 'http://127.0.0.1:9', 'insecure-skip-tls-verify': true } },
          ],
          users: [{ name: 'me', user: {} }],
          contexts: [
            { name: 'sandbox', context: { cluster: 'sandbox', user: 'me', namespace: 'cli-watch' } },
            { name: 'nowhere', context: { cluster: 'nowhere', user: 'me' } },
          ],
          'current-context': 'nowhere',
        }),
      );
      const run = (args: string[]) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(kubectl, args, {
            env: { PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: dir },
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (c) => {
            stdout += c;
          });
          child.stderr.on('data', (c) => {
            stderr += c;
          });
          child.once('exit', (code) => resolve({ code, stdout, stderr }));
        });
      const listed = await run(['petrel', 'get', 'canaries', '--kubeconfig', config, '--context', 'sandbox']);
      expect(listed.stderr).toBe('');
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^NAME\s+PHASE/);
      expect(listed.stdout).toMatch(/podinfo\s+Succeeded/);
      const other = await run([
        'petrel',
        'get',
        'canary',
        'podinfo',
        '-n',
        'cli-explain',
        '--kubeconfig',
        config,
        '--context',
        'sandbox',
      ]);
      expect(other.code).toBe(0);
      expect(other.stdout).toContain('cli-explain/podinfo');
      const plugins = await run(['plugin', 'list']);
      expect(plugins.stdout).toContain('kubectl-petrel');
    }, 60_000);
  });
});

describe('petrel completion', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'petrel-completion-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a bash script bash accepts, completing commands and canary names', async () => {
    const t = cliIo();
    expect(await runCli(['completion', 'bash'], t.io)).toBe(0);
    const script = t.out();
    expect(script).toContain('complete -F _petrel petrel');
    expect(script).toContain('complete -F _petrel kubectl-petrel');
    expect(script).toContain(`get canaries "\${args[@]}" -o name`);
    const file = join(dir, 'petrel.bash');
    await writeFile(file, script);
    // Syntax, then a completion of the first word in a real bash.
    const check = spawn('bash', [
      '-c',
      `source ${file} && COMP_WORDS=(petrel ex) COMP_CWORD=1 && _petrel && echo "\${COMPREPLY[@]}"`,
    ]);
    let out = '';
    check.stdout.on('data', (c) => {
      out += c;
    });
    const code = await new Promise<number | null>((resolve) => check.once('exit', resolve));
    expect(code).toBe(0);
    expect(out.trim()).toBe('explain');
  });

  it('completes Canary names by asking petrel itself, with the -n and --context of the line', async () => {
    const t = cliIo();
    await runCli(['completion', 'bash'], t.io);
    const file = join(dir, 'petrel-names.bash');
    await writeFile(file, t.out());
    // A stand-in petrel on the PATH: records its arguments, answers as get canaries -o name does.
    const bin = join(dir, 'bin');
    await import('node:fs/promises').then((fs) => fs.mkdir(bin, { recursive: true }));
    const fake = join(bin, 'petrel');
    await writeFile(
      fake,
      `#!/bin/sh\necho "$@" > ${join(dir, 'args')}\necho canary.petrel.dev/podinfo\necho canary.petrel.dev/payments\n`,
      { mode: 0o755 },
    );
    const line = 'COMP_WORDS=(petrel explain -n demo --context prod p) COMP_CWORD=6';
    const check = spawn('bash', ['-c', `source ${file} && ${line} && _petrel && echo "\${COMPREPLY[@]}"`], {
      env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    let out = '';
    check.stdout.on('data', (c) => {
      out += c;
    });
    expect(await new Promise<number | null>((resolve) => check.once('exit', resolve))).toBe(0);
    expect(out.trim().split(' ').sort()).toEqual(['payments', 'podinfo']);
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(join(dir, 'args'), 'utf8')).trim()).toBe(
      'get canaries -n demo --context prod -o name',
    );
  });

  it('prints a zsh script, and refuses another shell with exit 2', async () => {
    const zsh = cliIo();
    expect(await runCli(['completion', 'zsh'], zsh.io)).toBe(0);
    expect(zsh.out()).toMatch(/^#compdef petrel kubectl-petrel/);
    expect(zsh.out()).toContain('compdef _petrel petrel kubectl-petrel');
    const fish = cliIo();
    expect(await runCli(['completion', 'fish'], fish.io)).toBe(2);
    expect(fish.err()).toContain('give one shell, bash or zsh (got fish)');
  });
});
