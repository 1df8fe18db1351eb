import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PETREL_BIN = fileURLToPath(new URL('../bin/petrel.js', import.meta.url));
/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux we run on). */
const CLOCK_TICKS = 100;

export interface ProcessSample {
  rssBytes: number;
  /** VmHWM: the peak resident set since the process started. */
  peakRssBytes: number;
  /** user + system CPU seconds since the process started. */
  cpuSeconds: number;
}

/** Reads a process's memory and CPU from /proc (Linux only). */
export function sampleProcess(pid: number): ProcessSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  // Fields after the command name (which may hold spaces) start at ") ".
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), cpuSeconds: (utime + stime) / CLOCK_TICKS };
}

export interface ControllerProcess {
  readonly pid: number;
  /** Resolves once the controller logged that its caches synced. */
  readonly ready: Promise<void>;
  /** Rejects when the process exits (e.g. out of memory); never resolves. */
  readonly died: Promise<never>;
  /** Log lines at warn or above, for the report. */
  readonly warnings: string[];
  /** The exit code, or the signal that ended the process. */
  stop(): Promise<number | string | null>;
}

/** Runs `petrel controller` as its own process, so its memory and CPU are its own. */
export function startControllerProcess(opts: {
  kubeconfigPath: string;
  prometheusUrl: string;
  workers: number;
  readyTimeoutMs: number;
  /**
   * Node flags for the controller, e.g. '--max-old-space-size=400' to see what fits in less memory, or
   * '--cpu-prof --cpu-prof-dir=DIR' to profile it. Passed on the command line, where Node takes every flag
   * (NODE_OPTIONS refuses some, --cpu-prof among them).
   */
  nodeOptions?: string;
  /** Run the compiled dist/ (as the container image does) instead of the sources through tsx. */
  useDist?: boolean;
}): ControllerProcess {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(opts.nodeOptions?.split(/\s+/).filter(Boolean) ?? []),
      PETREL_BIN,
      'controller',
      '--kubeconfig',
      opts.kubeconfigPath,
      '--prometheus-address',
      opts.prometheusUrl,
      '--workers',
      String(opts.workers),
      '--log-level',
      'info',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PETREL_USE_DIST: opts.useDist ? '1' : '0' },
    },
  );
  if (child.pid === undefined) throw new Error('could not start the controller process');
  const warnings: string[] = [];
  let buffered = '';
  let stderr = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the controller did not sync within ${opts.readyTimeoutMs} ms: ${stderr}`)),
      opts.readyTimeoutMs,
    );
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.includes('caches synced')) {
          clearTimeout(timer);
          resolve();
        }
        if (/"level":(40|50|60)/.test(line) && warnings.length < 50) warnings.push(line.slice(0, 500));
        nl = buffered.indexOf('\n');
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8000);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the controller exited with ${code}: ${stderr}`));
    });
  });
  ready.catch(() => {});
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  let stopping = false;
  const died = exited.then((code) => {
    // V8 names the cause on one line ("FATAL ERROR: ... JavaScript heap out of memory") before a long
    // native stack: keep that line rather than the end of the stack.
    const fatal = /^.*FATAL ERROR.*$/m.exec(stderr)?.[0];
    throw new Error(
      `the controller exited${stopping ? ' when stopped' : ''} with code ${code}: ${fatal ?? stderr.slice(-500)}`,
    );
  });
  died.catch(() => {});
  return {
    pid: child.pid,
    ready,
    died,
    warnings,
    stop: async () => {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timeout);
      return code;
    },
  };
}

/** Samples a process every `intervalMs` and keeps the highest RSS seen. */
export class ProcessSampler {
  private timer?: NodeJS.Timeout;
  maxRssBytes = 0;
  first?: ProcessSample & { at: number };
  last?: ProcessSample & { at: number };

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.take();
    this.timer = setInterval(() => this.take(), this.intervalMs);
  }

  stop(): { cpuSecondsPerMinute: number; maxRssBytes: number; peakRssBytes: number; seconds: number } {
    if (this.timer) clearInterval(this.timer);
    this.take();
    const first = this.first;
    const last = this.last;
    if (!first || !last) throw new Error(`process ${this.pid} could not be sampled`);
    const seconds = (last.at - first.at) / 1000;
    return {
      cpuSecondsPerMinute: seconds > 0 ? ((last.cpuSeconds - first.cpuSeconds) / seconds) * 60 : 0,
      maxRssBytes: this.maxRssBytes,
      peakRssBytes: last.peakRssBytes,
      seconds,
    };
  }

  private take(): void {
    try {
      const sample = { ...sampleProcess(this.pid), at: Date.now() };
      this.first ??= sample;
      this.last = sample;
      this.maxRssBytes = Math.max(this.maxRssBytes, sample.rssBytes);
    } catch {
      // The process is gone; the last sample stands.
    }
  }
}
