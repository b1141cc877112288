/**
 * One declarative table of flags per command. A table drives the three jobs that used to be written out
 * three times: parsing (node:util parseArgs, which the table configures), the --help text, and the names
 * in error messages (an options-model error names its option; the table turns that into its flag).
 *
 * parseArgs stays: it is strict (unknown flags, missing values), has no dependencies, and the table adds
 * what it lacks (typed values, defaults in the help text, option names in errors). Neither commander nor
 * yargs would remove the need for the table itself, which also serves the options model's error messages.
 */
import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../core/errors.js';

/** A parsed flag value. */
export type FlagValue = string | number | boolean | readonly string[] | readonly [number, number];

/** How a flag's text is read. */
export type FlagKind =
  | 'string'
  /** An integer (a safe integer: |n| <= 2^53 - 1, so that no value is silently rounded). */
  | 'int'
  | 'number'
  /** A flag without a value: true when given (or `set` when the flag sets a fixed value of its key). */
  | 'switch'
  /** on|off (also true|false). */
  | 'on-off'
  /** A comma-separated list. */
  | 'list'
  /** LO:HI numbers. */
  | 'pair'
  /** START:END integers. */
  | 'int-pair'
  | { readonly choices: readonly string[] };

export interface Flag {
  /** The flag without dashes (`population`). */
  readonly flag: string;
  /** The key its value is stored under: an option of the options model, or a setting of the command. */
  readonly key: string;
  readonly kind: FlagKind;
  /** The placeholder shown in the help text (`N`, `FILE.csv`). */
  readonly arg?: string;
  /** One help line (more lines after '\n' are indented under it). */
  readonly help: string;
  /** The default shown in the help text, from the options model. */
  readonly default?: string;
  /** For a switch: the value it gives its key (default true). Two switches can set one key (--lamarckian/--baldwinian). */
  readonly set?: FlagValue;
  readonly short?: string;
}

/** A flag from its usage (`name` or `name ARG`), the key it sets, its kind, one help line and the default shown. */
export function flag(usage: string, key: string, kind: FlagKind, help: string, shownDefault?: string): Flag {
  const [name, arg] = usage.split(' ') as [string, string | undefined];
  return { flag: name, key, kind, help, ...(arg ? { arg } : {}), ...(shownDefault !== undefined ? { default: shownDefault } : {}) };
}

/** A flag without a value that gives its key `set` (default true). */
export function toggle(name: string, key: string, help: string, set: FlagValue = true): Flag {
  return { flag: name, key, kind: 'switch', help, ...(set !== true ? { set } : {}) };
}

export interface FlagSection {
  readonly title: string;
  readonly flags: readonly Flag[];
}

/** A command's flags and the text around them in --help. */
export interface CommandFlags {
  readonly head: string;
  readonly sections: readonly FlagSection[];
  readonly foot?: string;
}

export interface ParsedFlags {
  /** Values by key; a key absent when no flag for it was given. */
  readonly values: Readonly<Record<string, FlagValue>>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

function allFlags(c: CommandFlags): Flag[] {
  return c.sections.flatMap((s) => s.flags);
}

/** Reads a command line with the table: typed values by key, every error one line naming the flag. */
export function parseFlags(c: CommandFlags, argv: readonly string[], positionals = false): ParsedFlags {
  const flags = allFlags(c);
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const f of flags) options[f.flag] = { type: f.kind === 'switch' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: positionals }) as typeof parsed;
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/\s*\n\s*/g, ' '));
  }
  const values: Record<string, FlagValue> = {};
  const setBy: Record<string, string> = {};
  for (const f of flags) {
    const raw = parsed.values[f.flag];
    if (raw === undefined || raw === false) continue;
    const v = f.kind === 'switch' ? (f.set ?? true) : readValue(f, raw as string);
    const other = setBy[f.key];
    if (other !== undefined && JSON.stringify(values[f.key]) !== JSON.stringify(v)) {
      throw new ConfigError(`options --${other} and --${f.flag}: give one of them, not both`);
    }
    values[f.key] = v;
    setBy[f.key] = f.flag;
  }
  return { values, positionals: parsed.positionals, help: parsed.values['help'] === true };
}

