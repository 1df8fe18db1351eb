import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./simulator-child.js', import.meta.url));

export interface SimulatorProcessOptions {
  kubeconfigPath: string;
  prometheusUrl: string;
  namespace: string;
  rps: number;
  tickMs: number;
  seed: number;
  syncTimeoutMs: number;
}

export interface SimulatorProcess {
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts the traffic simulator in its own process; resolves once its caches synced and it ticks. */
export function startSimulatorProcess(opts: SimulatorProcessOptions): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(opts)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the traffic simulator did not start within ${opts.syncTimeoutMs} ms: ${stderr}`));
    }, opts.syncTimeoutMs + 10_000);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      if (!chunk.includes('ready')) return;
      clearTimeout(timer);
      resolve({ pid: child.pid ?? 0, stop });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the traffic simulator exited with ${code}: ${stderr}`));
    });
  });
}
