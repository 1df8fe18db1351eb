import type { Writable } from 'node:stream';

const HOME = '\u001b[H';
const CLEAR_LINE_END = '\u001b[K';
const CLEAR_BELOW = '\u001b[J';

/**
 * Where the frames of `--watch` go. On a terminal each frame is drawn in place (cursor home, each line
 * cleared to its end, the rest of the screen cleared), so nothing scrolls. Anywhere else (a pipe, a
 * file, a CI log) frames are appended, separated by a blank line, without escape codes; a frame equal to
 * the last one is not written again.
 */
export class Screen {
  private last?: string;
  private first = true;

  constructor(
    private readonly out: Writable,
    private readonly tty: boolean,
  ) {}

  draw(frameLines: readonly string[]): void {
    let lines = frameLines;
    const frame = lines.join('\n');
    if (frame === this.last) return;
    this.last = frame;
    if (this.tty) {
      // A frame taller than the terminal would scroll and break drawing in place: keep what fits.
      const rows = (this.out as { rows?: number }).rows;
      if (rows && lines.length > rows - 1) lines = [...lines.slice(0, rows - 2), '...'];
      this.out.write(`${HOME}${lines.map((l) => `${l}${CLEAR_LINE_END}`).join('\n')}\n${CLEAR_BELOW}`);
      return;
    }
    this.out.write(`${this.first ? '' : '\n'}${frame}\n`);
    this.first = false;
  }
}
