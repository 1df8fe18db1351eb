import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PETREL_BIN = fileURLToPath(new URL('../../bin/petrel.js', import.meta.url));

export interface FleetOptions {
  kubeconfigPath: string;
  prometheusUrl: string;
  /** Two replicas with leader election on a Lease in this namespace; omitted, one replica without. */
  leaseNamespace?: string;
  leaseDurationMs: number;
  retryPeriodMs: number;
  /** Every line either replica writes (stdout and stderr), for the secret scan. */
  onLine: (line: string, identity: string) => void;
}

interface Replica {
  base: string;
  /** The Lease identity of the running process: a restarted pod of a Deployment gets a new name. */
  identity: string;
  child?: ChildProcess;
  /** This start of the process has synced its caches (a standby ready to take over). */
  synced: boolean;
  exited?: Promise<void>;
  starts: number;
}

/**
 * The controller replicas as processes, as a cluster runs them: each can be SIGKILLed and is started again
 * after a downtime, as a Deployment would restart its pod.
 */
export class ControllerFleet {
  private readonly replicas: Replica[];
  kills = 0;
  logLines = 0;
  private stopping = false;

  constructor(private readonly opts: FleetOptions) {
    this.replicas = (opts.leaseNamespace ? ['replica-a', 'replica-b'] : ['replica-a']).map((base) => ({
      base,
      identity: base,
      starts: 0,
      synced: false,
    }));
  }

  get identities(): string[] {
    return this.replicas.map((r) => r.identity);
  }

  startAll(): void {
    process.once('exit', this.killOnExit);
    for (const r of this.replicas) this.start(r);
  }

  /** A harness that dies leaves no controller behind talking to a sandbox that is gone. */
  private readonly killOnExit = () => {
    for (const r of this.replicas) r.child?.kill('SIGKILL');
  };

  isRunning(identity: string): boolean {
    const r = this.replicas.find((x) => x.identity === identity);
    return !!r?.child && r.child.exitCode === null && r.child.signalCode === null;
  }

  /** Running and synced, other than `identity`: a standby that can take over at once. */
  hasReadyStandby(identity: string | undefined): boolean {
    return this.replicas.some((r) => r.identity !== identity && r.synced && this.isRunning(r.identity));
  }

  /** SIGKILLs a replica (the only one, or the one named) and starts it again after `downtimeMs`. */
  async kill(identity: string | undefined, downtimeMs: number): Promise<boolean> {
    const r = identity ? this.replicas.find((x) => x.identity === identity) : this.replicas[0];
    if (!r?.child || r.child.exitCode !== null || r.child.signalCode !== null) return false;
    r.child.kill('SIGKILL');
    this.kills++;
    await r.exited;
    setTimeout(() => {
      if (!this.stopping) this.start(r);
    }, downtimeMs).unref();
    return true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const r of this.replicas) {
      if (r.child && r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      for (const r of this.replicas) r.child?.kill('SIGKILL');
    }, 8000);
    await Promise.all(this.replicas.map((r) => r.exited));
    clearTimeout(timer);
    process.off('exit', this.killOnExit);
  }

  private start(r: Replica): void {
    const o = this.opts;
    const identity = `${r.base}-${r.starts + 1}`;
    const args = [
      PETREL_BIN,
      'controller',
      '--kubeconfig',
      o.kubeconfigPath,
      '--prometheus-address',
      o.prometheusUrl,
      '--log-level',
      'info',
      '--workers',
      '4',
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      '0',
      ...(o.leaseNamespace
        ? [
            '--leader-elect',
            '--lease-namespace',
            o.leaseNamespace,
            '--leader-identity',
            identity,
            '--lease-duration',
            `${o.leaseDurationMs}ms`,
            '--renew-deadline',
            `${Math.round(o.leaseDurationMs * 0.66)}ms`,
            '--retry-period',
            `${o.retryPeriodMs}ms`,
          ]
        : []),
    ];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '' },
    });
    r.child = child;
    r.synced = false;
    r.starts++;
    r.identity = `${r.base}-${r.starts}`;
    const lines = (stream: NodeJS.ReadableStream | null) => {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          this.logLines++;
          if (line.includes('caches synced')) r.synced = true;
          o.onLine(line, r.identity);
        }
      });
      stream?.on('end', () => {
        if (partial) o.onLine(partial, r.identity);
      });
    };
    lines(child.stdout);
    lines(child.stderr);
    r.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }
}
