import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.ts';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += c;
  });
  stderr.on('data', (c) => {
    err += c;
  });
  return { io: { stdout, stderr, stdin: new PassThrough(), env: {} }, out: () => out, err: () => err };
}

describe('petrel cli', () => {
  it('rejects an unknown command with usage and exit 2', async () => {
    const t = io();
    expect(await runCli(['frobnicate'], t.io)).toBe(2);
    expect(t.err()).toContain('unknown command "frobnicate"');
  });

  it('names the development commands as such where dev/ is not loaded, as in the image', async () => {
    for (const name of ['demo', 'sandbox']) {
      const t = io();
      expect(await runCli([name], t.io)).toBe(2);
      expect(t.err()).toContain(`"${name}" is a development tool and is not part of this build`);
    }
  });

  it('prints its version from package.json for --version, -V and version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const args of [['--version'], ['-V'], ['version']]) {
      const t = io();
      expect(await runCli(args, t.io)).toBe(0);
      expect(t.out()).toBe(`petrel ${version}\n`);
      expect(t.err()).toBe('');
    }
  });
});
