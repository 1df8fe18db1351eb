// Reads command lines with node:util.parseArgs: the one argument parser of the CLI, the controller's
// option modules, the development tools and the benchmarks.
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** One flag, as `node:util.parseArgs` declares it. */
export interface FlagDef {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}
export type FlagDefs = Record<string, FlagDef>;

type OneValue<D extends FlagDef> = D['type'] extends 'string'
  ? string
  : D['type'] extends 'boolean'
    ? boolean
    : string | boolean;
/** The values given, by long flag name; a flag not given is absent. */
export type FlagValues<T extends FlagDefs> = {
  [K in keyof T]?: T[K] extends { multiple: true } ? OneValue<T[K]>[] : OneValue<T[K]>;
};

/** A command line that cannot be read: unknown flag, missing or bad value, stray argument. */
export class ArgsError extends Error {
  override readonly name = 'ArgsError';
  readonly code = 'USAGE';
}

export const HELP_FLAG = { help: { type: 'boolean', short: 'h' } } as const satisfies FlagDefs;

/**
 * Reads every argument: a flag not in `flags` is an error, and so is a positional argument unless
 * `positionals` allows them. Boolean flags also take `--flag=true` or `--flag=false`.
 */
export function parseFlags<T extends FlagDefs>(
  args: readonly string[],
  flags: T,
  opts: { positionals?: boolean } = {},
): { values: FlagValues<T>; positionals: string[] } {
  const { values, positionals } = read(args, flags, true);
  if (!opts.positionals && positionals.length > 0)
    throw new ArgsError(`unexpected argument '${positionals[0]}'`);
  return { values, positionals };
}

/**
 * Takes the flags in `flags` out of `args` and returns the other arguments, in order, for another
 * reader: how one command line is shared by modules that each own some of its flags. A bad flag throws
 * `usageError(message)` when given (each module has its own usage error), else the ArgsError.
 */
export function takeFlags<T extends FlagDefs>(
  args: readonly string[],
  flags: T,
  usageError?: (message: string) => Error,
): { values: FlagValues<T>; rest: string[] } {
  let taken: ReturnType<typeof read<T>>;
  try {
    taken = read(args, flags, false);
  } catch (err) {
    throw usageError && err instanceof ArgsError ? usageError(err.message) : err;
  }
  const { values, consumed } = taken;
  return { values, rest: args.filter((_, index) => !consumed.has(index)) };
}

/** True when `--help` or `-h` is anywhere on the command line: help wins over every other problem. */
export function wantsHelp(args: readonly string[]): boolean {
  try {
    return takeFlags(args, HELP_FLAG).values.help === true;
  } catch {
    return false;
  }
}

function read<T extends FlagDefs>(
  args: readonly string[],
  flags: T,
  strict: boolean,
): { values: FlagValues<T>; positionals: string[]; consumed: Set<number> } {
  // Not parseArgs' strict mode: its messages differ from flag to flag; here every one names the flag.
  const { tokens } = parseArgs({
    args: [...args],
    options: flags as ParseArgsConfig['options'],
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const consumed = new Set<number>();
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const def = Object.hasOwn(flags, token.name) ? flags[token.name] : undefined;
    if (!def) {
      if (strict) throw new ArgsError(`Unknown option '${token.rawName}'`);
      continue;
    }
    consumed.add(token.index);
    if (token.value !== undefined && !token.inlineValue) consumed.add(token.index + 1);
    const value = flagValue(token.rawName, def, token.value);
    if (def.multiple) values[token.name] = [...((values[token.name] as unknown[]) ?? []), value];
    else values[token.name] = value;
  }
  return { values: values as FlagValues<T>, positionals, consumed };
}

function flagValue(rawName: string, def: FlagDef, value: string | undefined): string | boolean {
  if (def.type === 'string') {
    if (value === undefined) throw new ArgsError(`${rawName}: needs a value`);
    return value;
  }
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new ArgsError(`${rawName}: must be true or false, or given without a value`);
}
