import { afterAll, beforeAll } from 'vitest';
import {
  type RunningPrometheus,
  type StartPrometheusOptions,
  startPrometheus,
} from '../../dev/sandbox/prometheus.ts';

export interface PrometheusFixture {
  /** Base URL of the running server; only valid inside tests (after beforeAll). */
  readonly url: string;
  readonly server: RunningPrometheus;
}

/**
 * Starts one real Prometheus for the calling test file (beforeAll) and always stops it
 * (afterAll). Call it at the top level of a test file or inside a describe block.
 */
export function usePrometheus(opts: StartPrometheusOptions = {}): PrometheusFixture {
  let server: RunningPrometheus | undefined;
  beforeAll(async () => {
    server = await startPrometheus(opts);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  const running = (): RunningPrometheus => {
    if (!server) throw new Error('Prometheus is not running: use the fixture inside a test, after beforeAll');
    return server;
  };
  return {
    get url() {
      return running().url;
    },
    get server() {
      return running();
    },
  };
}
