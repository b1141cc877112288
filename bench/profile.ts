/**
 * Where a regression run spends its time: runs `gpmate run` under `node --cpu-prof` and splits the
 * profile's samples into phases (kernel evaluation, scoring calls, scaling, interval check, constant
 * optimisation, selection, mate-choice distance, variation, subtree sizes, GC, statistics/keys,
 * start-up, final report). A sample goes to the innermost frame that names a phase; WebAssembly
 * frames go to the kernel wrapper that called them (lmPass: constant optimisation, else evaluation).
 * Samples before the loop starts are start-up, after it ends the final report. Profiles count
 * samples of the main thread, so a busy machine (other processes) stretches every phase alike and the
 * shares stay comparable where wall seconds do not.
 *
 *   npx tsx bench/profile.ts                       the two standard runs (below), breakdown of each
 *   npx tsx bench/profile.ts FILE.cpuprofile ...   breakdown of saved profiles (--top N: the N frames
 *                                                  with the most self time in each phase)
 *   npx tsx bench/profile.ts --keep DIR            keep the profiles in DIR
 *     --runs plain,plain-tournament,data  which standard runs (default plain,data)
 *     --repeat N                           profiles per run; the table shows each phase's median
 *     --cli PATH                           another build's dist/src/cli/main.js (before/after)
 *
 * Standard runs (dist/, so `npm run build` first), Pagie-1, population 1000, 100 generations, seed 1,
 * one thread: `plain` with the settings of bench/sr.ts (Operon's command line, constant optimisation
 * off; pimp selection, `plain-tournament` with tournament selection as Operon's), and `data` with the
 * `--data` defaults (constant optimisation on).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OPERON_SETTINGS, operonMatchedFlags } from './operon.js';
import { median, srDataDir } from './sr-data.js';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export const PHASES = [
  'kernel evaluation',
  'scoring calls',
  'scaling',
  'interval check',
  'constant optimisation',
  'selection',
  'mate-choice distance',
  'variation',
  'subtree sizes',
  'GC',
  'statistics/keys',
  'engine loop (other)',
  'start-up',
  'final report',
  'idle/other',
] as const;
export type Phase = (typeof PHASES)[number];

const file = (url: string): string => basename(url);

/** The phase a frame names, or undefined (then the caller's frame decides). */
function phaseOf(f: CallFrame): Phase | 'wasm' | undefined {
  const fn = f.functionName;
  const u = file(f.url);
  if (fn === '(garbage collector)') return 'GC';
  if (fn.startsWith('wasm-function') || f.url.startsWith('wasm://')) return 'wasm';
  if (u === 'kernel.js') return fn === 'lmPass' ? 'constant optimisation' : 'kernel evaluation';
  if (u === 'compile.js') return 'kernel evaluation';
  if (u === 'optimise.js') return 'constant optimisation';
  if (u === 'interval.js') return 'interval check';
  if (u === 'loss.js' && (fn === 'linearScaling' || fn === 'scaledRmse')) return 'scaling';
  if (['scoring.js', 'wasm-engine.js', 'wasm-evaluator.js', 'encode.js', 'pool.js', 'scoring-pool.js', 'loss.js'].includes(u))
    return 'scoring calls';
  if (u === 'distance.js' || u === 'semantic.js') return 'mate-choice distance';
  if (u === 'selection.js') return fn === 'tournament' ? 'selection' : 'mate-choice distance';
  if (u === 'nsga2.js' || fn === 'eliteIndices') return 'selection';
  if (u === 'tree.js') {
    if (['subtreeSizes', 'subtreeHeights', 'shapeOf', 'computeShape', 'get shape', 'shape', 'levelCounts', 'get levels'].includes(fn))
      return 'subtree sizes';
    if (fn === 'treeKey' || fn === 'depth') return 'statistics/keys';
    return 'variation';
  }
  if (u === 'variation.js' || u === 'init.js' || fn === 'breed') return 'variation';
  if (u === 'pareto.js' || u === 'diversity' || fn === 'report' || fn === 'preferenceStats' || fn === 'meanOf' || fn === 'measure')
    return 'statistics/keys';
  if (u === 'evolve.js') return 'engine loop (other)';
  return undefined;
}

/** Milliseconds per phase of one profile. */
export function breakdown(p: CpuProfile): Map<Phase, number> {
  const out = new Map<Phase, number>(PHASES.map((ph) => [ph, 0]));
  samplePhases(p, (_, ph, ms) => out.set(ph, (out.get(ph) ?? 0) + ms));
  return out;
}

/** Calls `visit` with each sample's node, phase and milliseconds. */
function samplePhases(p: CpuProfile, visit: (id: number, phase: Phase, ms: number) => void): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inLoop = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (file(f.url) === 'evolve.js') return true;
    }
    return false;
  };
  const phaseOfNode = new Map<number, Phase | undefined>();
  const classify = (id: number): Phase | undefined => {
    if (phaseOfNode.has(id)) return phaseOfNode.get(id);
    let wasm = false;
    let found: Phase | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const ph = phaseOf(byId.get(at)!.callFrame);
      if (ph === 'wasm') wasm = true;
      else if (ph !== undefined) {
        // a WebAssembly frame belongs to the kernel call above it, whatever JavaScript wrapped it
        found = wasm && ph !== 'constant optimisation' ? 'kernel evaluation' : ph;
        break;
      }
    }
    if (found === undefined && wasm) found = 'kernel evaluation';
    phaseOfNode.set(id, found);
    return found;
  };
  // the loop runs from the first to the last sample with evolve.js on the stack
  let first = -1;
  let last = -1;
  p.samples.forEach((id, i) => {
    if (inLoop(id)) {
      if (first < 0) first = i;
      last = i;
    }
  });
  p.samples.forEach((id, i) => {
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    const fn = byId.get(id)!.callFrame.functionName;
    let ph: Phase;
    if (fn === '(idle)' || fn === '(program)') ph = 'idle/other';
    else if (fn === '(garbage collector)') ph = 'GC';
    else if (i < first) ph = 'start-up';
    else if (i > last) ph = 'final report';
    else ph = classify(id) ?? 'engine loop (other)';
    visit(id, ph, ms);
  });
}

