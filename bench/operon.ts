/**
 * Operon's side of bench/sr.ts and bench/profile.ts: the settings gpmate and `operon_gp` share (documented in
 * bench/sr.ts), the flags for each tool, and the statistics operon_gp prints.
 */
/** The settings both tools share (bench/sr.ts lists each with its flags). */
export const OPERON_SETTINGS = {
  tournament: 5,
  crossover: 1,
  mutation: 0.25,
  maxLength: 50,
  maxDepth: 10,
  functions: ['add', 'sub', 'mul', 'div'],
};
export type OperonSettings = typeof OPERON_SETTINGS;

/** gpmate flags for the matched settings (population, generations, seed and threads apart). */
export function operonMatchedFlags(s: OperonSettings): string[] {
  return [
    '--tournament',
    String(s.tournament),
    '--crossover-rate',
    String(s.crossover),
    '--mutation-rate',
    String(s.mutation),
    '--max-size',
    String(s.maxLength),
    '--max-depth',
    String(s.maxDepth),
    '--functions',
    s.functions.join(','),
    '--linear-scaling',
    'on',
    '--optimise',
    '0',
    '--robust',
    'off',
    '--clamp',
    'off',
  ];
}

export interface Meta {
  metadata: { target: string; training_rows: { start: number; end: number }; test_rows: { start: number; end: number } };
}

/**
 * operon_gp's flags for one run at its own defaults (keep-best reinsertion, its seven mutation operators,
 * BTC creation, length 50, depth 10, linear scaling) with no coefficient tuning: the runs of the pmlb
 * README's figures and bench/realworld.ts's `--operon`.
 */
export function operonDefaultArgs(
  csv: string,
  meta: Meta,
  o: { population: number; generations: number; seed: number; threads: number },
): string[] {
  const m = meta.metadata;
  return [
    '--dataset',
    csv,
    '--target',
    m.target,
    '--train',
    `${m.training_rows.start}:${m.training_rows.end}`,
    '--test',
    `${m.test_rows.start}:${m.test_rows.end}`,
    '--population-size',
    String(o.population),
    '--pool-size',
    String(o.population),
    '--generations',
    String(o.generations),
    '--iterations',
    '0',
    '--threads',
    String(o.threads),
    '--seed',
    String(o.seed),
  ];
}

/** operon_gp's flags for one run with the matched settings (bench/sr.ts). */
export function operonArgs(
  csv: string,
  meta: Meta,
  o: { population: number; generations: number; seed: number; threads: number },
): string[] {
  const s = OPERON_SETTINGS;
  return [
    ...operonDefaultArgs(csv, meta, o),
    '--female-selector',
    `tournament:${s.tournament}`,
    '--male-selector',
    `tournament:${s.tournament}`,
    '--crossover-probability',
    String(s.crossover),
    '--mutation-probability',
    String(s.mutation),
    '--maxlength',
    String(s.maxLength),
    '--maxdepth',
    String(s.maxDepth),
    '--enable-symbols',
    s.functions.join(','),
  ];
}

/** The last statistics line of operon_gp's per-generation table, by column name. */
export function operonLastStats(stdout: string): Record<string, number> {
  const lines = stdout.split('\n').map((l) => l.trim().split(/\s+/));
  const h = lines.findIndex((l) => l.includes('r2_te'));
  if (h < 0) return {};
  const header = lines[h]!;
  let last: string[] | undefined;
  for (const l of lines.slice(h + 1)) if (l.length === header.length && Number.isFinite(Number(l[0]))) last = l;
  return last ? Object.fromEntries(header.map((name, i) => [name, Number(last![i])])) : {};
}
