/**
 * What the demo reports, one object per happening. `--json` prints them as they are (one per line,
 * with a `time`); the terminal renderer turns them into text.
 */
export type DemoEvent =
  | { type: 'setup'; step: string; detail: string }
  | {
      type: 'ready';
      scenario: string;
      releases: string[];
      namespace: string;
      apiServerUrl: string;
      kubeconfig: string;
      prometheusUrl: string;
      prometheusPid: number;
    }
  | {
      type: 'release';
      release: string;
      image: string;
      description: string;
      expect: { phase: string; failedMetric?: string };
    }
  | { type: 'pause'; release: string; seconds: number; why: string }
  | { type: 'phase'; release: string; phase: string; weight: number; failedChecks: number }
  | { type: 'weight'; release: string; weight: number }
  | {
      type: 'check';
      release: string;
      metric: string;
      value?: number;
      /** The metric's thresholdRange in the Canary. */
      min?: number;
      max?: number;
      passed: boolean;
      weight: number;
      reason: string;
    }
  | { type: 'event'; release: string; severity: string; reason: string; message: string }
  | {
      type: 'outcome';
      release: string;
      phase: string;
      expected: string;
      ok: boolean;
      reason: string;
      failedChecks: { metric: string; value?: number; reason: string }[];
      durationMs: number;
    }
  | { type: 'keep'; kubeconfig: string; apiServerUrl: string; prometheusUrl: string }
  | { type: 'stopping'; why: string }
  | { type: 'error'; code: string; message: string };

export type DemoEventType = DemoEvent['type'];

/** Where demo events go. Implementations must not throw. */
export interface DemoReporter {
  emit(event: DemoEvent): void;
}
