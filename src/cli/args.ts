import { ConfigError } from '../core/errors.js';

/** Strict parsers for command-line values; errors name the flag. */
export const parse = {
  int(flag: string, v: string | undefined): number | undefined {
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v.trim())) throw new ConfigError(`option --${flag}: expected an integer, got "${v}"`);
    return Number(v);
  },
  num(flag: string, v: string | undefined): number | undefined {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`option --${flag}: expected a number, got "${v}"`);
    return n;
  },
  pair(flag: string, v: string | undefined, int = false): [number, number] | undefined {
    if (v === undefined) return undefined;
    const m = /^\s*(-?[\d.eE+-]+)\s*:\s*(-?[\d.eE+-]+)\s*$/.exec(v);
    const a = m ? Number(m[1]) : NaN;
    const b = m ? Number(m[2]) : NaN;
    if (!Number.isFinite(a) || !Number.isFinite(b) || (int && !(Number.isInteger(a) && Number.isInteger(b)))) {
      throw new ConfigError(`option --${flag}: expected ${int ? 'START:END (integers)' : 'LO:HI'}, got "${v}"`);
    }
    return [a, b];
  },
  list(v: string | undefined): string[] | undefined {
    return v === undefined
      ? undefined
      : v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  },
};