/** The `n` frames with the most self time (ms) in one phase, for a closer look. */
export function topFrames(p: CpuProfile, phase: Phase, n: number): [string, number][] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  samplePhases(p, (id, ph, ms) => {
    if (ph !== phase) return;
    const f = byId.get(id)!.callFrame;
    const k = `${f.functionName || '(anonymous)'} ${file(f.url)}`;
    self.set(k, (self.get(k) ?? 0) + ms);
  });
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** A markdown table: one column per profile, ms and share of the profile's total per phase. */
export function table(names: readonly string[], parts: readonly Map<Phase, number>[]): string {
  const totals = parts.map((m) => [...m.values()].reduce((s, v) => s + v, 0));
  const lines = [`| phase | ${names.map((n) => `${n} ms | share`).join(' | ')} |`, `|---|${names.map(() => '---|---|').join('')}`];
  for (const ph of PHASES) {
    if (parts.every((m) => (m.get(ph) ?? 0) === 0)) continue;
    const cells = parts.map((m, k) => `${(m.get(ph) ?? 0).toFixed(0)} | ${((100 * (m.get(ph) ?? 0)) / totals[k]!).toFixed(1)}%`);
    lines.push(`| ${ph} | ${cells.join(' | ')} |`);
  }
  lines.push(`| total | ${totals.map((t) => `${t.toFixed(0)} | 100%`).join(' | ')} |`);
  return lines.join('\n');
}

function profileRun(cli: string, dir: string, name: string, args: readonly string[]): CpuProfile {
  const r = spawnSync(
    process.execPath,
    [
      '--cpu-prof',
      '--cpu-prof-dir',
      dir,
      '--cpu-prof-name',
      `${name}.cpuprofile`,
      cli,
      'run',
      ...args,
      '--quiet',
      '--out',
      join(dir, name),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`gpmate run ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(readFileSync(join(dir, `${name}.cpuprofile`), 'utf8')) as CpuProfile;
}

/** Per phase, the median over several profiles' milliseconds (a busy machine stretches single runs unevenly). */
export function medianBreakdown(parts: readonly Map<Phase, number>[]): Map<Phase, number> {
  return new Map(PHASES.map((ph) => [ph, median(parts.map((m) => m.get(ph) ?? 0))]));
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const { values: v, positionals } = parseArgs({
    options: {
      keep: { type: 'string' },
      top: { type: 'string' },
      repeat: { type: 'string', default: '1' },
      runs: { type: 'string', default: 'plain,data' },
      cli: { type: 'string' },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) {
    const profiles = positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile);
    console.log(
      table(
        positionals.map((f) => basename(f, '.cpuprofile')),
        profiles.map(breakdown),
      ),
    );
    if (v.top) {
      for (const [k, p] of profiles.entries()) {
        for (const ph of PHASES) {
          const top = topFrames(p, ph, Number(v.top));
          if (top.length === 0) continue;
          console.log(`\n${basename(positionals[k]!)}: ${ph}: ${top.map(([f, ms]) => `${f} ${ms.toFixed(0)}`).join(', ')}`);
        }
      }
    }
  } else {
    const dir = v.keep ?? mkdtempSync(join(tmpdir(), 'gpmate-profile-'));
    const cli = v.cli ?? fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
    const data = join(srDataDir(), 'Pagie-1.csv');
    const common = ['--data', data, '--population', '1000', '--generations', '100', '--seed', '1', '--threads', '1'];
    const operon = operonMatchedFlags(OPERON_SETTINGS);
    const known: Record<string, string[]> = {
      plain: [...common, ...operon],
      'plain-tournament': [...common, ...operon, '--selection', 'tournament'],
      data: common,
    };
    const names = (v.runs as string).split(',');
    for (const n of names) if (!known[n]) throw new Error(`--runs: unknown run ${n} (known: ${Object.keys(known).join(', ')})`);
    const repeat = Number(v.repeat);
    const parts = names.map((name) =>
      medianBreakdown(Array.from({ length: repeat }, (_, k) => breakdown(profileRun(cli, dir, `${name}-${k + 1}`, known[name]!)))),
    );
    console.log(`# bench/profile  Pagie-1, population 1000, 100 generations, seed 1, one thread; median of ${repeat} profile(s) per run`);
    console.log(`plain: ${operon.join(' ')} (pimp; plain-tournament: --selection tournament); data: the --data defaults\n`);
    console.log(table(names, parts));
    if (v.keep)
      console.log(
        `\nprofiles in ${dir}: ${readdirSync(dir)
          .filter((f) => f.endsWith('.cpuprofile'))
          .join(', ')}`,
      );
    else rmSync(dir, { recursive: true, force: true });
  }
}
