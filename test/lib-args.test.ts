import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/cli/command-line.ts';
import { ArgsError, parseFlags, takeFlags, wantsHelp } from '../src/lib/args.ts';

const FLAGS = {
  port: { type: 'string' },
  verbose: { type: 'boolean' },
  tag: { type: 'string', multiple: true },
  namespace: { type: 'string', short: 'n' },
} as const;

function errorOf(run: () => unknown): ArgsError {
  try {
    run();
  } catch (err) {
    if (err instanceof ArgsError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('parseFlags', () => {
  it('reads both spellings, short names, repeated flags and booleans given as true or false', () => {
    const { values } = parseFlags(
      ['--port', '80', '--tag=a', '--tag', 'b', '-n', 'ns', '--verbose=false', '--port=81'],
      FLAGS,
    );
    expect(values).toEqual({ port: '81', tag: ['a', 'b'], namespace: 'ns', verbose: false });
    expect(parseFlags(['--verbose'], FLAGS).values.verbose).toBe(true);
  });

  it('keeps an empty value and a value that starts with a dash', () => {
    expect(parseFlags(['--port='], FLAGS).values.port).toBe('');
    expect(parseFlags(['--port', '-1'], FLAGS).values.port).toBe('-1');
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['-x'], "Unknown option '-x'"],
    [['--port'], '--port: needs a value'],
    [['-n'], '-n: needs a value'],
    [['--verbose=maybe'], '--verbose: must be true or false'],
    [['stray'], "unexpected argument 'stray'"],
  ])('refuses %j with a message naming the flag', (args, message) => {
    const err = errorOf(() => parseFlags(args, FLAGS));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain(message);
  });

  it('takes positionals only when asked, also after --', () => {
    expect(parseFlags(['a', '--verbose', '--', '--b'], FLAGS, { positionals: true })).toEqual({
      values: { verbose: true },
      positionals: ['a', '--b'],
    });
  });
});

describe('takeFlags', () => {
  it('takes its own flags out and leaves every other argument in order', () => {
    const { values, rest } = takeFlags(
      ['--workers', '3', '--port', '80', '--other=x', '-v', '--verbose', 'pos', '--', '--port'],
      FLAGS,
    );
    expect(values).toEqual({ port: '80', verbose: true });
    expect(rest).toEqual(['--workers', '3', '--other=x', '-v', 'pos', '--', '--port']);
  });

  it('refuses its own flag without a value', () => {
    expect(errorOf(() => takeFlags(['--workers', '3', '--port'], FLAGS)).message).toBe(
      '--port: needs a value',
    );
  });
});

describe('parseCommandLine', () => {
  function io() {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const text = { out: '', err: '' };
    stdout.on('data', (c) => {
      text.out += c;
    });
    stderr.on('data', (c) => {
      text.err += c;
    });
    return { io: { stdout, stderr }, text };
  }
  const command = { command: 'petrel x', usage: 'usage: petrel x [--port N]\n', flags: FLAGS };

  it('answers --help and -h with the usage on stdout and exit 0, even beside a bad flag', () => {
    for (const args of [['--help'], ['-h'], ['--bogus', '--help']]) {
      const t = io();
      expect(parseCommandLine(args, t.io, command)).toBe(0);
      expect(t.text.out).toBe(command.usage);
      expect(t.text.err).toBe('');
    }
    expect(wantsHelp(['--port', '1'])).toBe(false);
  });

  it('answers a bad command line on stderr with the command, the problem and the usage; exit 2', () => {
    const t = io();
    expect(parseCommandLine(['--bogus'], t.io, command)).toBe(2);
    expect(t.text.err).toBe("petrel x: Unknown option '--bogus'\n\nusage: petrel x [--port N]\n");
    expect(t.text.out).toBe('');
  });

  it('returns the values of a good command line', () => {
    expect(parseCommandLine(['--port', '1'], io().io, command)).toEqual({
      values: { port: '1' },
      positionals: [],
    });
  });
});
