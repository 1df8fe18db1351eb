// The traffic simulator as a process of its own: its remote writes and garbage then share neither the
// event loop nor the heap of the sandbox API server the bench measures through.
// Argument: SimulatorProcessOptions as JSON.
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { startTrafficSimulator } from '../dev/sandbox/traffic.ts';
import type { SimulatorProcessOptions } from './simulator-process.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as SimulatorProcessOptions;
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(args.kubeconfigPath);
const simulator = await startTrafficSimulator({
  kubeConfig,
  prometheusUrl: args.prometheusUrl,
  namespace: args.namespace,
  rps: args.rps,
  tickMs: args.tickMs,
  seed: args.seed,
  syncTimeoutMs: args.syncTimeoutMs,
  logger: pino({ level: 'warn' }, pino.destination(2)),
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void simulator.stop().then(() => process.exit(0));
});
