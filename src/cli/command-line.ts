import type { Writable } from 'node:stream';
import { ArgsError, type FlagDefs, type FlagValues, parseFlags, wantsHelp } from '../lib/args.ts';

/** A command as its usage errors name it: `petrel crds` and its usage text. */
export interface CommandUsage {
  command: string;
  usage: string;
}

export const EXIT_USAGE = 2;

/** Reports a command line that cannot be run, the same way for every command: stderr, exit 2. */
export function usageError(io: { stderr: Writable }, command: CommandUsage, message: string): number {
  io.stderr.write(`${command.command}: ${message}\n\n${command.usage}`);
  return EXIT_USAGE;
}

/**
 * Reads a command line with `--help`/`-h` added to `flags`. Help (usage on stdout, exit 0) and
 * argument errors (usage on stderr, exit 2) are answered here: a number is the exit code to return.
 */
export function parseCommandLine<T extends FlagDefs>(
  args: readonly string[],
  io: { stdout: Writable; stderr: Writable },
  command: CommandUsage & { flags: T; positionals?: boolean },
): { values: FlagValues<T>; positionals: string[] } | number {
  if (wantsHelp(args)) {
    io.stdout.write(command.usage);
    return 0;
  }
  try {
    return parseFlags(args, command.flags, { positionals: command.positionals });
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    return usageError(io, command, err.message);
  }
}
