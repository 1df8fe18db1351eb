type Paint = (text: string) => string;

/** The few styles the views use; every one is the identity when colours are off. */
export interface Style {
  bold: Paint;
  dim: Paint;
  good: Paint;
  bad: Paint;
  warn: Paint;
  accent: Paint;
}

const plain: Paint = (text) => text;
export const PLAIN: Style = { bold: plain, dim: plain, good: plain, bad: plain, warn: plain, accent: plain };

// SGR codes written out: node:util's styleText decides by process.stdout, not by the stream drawn on.
const sgr =
  (open: number, close: number): Paint =>
  (text) =>
    `\u001b[${open}m${text}\u001b[${close}m`;
const COLOUR: Style = {
  bold: sgr(1, 22),
  dim: sgr(2, 22),
  good: sgr(32, 39),
  bad: sgr(31, 39),
  warn: sgr(33, 39),
  accent: sgr(36, 39),
};

/**
 * Colours only for a terminal: a pipe, a file or a CI log gets plain text. NO_COLOR (no-color.org) turns
 * them off on a terminal too, FORCE_COLOR on elsewhere.
 */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Style {
  if (env.NO_COLOR) return PLAIN;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return COLOUR;
  return stream.isTTY === true ? COLOUR : PLAIN;
}

/** The length of a line as it shows, without escape codes. */
export function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape codes is the point
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}
