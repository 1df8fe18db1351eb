import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  findPrometheusBinary,
  PROMETHEUS_INSTALL_COMMAND,
  PrometheusNotInstalledError,
  PrometheusStartError,
  startPrometheus,
} from '../dev/sandbox/prometheus.ts';
import { waitFor } from './support/wait.ts';

const launcherUrl = new URL('../dev/sandbox/prometheus.ts', import.meta.url).href;
const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-prom-test-'));
  scratch.push(dir);
  return dir;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True once `check` holds, false if it did not within `timeoutMs`. */
function holdsWithin(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  return waitFor('a condition', check, { timeoutMs }).then(
    () => true,
    () => false,
  );
}

function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('startPrometheus', () => {
  it('starts a ready server on a loopback port with remote write on, and stop() removes everything', async () => {
    const { logger, lines } = memoryLogger();
    const prom = await startPrometheus({ logger });
    let stopped = false;
    try {
      expect(prom.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${prom.url}/-/ready`)).status).toBe(200);
      // The remote-write receiver answers 400 to an empty body, and 404 when it is disabled.
      const write = await fetch(prom.remoteWriteUrl, { method: 'POST', body: '' });
      expect(write.status).not.toBe(404);
      const flags = (await (await fetch(`${prom.url}/api/v1/status/flags`)).json()) as {
        data: Record<string, string>;
      };
      expect(flags.data['storage.tsdb.path']).toBe(prom.dataDir);
      expect(flags.data['web.enable-remote-write-receiver']).toBe('true');
      expect(await exists(prom.dataDir)).toBe(true);
      expect(lines.some((l) => l.includes('prometheus stderr'))).toBe(true);

      await prom.stop();
      stopped = true;
      expect(isAlive(prom.pid)).toBe(false);
      expect(await exists(prom.dataDir)).toBe(false);
      await prom.stop(); // idempotent
    } finally {
      if (!stopped) await prom.stop();
    }
  });

  it('runs two servers side by side on different ports', async () => {
    const [a, b] = await Promise.all([startPrometheus(), startPrometheus()]);
    try {
      expect(a.url).not.toBe(b.url);
      expect((await fetch(`${b.url}/-/ready`)).status).toBe(200);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('says exactly how to install Prometheus when the binary is missing', async () => {
    const err = await startPrometheus({ binary: '/nonexistent/prometheus' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusNotInstalledError);
    expect((err as PrometheusNotInstalledError).code).toBe('PROMETHEUS_NOT_INSTALLED');
    expect((err as Error).message).toContain('apt-get install -y --no-install-recommends prometheus');
    expect(PROMETHEUS_INSTALL_COMMAND).toBe('apt-get install -y --no-install-recommends prometheus');
  });

  it('finds the binary on the given PATH before the Debian location', async () => {
    const dir = await scratchDir();
    const fake = join(dir, 'prometheus');
    await writeFile(fake, '#!/bin/sh\nexit 0\n');
    await chmod(fake, 0o755);
    expect(await findPrometheusBinary({ searchPath: `/nonexistent:${dir}` })).toBe(fake);
  });

  it('reports the server stderr when it exits during startup', async () => {
    const dir = await scratchDir();
    const broken = join(dir, 'prometheus');
    await writeFile(broken, '#!/bin/sh\necho "err: opening storage failed: disk on fire" >&2\nexit 1\n');
    await chmod(broken, 0o755);
    const err = await startPrometheus({ binary: broken }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusStartError);
    expect((err as PrometheusStartError).code).toBe('PROMETHEUS_START_FAILED');
    expect((err as Error).message).toContain('exited early');
    expect((err as Error).message).toContain('disk on fire');
  });

  it('gives up at the ready deadline when the server never becomes ready', async () => {
    const dir = await scratchDir();
    const hanging = join(dir, 'prometheus');
    await writeFile(hanging, '#!/bin/sh\necho "starting forever" >&2\nexec sleep 30\n');
    await chmod(hanging, 0o755);
    const started = Date.now();
    const err = await startPrometheus({ binary: hanging, readyTimeoutMs: 700 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusStartError);
    expect((err as Error).message).toContain('within 700 ms');
    expect((err as Error).message).toContain('starting forever');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('stops the server and removes its directory when the parent process is killed', async () => {
    const script = [
      `import { startPrometheus } from ${JSON.stringify(launcherUrl)};`,
      'const p = await startPrometheus();',
      'console.log(JSON.stringify({ pid: p.pid, dataDir: p.dataDir }));',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const info = await new Promise<{ pid: number; dataDir: string }>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error('child did not start Prometheus in 30 s')), 30_000);
        parent.stdout?.on('data', (c) => {
          out += c;
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) {
            clearTimeout(timer);
            resolve(JSON.parse(line));
          }
        });
        parent.once('exit', () => reject(new Error('child exited before starting Prometheus')));
      });
      expect(isAlive(info.pid)).toBe(true);
      parent.kill('SIGKILL');
      expect(await holdsWithin(async () => !(await exists(info.dataDir)), 10_000)).toBe(true);
      expect(await holdsWithin(() => !isAlive(info.pid) || isZombie(info.pid), 1_000)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

function isZombie(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return status.split(' ')[2] === 'Z';
  } catch {
    return true;
  }
}

describe('startPrometheus port races', () => {
  it('retries on another port when the chosen one was taken before Prometheus bound it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'petrel-prom-test-'));
    try {
      // Fails like Prometheus does on a taken port the first time, then runs the real binary.
      const marker = join(dir, 'tried');
      const wrapper = join(dir, 'prometheus');
      await writeFile(
        wrapper,
        `#!/bin/sh\nif [ ! -e "${marker}" ]; then touch "${marker}"; echo 'err="listen tcp 127.0.0.1:1: bind: address already in use"' >&2; exit 1; fi\nexec /usr/bin/prometheus "$@"\n`,
      );
      await chmod(wrapper, 0o755);
      const prom = await startPrometheus({ binary: wrapper });
      try {
        expect(await exists(marker)).toBe(true);
        expect((await fetch(`${prom.url}/-/ready`)).status).toBe(200);
      } finally {
        await prom.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
