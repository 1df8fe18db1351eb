import type { DemoEvent } from './events.ts';

export interface TerminalStyle {
  color: boolean;
}

const BAR_CELLS = 20;

/** `[██████░░░░░░░░░░░░░░]  30%`: one cell per 5% of traffic on the canary. */
export function weightBar(weight: number): string {
  const clamped = Math.min(100, Math.max(0, Math.round(weight)));
  const filled = Math.round((clamped / 100) * BAR_CELLS);
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR_CELLS - filled)}] ${String(clamped).padStart(3)}%`;
}

function paint(style: TerminalStyle, code: number, text: string): string {
  return style.color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

const green = (s: TerminalStyle, t: string) => paint(s, 32, t);
const red = (s: TerminalStyle, t: string) => paint(s, 31, t);
const yellow = (s: TerminalStyle, t: string) => paint(s, 33, t);
const dim = (s: TerminalStyle, t: string) => paint(s, 2, t);
const bold = (s: TerminalStyle, t: string) => paint(s, 1, t);

function clockLabel(elapsedMs: number): string {
  return `[${(elapsedMs / 1000).toFixed(1).padStart(5)}s]`;
}

function phaseColour(style: TerminalStyle, phase: string): string {
  if (phase === 'Succeeded') return green(style, phase);
  if (phase === 'Failed') return red(style, phase);
  return yellow(style, phase);
}

/** The text for one demo event (one or more lines, each ending in a newline), or '' to show nothing. */
export function renderTerminal(event: DemoEvent, elapsedMs: number, style: TerminalStyle): string {
  const at = dim(style, clockLabel(elapsedMs));
  const line = (release: string, label: string, text: string) =>
    `${at} ${bold(style, release.padEnd(3))} ${label.padEnd(7)} ${text}\n`;
  switch (event.type) {
    case 'setup':
      return `${at} ${dim(style, '·')} ${event.step}: ${event.detail}\n`;
    case 'ready':
      return (
        `${at} ${dim(style, '·')} ready: releasing ${event.releases.join(', ')} ` +
        `(scenario ${event.scenario}, namespace ${event.namespace})\n`
      );
    case 'release': {
      const expectation = event.expect.failedMetric
        ? `expect Failed on ${event.expect.failedMetric}`
        : `expect ${event.expect.phase}`;
      return `\n${line(event.release, 'release', `${event.image} — ${event.description} (${expectation})`)}`;
    }
    case 'pause':
      return line(event.release, 'wait', dim(style, `${event.seconds}s: ${event.why}`));
    case 'phase':
      return line(
        event.release,
        'phase',
        `${phaseColour(style, event.phase)}${event.failedChecks ? `  (failed checks ${event.failedChecks})` : ''}`,
      );
    case 'weight':
      return line(event.release, 'weight', weightBar(event.weight));
    case 'check': {
      const mark = event.passed ? green(style, '✓') : red(style, '✗');
      return line(
        event.release,
        'check',
        `${mark} ${event.reason} ${dim(style, `(at weight ${event.weight})`)}`,
      );
    }
    case 'event': {
      const reason = event.severity === 'Warning' ? red(style, event.reason) : event.reason;
      return line(event.release, 'event', `${reason}: ${event.message}`);
    }
    case 'outcome': {
      const verdict = event.ok ? green(style, '✓ as expected') : red(style, `✗ expected ${event.expected}`);
      return line(
        event.release,
        'outcome',
        `${phaseColour(style, event.phase)} in ${(event.durationMs / 1000).toFixed(1)}s ${verdict}: ${event.reason}`,
      );
    }
    case 'keep':
      return (
        `\n${at} sandbox kept running. In another terminal:\n` +
        `    export KUBECONFIG=${event.kubeconfig}\n` +
        '    kubectl get canaries -A -w\n' +
        `  API server ${event.apiServerUrl}, Prometheus ${event.prometheusUrl}. Stop with Ctrl-C.\n`
      );
    case 'stopping':
      return `${at} ${dim(style, '·')} stopping: ${event.why}\n`;
    case 'error':
      return `${at} ${red(style, 'error')} ${event.message}\n`;
    default:
      return assertNever(event);
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled demo event: ${JSON.stringify(value)}`);
}
