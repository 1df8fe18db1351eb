import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';

/** A component exited, or did not become ready in time; the message carries the end of its log. */
export class ComponentFailedError extends Error {
  override readonly name = 'ComponentFailedError';
  readonly code = 'CLUSTER_COMPONENT_FAILED';
  constructor(
    readonly component: string,
    reason: string,
    readonly logFile: string,
  ) {
    super(`${component} ${reason}; its log is ${logFile}:\n${tail(logFile, 25)}`);
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One control-plane process, its output in a log file, stopped with SIGTERM then SIGKILL. */
export class Component {
  private readonly child: ChildProcess;
  private exitReason?: string;
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    binary: string,
    args: string[],
    readonly logFile: string,
  ) {
    const log = createWriteStream(logFile, { flags: 'a' });
    // In its own process group, so a Ctrl-C in the terminal reaches only us and we stop the
    // components in order; if this process ends anyway, the exit hook kills what is left.
    this.child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killOnExit = () => this.child.kill('SIGKILL');
    process.once('exit', killOnExit);
    this.child.stdout?.pipe(log, { end: false });
    this.child.stderr?.pipe(log, { end: false });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        process.off('exit', killOnExit);
        this.exitReason = `could not be started (${error.message})`;
        log.end();
        resolve();
      });
      this.child.once('exit', (code, signal) => {
        process.off('exit', killOnExit);
        this.exitReason ??= `exited (${signal ?? `code ${code}`})`;
        // Let the pipes drain into the log before the exit is reported.
        setImmediate(() => log.end(resolve));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitReason === undefined;
  }

  /** Polls `probe` until it answers true; fails when the process exits or `timeoutMs` passes. */
  async waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) {
        await this.exited;
        throw new ComponentFailedError(this.name, `${this.exitReason} before ${what}`, this.logFile);
      }
      if (await probe().catch(() => false)) return;
      if (Date.now() > deadline) {
        throw new ComponentFailedError(
          this.name,
          `was not ${what} after ${timeoutMs / 1000} s`,
          this.logFile,
        );
      }
      await sleep(200);
    }
  }

  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
