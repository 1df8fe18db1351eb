import type { Writable } from 'node:stream';
import type { DemoEvent, DemoReporter } from './events.ts';
import { renderTerminal } from './render-terminal.ts';

export const OUTPUT_FORMATS = ['terminal', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** One JSON object per line: `type` and `time` (RFC 3339) first, then the event's fields. */
export function jsonLine(event: DemoEvent, at: Date): string {
  const { type, ...fields } = event;
  return `${JSON.stringify({ type, time: at.toISOString(), ...fields })}\n`;
}

export interface ReporterOptions {
  out: Writable;
  now?: () => Date;
  /** Colours in terminal output (default off). */
  color?: boolean;
}

export function createReporter(format: OutputFormat, opts: ReporterOptions): DemoReporter {
  const now = opts.now ?? (() => new Date());
  const started = now().getTime();
  const write = (text: string) => {
    if (text) opts.out.write(text);
  };
  switch (format) {
    case 'json':
      return { emit: (event) => write(jsonLine(event, now())) };
    case 'terminal':
      return {
        emit: (event) =>
          write(renderTerminal(event, now().getTime() - started, { color: opts.color ?? false })),
      };
    default:
      return assertNever(format);
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown output format: ${String(value)}`);
}
