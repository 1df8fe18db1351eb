import { type ChildProcess, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';

export const PROMETHEUS_INSTALL_COMMAND = 'apt-get install -y --no-install-recommends prometheus';

export class PrometheusNotInstalledError extends Error {
  override readonly name = 'PrometheusNotInstalledError';
  readonly code = 'PROMETHEUS_NOT_INSTALLED';
  constructor(readonly searched: string[]) {
    super(
      `the prometheus binary was not found (looked in: ${searched.join(', ') || 'nothing'}). ` +
        `Install it with: ${PROMETHEUS_INSTALL_COMMAND} (Debian/Ubuntu, as root), ` +
        'or pass its path as the `binary` option',
    );
  }
}

export class PrometheusStartError extends Error {
  override readonly name = 'PrometheusStartError';
  readonly code = 'PROMETHEUS_START_FAILED';
  constructor(
    message: string,
    /** Its stderr said the port was taken (another process won the race for it). */
    readonly portInUse = false,
  ) {
    super(message);
  }
}

export interface StartPrometheusOptions {
  /** Path to the prometheus binary; default: `prometheus` on PATH, then /usr/bin/prometheus. */
  binary?: string;
  logger?: Logger;
  /** Value for --storage.tsdb.retention.time, e.g. '2h'. Default '1d'. */
  retention?: string;
  /** How long to wait for /-/ready before giving up. Default 30 s. */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 5 s. */
  stopTimeoutMs?: number;
  /** PATH to search; default process.env.PATH. */
  searchPath?: string;
}

export interface RunningPrometheus {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  url: string;
  /** URL of the remote-write receiver. */
  remoteWriteUrl: string;
  dataDir: string;
  pid: number;
  /** Kills the server (SIGTERM, then SIGKILL) and removes its temporary directory. Idempotent. */
  stop(): Promise<void>;
}

const FALLBACK_BINARY = '/usr/bin/prometheus';
const STDERR_TAIL_LINES = 40;
const PORT_ATTEMPTS = 3;

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds the prometheus binary, or throws PrometheusNotInstalledError naming where it looked. */
export async function findPrometheusBinary(
  opts: { binary?: string; searchPath?: string } = {},
): Promise<string> {
  if (opts.binary) {
    if (await isExecutable(opts.binary)) return opts.binary;
    throw new PrometheusNotInstalledError([opts.binary]);
  }
  const searched: string[] = [];
  const dirs = (opts.searchPath ?? process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, 'prometheus');
    searched.push(candidate);
    if (await isExecutable(candidate)) return candidate;
  }
  if (!searched.includes(FALLBACK_BINARY)) {
    searched.push(FALLBACK_BINARY);
    if (await isExecutable(FALLBACK_BINARY)) return FALLBACK_BINARY;
  }
  throw new PrometheusNotInstalledError(searched);
}

/** A free loopback port: listen on port 0, read the port, close. Racy by nature; callers retry. */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not read the bound port'))));
    });
  });
}

const MINIMAL_CONFIG = `# Written by petrel's sandbox: no scrape targets, samples arrive by remote write.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
`;

/**
 * Starts a Prometheus server on a free loopback port with a temporary data directory and the
 * remote-write receiver enabled, and resolves once /-/ready answers 200.
 */
export async function startPrometheus(opts: StartPrometheusOptions = {}): Promise<RunningPrometheus> {
  const binary = await findPrometheusBinary(opts);
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    try {
      return await startOnce(binary, opts);
    } catch (err) {
      lastError = err;
      // Another process may grab the port between our probe and Prometheus binding it: retry.
      if (!(err instanceof PrometheusStartError && err.portInUse)) throw err;
      opts.logger?.debug({ attempt }, 'prometheus port was taken, retrying on another port');
    }
  }
  throw lastError;
}

async function startOnce(binary: string, opts: StartPrometheusOptions): Promise<RunningPrometheus> {
  const logger = opts.logger;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 5_000;
  const dir = await mkdtemp(join(tmpdir(), 'petrel-prometheus-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, MINIMAL_CONFIG);
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;

  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    `--storage.tsdb.retention.time=${opts.retention ?? '1d'}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-remote-write-receiver',
    '--log.level=info',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderrTail: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
      logger?.debug({ prometheus: line }, 'prometheus stderr');
    }
  });

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const watchdog = startWatchdog(child, dir);
  // Covers process.exit() and uncaught exceptions; the watchdog covers a parent killed by a signal.
  const onParentExit = () => {
    child.kill('SIGKILL');
  };
  process.once('exit', onParentExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.removeListener('exit', onParentExit);
      if (!exited && child.pid !== undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
        await exitPromise;
        clearTimeout(timer);
      }
      watchdog?.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      logger?.debug({ url }, 'prometheus stopped');
    })();
    return stopped;
  };

  /** Resolves to undefined once ready, or to the reason it never became ready. */
  const waitUntilReady = async (): Promise<string | undefined> => {
    const deadline = Date.now() + readyTimeoutMs;
    while (true) {
      if (exited) return `it exited early (code ${exited.code}, signal ${exited.signal})`;
      if (Date.now() > deadline) return `no 200 from /-/ready within ${readyTimeoutMs} ms`;
      const outcome = await Promise.race([
        probeReady(url),
        spawnError.then((err) => `could not start it: ${err.message}`),
        exitPromise.then(() => false),
      ]);
      if (typeof outcome === 'string') return outcome;
      if (outcome) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const failure = (reason: string): PrometheusStartError => {
    const tail = [...stderrTail, partial].filter(Boolean).join('\n');
    return new PrometheusStartError(
      `prometheus (${binary}) did not become ready at ${url}: ${reason}${tail ? `\n--- prometheus stderr ---\n${tail}` : ''}`,
      /address already in use/i.test(tail),
    );
  };

  const failureReason = await waitUntilReady();
  if (failureReason) {
    // Give the last stderr lines a moment to arrive before reporting them.
    await Promise.race([exitPromise, new Promise((r) => setTimeout(r, 200))]);
    await stop();
    throw failure(failureReason);
  }
  logger?.debug({ url, pid: child.pid, dataDir }, 'prometheus ready');
  return { url, remoteWriteUrl: `${url}/api/v1/write`, dataDir, pid: child.pid ?? -1, stop };
}

async function probeReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * A detached shell that holds the read end of a pipe from this process. When this process
 * dies for any reason (even SIGKILL) the pipe closes, and the shell kills Prometheus and
 * removes its directory. stop() kills the watchdog first, so it never acts after a clean stop.
 */
function startWatchdog(child: ChildProcess, dir: string): ChildProcess | undefined {
  if (child.pid === undefined) return undefined;
  const script =
    'while read -r _; do :; done; kill -TERM "$1" 2>/dev/null; i=0; ' +
    'while [ $i -lt 50 ] && kill -0 "$1" 2>/dev/null; do sleep 0.1; i=$((i+1)); done; ' +
    'kill -KILL "$1" 2>/dev/null; rm -rf "$2"';
  const watchdog = spawn('sh', ['-c', script, 'petrel-prometheus-watchdog', String(child.pid), dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.on('error', () => {});
  watchdog.unref();
  const stdin = watchdog.stdin as Socket | null;
  stdin?.on('error', () => {});
  // The pipe must not keep the event loop alive.
  stdin?.unref();
  return watchdog;
}
