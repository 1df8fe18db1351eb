import type { AlertSeverity } from '../api/constants.ts';
import type { ReasonCode } from '../rollout/index.ts';

/** One thing worth telling people about a Canary; built from an event Petrel records. */
export interface Notification {
  canary: string;
  namespace: string;
  phase: string;
  weight: number;
  severity: AlertSeverity;
  /** The event reason, e.g. Succeeded, Failed, ProgressDeadlineExceeded. */
  reason: string;
  message: string;
  /** The check that failed last, when the outcome is about checks. */
  failingCheck?: { metric: string; value?: number; reason: string };
  /** Set with the controller's --cluster-name flag. */
  cluster?: string;
  /** RFC 3339. */
  time: string;
  /**
   * The transition's key (canary uid, revision, reason, time), recorded in the Canary's status.notices: the
   * same notice sent again carries the same key, so a receiver can drop a repeat.
   */
  key?: string;
}

const ORDER: Record<AlertSeverity, number> = { info: 0, warn: 1, error: 2 };

/** An alert with severity `wanted` receives notifications at that level and above (info ⊃ warn ⊃ error). */
export function severityAllows(wanted: AlertSeverity, actual: AlertSeverity): boolean {
  return ORDER[actual] >= ORDER[wanted];
}

/** Reasons that end a rollout badly, or stop it from ever starting. */
const ERROR_REASONS: ReadonlySet<string> = new Set<ReasonCode>([
  'Failed',
  'ProgressDeadlineExceeded',
  'InvalidSpec',
  'InvalidTarget',
  'Aborted',
  'PromotionFailed',
  'RolledBack',
]);

/** info for Normal events, warn for Warning events, error for the failures that end a rollout. */
export function severityOf(type: 'Normal' | 'Warning', reason: string): AlertSeverity {
  if (ERROR_REASONS.has(reason)) return 'error';
  return type === 'Warning' ? 'warn' : 'info';
}

export function title(n: Notification): string {
  return `${n.canary}.${n.namespace}: ${n.reason}`;
}

export function failingCheckText(n: Notification): string | undefined {
  const c = n.failingCheck;
  if (!c) return undefined;
  return c.value === undefined
    ? `${c.metric}: ${c.reason}`
    : `${c.metric} = ${formatValue(c.value)} (${c.reason})`;
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/0+$/, '');
}