function readValue(f: Flag, v: string): FlagValue {
  const bad = (expected: string): never => {
    throw new ConfigError(`option --${f.flag}: expected ${expected}, got "${v}"`);
  };
  const kind = f.kind;
  if (typeof kind === 'object') return kind.choices.includes(v) ? v : bad(`one of ${kind.choices.join(', ')}`);
  switch (kind) {
    case 'string':
      return v;
    case 'int': {
      if (!/^\s*-?\d+\s*$/.test(v)) return bad('an integer');
      const n = Number(v);
      return Number.isSafeInteger(n)
        ? n
        : bad(`an integer of at most ${Number.MAX_SAFE_INTEGER} in magnitude (larger ones cannot be represented exactly)`);
    }
    case 'number': {
      const n = Number(v);
      return v.trim() !== '' && Number.isFinite(n) ? n : bad('a number');
    }
    case 'on-off':
      if (v === 'on' || v === 'true') return true;
      if (v === 'off' || v === 'false') return false;
      return bad('on or off');
    case 'list':
      return v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'pair':
    case 'int-pair': {
      const m = /^\s*(-?[\d.eE+-]+)\s*:\s*(-?[\d.eE+-]+)\s*$/.exec(v);
      const a = m ? Number(m[1]) : NaN;
      const b = m ? Number(m[2]) : NaN;
      const ints = kind === 'int-pair';
      if (!Number.isFinite(a) || !Number.isFinite(b) || (ints && !(Number.isSafeInteger(a) && Number.isSafeInteger(b)))) {
        return bad(ints ? 'START:END (integers)' : 'LO:HI');
      }
      return [a, b] as const;
    }
    case 'switch':
      return true;
  }
}

/**
 * Runs `fn`, turning an options-model error about one option (ConfigError with `option`) into the same
 * complaint about the flag that sets it; errors about options without a flag pass unchanged.
 */
export async function namingFlags<T>(c: CommandFlags, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw renameOption(c, e);
  }
}

/** The error with the option's name replaced by its flag (see {@link namingFlags}). */
export function renameOption(c: CommandFlags, e: unknown): unknown {
  if (!(e instanceof ConfigError) || e.option === undefined || e.detail === undefined) return e;
  const base = e.option.replace(/ \(.*\)$/, '');
  const f = allFlags(c).find((x) => x.key === base && x.kind !== 'switch') ?? allFlags(c).find((x) => x.key === base);
  return f ? new ConfigError(`option --${f.flag}: ${e.detail}`, e.option, e.detail) : e;
}

/** The --help text: the head, then each section's flags with placeholder, help line and default. */
export function helpText(c: CommandFlags): string {
  const lines = [c.head.trimEnd(), ''];
  for (const s of c.sections) {
    lines.push(`${s.title}:`);
    for (const f of s.flags) {
      const name = `  --${f.flag}${f.arg ? ` ${f.arg}` : ''}`;
      const [first, ...more] = f.help.split('\n');
      const text = `${first}${f.default !== undefined ? ` (default ${f.default})` : ''}`;
      lines.push(name.length < 28 ? `${name.padEnd(28)}${text}` : `${name}\n${' '.repeat(28)}${text}`);
      for (const m of more) lines.push(`${' '.repeat(28)}${m}`);
    }
    lines.push('');
  }
  if (c.foot) lines.push(c.foot.trimEnd(), '');
  return lines.join('\n');
}

/**
 * A --threads count capped at the machine's cores, with a note on stderr when it is: more worker
 * threads than cores only add contention, and each holds its own copy of the data. Results do not
 * depend on the thread count.
 */
export function capThreads(threads: number, cores = availableParallelism()): number {
  if (threads <= cores) return threads;
  process.stderr.write(`gpmate: note: --threads ${threads} is more than the ${cores} cores; using ${cores}\n`);
  return cores;
}
