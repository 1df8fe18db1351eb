import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Screen } from '../src/cli/get/screen.ts';

function sink(extra: Record<string, unknown> = {}) {
  const out = Object.assign(new PassThrough(), extra);
  let text = '';
  out.on('data', (c) => {
    text += c;
  });
  return { out, text: () => text };
}

describe('the screen of petrel get --watch', () => {
  it('appends plain frames off a terminal, a blank line between them, skipping a repeat', () => {
    const s = sink();
    const screen = new Screen(s.out, false);
    screen.draw(['weight 10%']);
    screen.draw(['weight 10%']);
    screen.draw(['weight 20%']);
    expect(s.text()).toBe('weight 10%\n\nweight 20%\n');
  });

  it('draws in place on a terminal, keeping a tall frame within its rows', () => {
    const s = sink({ isTTY: true, rows: 5 });
    const screen = new Screen(s.out, true);
    screen.draw(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(s.text()).toBe('\u001b[Ha\u001b[K\nb\u001b[K\nc\u001b[K\n...\u001b[K\n\u001b[J');
  });
});
