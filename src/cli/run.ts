import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCHMARK_NAMES, resolveTask, type ProblemSpec } from '../../problems/index.js';
import { checkOutputDir, makeDir, removeStaleTemporaries, writeFileAtomic } from '../core/atomic.js';
import type { GenerationStats } from '../core/evolve.js';
import { ConfigError } from '../core/errors.js';
import { selectsOnCases, stripUndefined } from '../core/options.js';
import { SELECTION_MODES, type Evaluator } from '../core/types.js';
import { overlapRows, type Dataset, type RegressionTask, type TaskSplit } from '../eval/dataset.js';
import { describeAdapter, GPU_APIS, type GpuApi, type GpuDeviceOptions } from '../eval/gpu/device.js';
import type { GpuEvaluator } from '../eval/gpu/evaluator.js';
import { createEvaluator, defaultThreads, POOL_MIN_ROWS } from '../eval/wasm-evaluator.js';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from '../sr/checkpoint.js';
import { checkMemory } from '../sr/memory.js';
import { modelJson, sha256 } from '../sr/model.js';
import {
  defaultOf,
  givenOptions,
  OPTION_KINDS,
  recordedOptions,
  resolveRegressionOptions,
  stackBound,
  type OptionKind,
  type OptionName,
  type RegressionOptions,
  type RegressionSettings,
} from '../sr/options.js';
import { runRegression, type EvaluatorFactory, type RegressionResult, type RegressionSnapshot } from '../sr/run.js';
import { isPlainRmse } from '../sr/scoring.js';
import { scoringEvaluator } from '../sr/scoring-pool.js';
import { canonicalJson } from '../study/grid.js';
import type { Tree } from '../tree/tree.js';
import { capThreads, flag, helpText, namingFlags, parseFlags, toggle, type CommandFlags, type Flag, type FlagValue } from './flags.js';
import { filtersNativeStderr, runWithFilteredStderr } from './native-stderr.js';
import { VERSION } from './version.js';

/** Where fitness is computed: in-process on the CPU, or on a WebGPU adapter. */
export type Backend = 'cpu' | 'gpu';
export const BACKENDS = ['cpu', 'gpu'] as const satisfies readonly Backend[];

/** A flag that sets an option of the options model: its kind and default come from the model. */
function opt(usage: string, key: OptionName, help: string, shownDefault = defaultText(key)): Flag {
  const kind = OPTION_KINDS[key] as OptionKind;
  const kinds = {
    integer: 'int',
    number: 'number',
    boolean: 'on-off',
    pair: 'pair',
    'integer-pair': 'int-pair',
    string: 'string',
    strings: 'list',
  } as const;
  return flag(usage, key, kind.type === 'choice' ? { choices: kind.choices } : kinds[kind.type as keyof typeof kinds], help, shownDefault);
}

/** "X", or "X; Y with --data" where the real-data preset differs. */
function defaultText(key: OptionName): string | undefined {
  const show = (v: unknown): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v ? 'on' : 'off';
    return Array.isArray(v) ? v.join(v.length === 2 && typeof v[0] === 'number' ? ':' : ',') : String(v);
  };
  const [plain, data] = [show(defaultOf(key)), show(defaultOf(key, 'data'))];
  return plain === data ? plain : `${plain ?? 'none'}; ${data} with --data`;
}

/** Every flag of `gpmate run`: parsing, --help and error messages come from this table. */
export const RUN_FLAGS: CommandFlags = {
  head: 'gpmate run: evolve a formula',
  sections: [
    {
      title: 'Problem (one of)',
      flags: [
        flag('problem NAME', 'problem', 'string', BENCHMARK_NAMES.join(', '), 'koza-1'),
        flag('data FILE.csv', 'data', 'string', "numeric CSV with a header; reads FILE.json beside it (Operon's format)"),
        flag('meta FILE.json', 'meta', 'string', 'description file to use instead'),
        flag('target COL', 'target', 'string', 'target column', "the JSON's, else the last column"),
        flag('train START:END', 'train', 'int-pair', 'training rows, half-open', "the JSON's, else all"),
        flag('test START:END', 'test', 'int-pair', 'test rows', "the JSON's, else none"),
      ],
    },
    {
      title: 'Selection',
      flags: [
        opt('selection MODE', 'selection', SELECTION_MODES.join(' | ')),
        opt('tournament K', 'tournamentSize', 'tournament size'),
        opt('pool M', 'poolSize', 'candidates per mate choice', 'the tournament size'),
        opt('distance D', 'distance', 'pimp distance: structural | semantic'),
        opt('preference-inheritance I', 'preferenceInheritance', 'crossover | chooser'),
        opt('first-parent S', 'firstParent', 'tournament | lexicase (epsilon-lexicase on rows) | pareto (best on some rows)'),
        opt('pool-draw D', 'poolDraw', 'mate candidates: uniform | tournament (each a tournament winner)'),
        opt('mate-rule R', 'mateRule', 'pimp: ideal (closest to the preference) | dissimilar | assortative'),
        opt('preference-init I', 'preferenceInit', 'initial preferences: random | self (a copy of the genome)'),
      ],
    },
    {
      title: 'Search',
      flags: [
        opt('population N', 'populationSize', 'individuals per generation'),
        opt('generations G', 'generations', 'generations after the initial one'),
        opt('crossover-rate P', 'crossoverRate', 'probability of crossover'),
        opt('mutation-rate P', 'mutationRate', 'probability of mutation'),
        opt(
          'mutation M',
          'mutation',
          'subtree | point | changevar | changefunc | insert | remove | constant, or a weighted list\n' +
            'such as subtree:1,changevar:1,constant:2 (one operator drawn by weight per mutation)',
        ),
        opt('mutation-depth D', 'mutationDepth', "subtree mutation's new-subtree depth"),
        opt('elites E', 'elites', 'best individuals copied unchanged'),
        opt('replacement R', 'replacement', 'generational (with elites) | keep-best (a child replaces its parent if better)'),
        opt('max-depth D', 'maxDepth', 'deepest tree (a single node has depth 0)'),
        opt('max-size S', 'maxSize', 'most nodes per tree'),
        opt(
          'init I',
          'init',
          "initial trees: ramped (half-and-half) | btc (Operon's balanced creator) | ptc2 (Luke's)\n" +
            'btc and ptc2 aim at a size drawn in 1..min(max-size, 2^(init-depth MAX + 1) - 1)',
        ),
        opt('init-depth MIN:MAX', 'initDepth', 'ramped half-and-half depths'),
        opt('functions LIST', 'functions', 'add,sub,mul,div,sin,cos,exp,log,sqrt,neg,square'),
        opt('constant-prob P', 'constantProbability', 'a terminal is a constant'),
        opt('constant-range LO:HI', 'constantRange', 'range of random constants'),
        opt('success-threshold T', 'successThreshold', 'success if best train RMSE <= T'),
        toggle('stop-on-success', 'stopOnSuccess', 'stop once the threshold is reached'),
        opt('max-evaluations N', 'maxEvaluations', 'stop before a generation would pass N evaluations (deterministic)'),
        opt('max-seconds S', 'maxSeconds', 'stop before a generation would end after S seconds of search'),
      ],
    },
    {
      title: 'Regression',
      flags: [
        opt('linear-scaling on|off', 'linearScaling', 'fitness = RMSE after optimal offset/slope'),
        opt('optimise N', 'optimiseIterations', 'constant optimisation: N model evaluations per candidate (0 = off)'),
        opt('lm-iterations N', 'optimiseIterations', 'the same'),
        opt('optimise-rows R', 'optimiseRows', 'fit constants on at most R training rows, evenly strided', 'all; 256 with --data'),
        opt('optimise-share Q', 'optimiseShare', "tune only the best share Q (0 < Q <= 1) of a generation's new candidates with constants"),
        opt('optimiser M', 'optimiser', 'lm (Levenberg-Marquardt) | gradient'),
        toggle('lamarckian', 'lamarckian', 'write tuned constants back into the genomes (default for --data)'),
        toggle('baldwinian', 'lamarckian', "score with tuned constants, keep the genomes' own (default for --problem)", false),
        opt('robust on|off', 'robust', 'reject models leaving 10x the target range on the training box (+10%, interval arithmetic)'),
        opt('clamp on|off', 'clamp', "clamp predictions to the training target's range (never worse on training rows)"),
        opt('clamp-to T', 'clampTo', "range | linear (that range widened row by row to a least-squares line's prediction)"),
        opt('polish N', 'polishIterations', "tune the front's models' constants on every training row: N model evaluations each (0 = off)"),
        opt('objectives O', 'objectives', 'error | error-size (NSGA-II on error and size)'),
        opt(
          'select-model M',
          'selectModel',
          "best | score (PySR's knee) | validation (every 4th training row held out) | aic | bic (n ln MSE + 2 or ln n per fitted constant) | mdl (description length: structure, constants' precision, likelihood)",
        ),
      ],
    },
    {
      title: 'Fitness back end',
      flags: [
        flag(
          'backend B',
          'backend',
          { choices: BACKENDS },
          'cpu | gpu: gpu.js on Dawn (f32 scores and scaling; LM and robustness check on the CPU; best in f64)',
          'cpu',
        ),
        flag('gpu-api LIST', 'gpuApi', 'list', 'Dawn back ends to try, in order', GPU_APIS.join(',')),
        flag('gpu-adapter TEXT', 'gpuAdapter', 'string', 'use only an adapter whose name contains TEXT'),
        toggle('gpu-hardware-only', 'gpuHardwareOnly', 'refuse software renderers (llvmpipe, lavapipe, SwiftShader)'),
      ],
    },
    {
      title: 'Run',
      flags: [
        opt('seed N', 'seed', 'seed of every random choice'),
        flag(
          'threads N',
          'threads',
          'int',
          'evaluation threads; 1 = in-process (results identical for any count)',
          `in-process below ${POOL_MIN_ROWS} training rows, else the cores`,
        ),
        flag('out DIR', 'out', 'string', 'output folder', 'gpmate-runs/<problem>-<selection>-seed<N>'),
        flag('checkpoint-every N', 'checkpointEvery', 'int', 'write DIR/checkpoint.json every N generations (atomic, checksummed)'),
        flag('resume DIR', 'resume', 'string', 'continue the run checkpointed in DIR (same options; into DIR unless --out)'),
        toggle('quiet', 'quiet', 'no per-generation lines'),
        toggle('verbose', 'verbose', "also the GPU library's own warnings (Dawn writes them to stderr; left out otherwise)"),
      ],
    },
  ],
};

export const RUN_HELP = helpText(RUN_FLAGS);

export interface RunInvocation {
  readonly problem: ProblemSpec;
  /** The options the run was given: its preset's (`data` for a CSV file) under the flags'. */
  readonly options: RegressionOptions;
  readonly backend: Backend;
  /** Adapter choice for `--backend gpu`. */
  readonly gpu: GpuDeviceOptions;
  readonly out?: string;
  readonly quiet: boolean;
  /** Evaluation threads (1 = in-process); absent: decided by the training rows (defaultThreads). */
  readonly threads?: number;
  readonly checkpointEvery?: number;
  readonly resume?: string;
}

/** Parses and validates `gpmate run` arguments into run settings (nothing is read or written). */
export function parseRunArgs(argv: string[]): RunInvocation | 'help' {
  const { values: v, help } = parseFlags(RUN_FLAGS, argv);
  if (help) return 'help';
  const range = (r: FlagValue | undefined) => r && { start: (r as [number, number])[0], end: (r as [number, number])[1] };
  const problem = stripUndefined({
    problem: v['problem'],
    data: v['data'],
    meta: v['meta'],
    target: v['target'],
    train: range(v['train']),
    test: range(v['test']),
  }) as ProblemSpec;
  const flagged = Object.fromEntries(Object.entries(v).filter(([k]) => Object.hasOwn(OPTION_KINDS, k))) as RegressionOptions;
  if (v['stopOnSuccess']) flagged.stopFitness = flagged.successThreshold ?? (defaultOf('successThreshold') as number);
  const options = givenOptions(flagged, problem.data !== undefined ? 'data' : 'benchmark');
  resolveRegressionOptions(options); // every option checked now, before any data is read
  const backend = (v['backend'] ?? 'cpu') as Backend;
  const apis = v['gpuApi'] as string[] | undefined;
  for (const a of apis ?? []) {
    if (!(GPU_APIS as readonly string[]).includes(a))
      throw new ConfigError(`option --gpu-api: unknown WebGPU back end "${a}" (known: ${GPU_APIS.join(', ')})`);
  }
  if (backend === 'cpu' && (apis || v['gpuAdapter'] !== undefined || v['gpuHardwareOnly'])) {
    throw new ConfigError('option --gpu-api/--gpu-adapter/--gpu-hardware-only: only with --backend gpu');
  }
  const threads = v['threads'] as number | undefined;
  if (threads !== undefined && threads < 1) throw new ConfigError(`option --threads: expected an integer >= 1, got ${threads}`);
  if (backend === 'gpu' && v['threads'] !== undefined) throw gpuThreadsError('');
  const checkpointEvery = v['checkpointEvery'] as number | undefined;
  if (checkpointEvery !== undefined && checkpointEvery < 1)
    throw new ConfigError(`option --checkpoint-every: expected an integer >= 1, got ${checkpointEvery}`);
  return {
    problem,
    options,
    backend,
    gpu: stripUndefined({
      apis: apis as GpuApi[] | undefined,
      adapter: v['gpuAdapter'] as string | undefined,
      hardwareOnly: v['gpuHardwareOnly'] as boolean | undefined,
    }),
    quiet: v['quiet'] === true,
    ...(threads !== undefined ? { threads } : {}),
    ...(v['out'] !== undefined ? { out: v['out'] as string } : {}),
    ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
    ...(v['resume'] !== undefined ? { resume: v['resume'] as string } : {}),
  };
}

/** A checkpoint.json in `out` that another run wrote (other options or data, or unreadable), and whose it is. */
function staleCheckpoint(out: string, fingerprint: string): { path: string; whose: string } | undefined {
  const path = join(out, 'checkpoint.json');
  if (!existsSync(path)) return undefined;
  try {
    const c = readCheckpoint(path);
    return c.fingerprint === fingerprint ? undefined : { path, whose: `gpmate run ${c.args.join(' ')}` };
  } catch (e) {
    return { path, whose: (e as Error).message };
  }
}

/** Test rows that are training rows too: said, since their errors are not out-of-sample (the summary records the ranges). */
function warnOverlap(split: TaskSplit | undefined): void {
  const n = split ? overlapRows(split) : 0;
  if (!split?.test || n === 0) return;
  const [a, b] = split.train;
  const [c, d] = split.test;
  process.stderr.write(
    `gpmate: warning: test rows ${c}:${d} overlap training rows ${a}:${b} in ${n} rows; their test errors are not out-of-sample\n`,
  );
}

/** Opens the GPU evaluator for a run and says which adapter computes the fitness (never a silent fallback). */
async function openGpuEvaluator(train: Dataset, inv: RunInvocation, s: RegressionSettings): Promise<GpuEvaluator> {
  const { GpuEvaluator } = await import('../eval/gpu/evaluator.js');
  const maxStackDepth = stackBound(s);
  if (maxStackDepth > 64)
    throw new ConfigError(`option --max-depth: --backend gpu supports trees of depth at most 63 (stack registers), got ${s.maxDepth}`);
  const ev = await GpuEvaluator.create(train, {
    ...inv.gpu,
    maxSize: s.maxSize,
    maxStackDepth,
    rescoreTop: Math.max(1, s.elites),
    fitness: s.linearScaling ? 'scaled-rmse' : 'rmse',
  });
  process.stdout.write(
    `gpu: adapter ${describeAdapter(ev.adapter)}; gpu.js webgpu mode, kernels compiled in ${ev.compileMs.toFixed(0)} ms\n`,
  );
  if (ev.adapter.software)
    process.stdout.write('gpu: note: this adapter is a software renderer on the CPU (use --gpu-hardware-only to refuse it)\n');
  return ev;
}

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(4) : x.toFixed(6);
}

function progressLine(s: GenerationStats): string {
  const pref = s.preference ? `  pref ${s.preference.meanSize.toFixed(1)}` : '';
  return `gen ${String(s.generation).padStart(4)}  best ${fmt(s.bestFitness)}  median ${fmt(s.medianFitness)}  size ${s.meanSize.toFixed(1)}${pref}  unique ${(s.uniqueShare * 100).toFixed(0)}%  evals ${s.evaluations}\n`;
}

/** The summary JSON of a run (deterministic: no timings, no paths). */
export function summaryOf(problem: string, inv: RunInvocation, s: RegressionSettings, r: RegressionResult, split?: TaskSplit): object {
  const { tree: _tree, ...best } = r.best;
  const overlap = split ? overlapRows(split) : 0;
  return {
    gpmate: VERSION,
    problem,
    // a data file's target and row ranges, and how many test rows are training rows too
    ...(split ? { data: { ...split, ...(overlap > 0 ? { overlap } : {}) } } : {}),
    seed: s.seed,
    options: recordedOptions(inv.options, s, { backend: inv.backend }),
    best,
    ...(r.bounds ? { bounds: [r.bounds.lo, r.bounds.hi] } : {}),
    ...(r.bounds?.envelope ? { envelope: r.bounds.envelope } : {}),
    front: r.front.map(({ tree: _t, ...m }) => m),
    selected: r.selected,
    success: r.success,
    generations: r.generations,
    evaluations: r.evaluations,
    // A budget that ended the run early (--max-evaluations, --max-seconds); the best model so far is reported.
    ...(r.stopReason === 'evaluations' || r.stopReason === 'seconds' ? { stoppedBy: r.stopReason } : {}),
  };
}

/** --threads given to a GPU run, started or resumed (`where` adds to the reason). */
function gpuThreadsError(where: string): ConfigError {
  return new ConfigError(`option --threads: only with --backend cpu (the GPU evaluates every tree in one launch${where})`);
}

/** Fingerprint of a run's settings and data: a checkpoint resumes only the run it came from. */
function fingerprintOf(inv: RunInvocation, s: RegressionSettings, train: Dataset): string {
  const h = sha256(canonicalJson({ problem: inv.problem, settings: s }));
  return sha256(h + sha256Base64([train.y, ...train.columns]));
}

/**
 * The SHA-256 of the base64 text of the arrays' bytes one after another, hashed piece by piece: the text of
 * the data of a large CSV file would pass the longest string V8 can make (2^29 - 24 characters, 400 MB of
 * data). Pieces of a multiple of 3 bytes encode to pieces of the same text, so the digest is that of the whole.
 */
export function sha256Base64(arrays: readonly Float64Array[]): string {
  const hash = createHash('sha256');
  const piece = 3 * 2 ** 20;
  let rest = Buffer.alloc(0);
  for (const a of arrays) {
    const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < bytes.length; i += piece) {
      const b = Buffer.concat([rest, bytes.subarray(i, i + piece)]);
      const whole = b.length - (b.length % 3);
      hash.update(b.subarray(0, whole).toString('base64'));
      rest = b.subarray(whole);
    }
  }
  return hash.update(rest.toString('base64')).digest('hex');
}

/** The flags a checkpoint keeps: everything but where output goes and --resume itself. */
function runArgsOf(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const name = a.replace(/=.*$/, '');
    if (name === '--resume' || name === '--out') {
      if (!a.includes('=')) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** A run to do: its invocation, the flags a checkpoint keeps, and the checkpoint it continues. */
interface Job {
  readonly inv: RunInvocation;
  readonly args: readonly string[];
  readonly resumed?: Checkpoint;
}

/**
 * With --resume: the checkpoint and the invocation that wrote it (flags that do not change results may
 * differ: --quiet, --verbose, --checkpoint-every, --threads, --out; any other flag must match the checkpoint's).
 */
function resumeJob(inv: RunInvocation, argv: readonly string[]): Job {
  if (inv.resume === undefined) return { inv, args: runArgsOf(argv) };
  const path = join(inv.resume, 'checkpoint.json');
  if (!existsSync(path)) throw new ConfigError(`option --resume: no checkpoint.json in ${inv.resume}`);
  const resumed = readCheckpoint(path);
  const given = argv.filter((a) => a.startsWith('--') && !/^--(quiet|verbose|checkpoint-every|threads|out|resume)(=|$)/.test(a));
  const stored = parseRunArgs(resumed.args as string[]) as RunInvocation;
  if (stored.backend === 'gpu' && inv.threads !== undefined) throw gpuThreadsError('; the checkpoint is of a GPU run');
  if (given.length > 0 && canonicalJson({ p: inv.problem, o: inv.options }) !== canonicalJson({ p: stored.problem, o: stored.options })) {
    throw new ConfigError(`option --resume: ${path} was written by a run with different options (its options: ${resumed.args.join(' ')})`);
  }
  const every = inv.checkpointEvery ?? stored.checkpointEvery;
  return {
    inv: {
      ...stored,
      ...(inv.threads !== undefined ? { threads: inv.threads } : {}),
      out: inv.out ?? inv.resume,
      quiet: inv.quiet || stored.quiet,
      ...(every ? { checkpointEvery: every } : {}),
    },
    args: resumed.args,
    resumed,
  };
}

/**
 * The evaluator of a run: on the GPU, the device alone for plain RMSE, else the GPU scorer (device scores,
 * constant optimisation and the robustness check on the CPU); on the CPU (in-process or on a worker
 * pool) the kernel for plain RMSE, else the scorer.
 */
async function evaluatorFactory(threads: number, gpu: GpuEvaluator | undefined, s: RegressionSettings): Promise<EvaluatorFactory> {
  if (!gpu)
    return (train, settings) => (isPlainRmse(settings) ? createEvaluator(train, { threads }) : scoringEvaluator(train, settings, threads));
  const { GpuScoringEvaluator } = await import('../sr/scoring-gpu.js');
  return (train, settings) => (isPlainRmse(settings) ? gpu : new GpuScoringEvaluator(gpu, train, settings, Math.max(1, s.elites)));
}

/**
 * The evaluation threads of a run: as given, else decided by the training rows and the run's load
 * (defaultThreads), with why.
 */
function threadsFor(inv: RunInvocation, rows: number, s: RegressionSettings): { threads: number; why?: string } {
  if (inv.threads !== undefined) return { threads: inv.threads };
  return defaultThreads(rows, undefined, { optimiseIterations: s.optimiseIterations, candidates: s.populationSize * s.generations });
}

/**
 * Evolves with one evaluator (a worker pool when threads > 1) for the whole run, closed on exit and on
 * Ctrl-C, which leaves no output behind (results are only written at the end, atomically).
 */
async function evolveRun(
  job: Job,
  task: RegressionTask,
  s: RegressionSettings,
  out: string,
  fingerprint: string,
): Promise<{ result: RegressionResult; log: string[] }> {
  const { inv } = job;
  const log: string[] = [...(job.resumed?.history ?? [])];
  const every = inv.checkpointEvery;
  // Without checkpoints nothing is written before the end (an interrupted run leaves no output).
  if (every !== undefined) {
    makeDir(out);
    removeStaleTemporaries(out);
  }
  if (inv.backend === 'gpu' && (s.selectModel === 'validation' || selectsOnCases(s))) {
    throw new ConfigError(
      'option --backend gpu: scores on every training row, row by row only on the CPU: leave out --select-model validation and --first-parent lexicase/pareto',
    );
  }
  const gpu = inv.backend === 'gpu' ? await openGpuEvaluator(task.train, inv, s) : undefined;
  let evaluator: (Evaluator<Tree> & { close?(): Promise<void> }) | undefined = gpu;
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    process.stderr.write('gpmate: interrupted\n');
    void (evaluator?.close?.() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  const { threads, why } = threadsFor(inv, task.train.rows, s);
  if (!gpu && why !== undefined && !inv.quiet) process.stdout.write(`threads: ${threads} (${why}; --threads N to choose)\n`);
  // In-process evaluation has nothing to release: Ctrl-C keeps its default (immediate exit).
  if (gpu || threads > 1) process.once('SIGINT', onSigint);
  const factory = await evaluatorFactory(threads, gpu, s);
  try {
    const result = await runRegression(
      task,
      inv.options,
      {
        onGeneration: (st) => {
          log.push(JSON.stringify(st));
          if (!inv.quiet) process.stdout.write(progressLine(st));
        },
        onSnapshot: (snapshot: RegressionSnapshot) => {
          if (every !== undefined && snapshot.state.generation % every === 0) {
            writeCheckpoint(join(out, 'checkpoint.json'), { fingerprint, args: [...job.args], history: log, snapshot });
          }
        },
        ...(job.resumed ? { resumeFrom: job.resumed.snapshot } : {}),
      },
      (train, settings) => (evaluator = factory(train, settings)),
    );
    if (gpu) printGpuStats(gpu);
    return { result, log };
  } catch (e) {
    // the evaluation the closing evaluator cut short: the exit with 130 is on its way, nothing more to say
    if (interrupted) await new Promise(() => {});
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    await evaluator?.close?.();
  }
}

function printGpuStats(gpu: GpuEvaluator): void {
  const st = gpu.stats;
  process.stdout.write(
    `gpu: ${st.trees} trees in ${st.launches} launches, ${(st.nodeEvaluations / Math.max(st.deviceSeconds, 1e-9)).toExponential(2)} node-evals/s on the device; ` +
      `${st.rescored} re-scored in f64 (largest f32 relative difference ${st.maxRelativeDifference.toExponential(2)})\n`,
  );
}

function printResult(r: RegressionResult, s: RegressionSettings): void {
  const b = r.best;
  process.stdout.write(
    `\nbest: ${b.expression}\n` +
      `size ${b.size}, depth ${b.depth}\n` +
      `train RMSE ${fmt(b.trainRmse)}  R2 ${fmt(b.trainR2)}\n` +
      `test  RMSE ${fmt(b.testRmse)}  R2 ${fmt(b.testR2)}\n` +
      `success: ${r.success ? 'yes' : 'no'} (train RMSE <= ${s.successThreshold})\n` +
      (r.stopReason === 'evaluations' || r.stopReason === 'seconds'
        ? `stopped by the ${r.stopReason === 'evaluations' ? 'evaluation' : 'time'} budget after generation ${r.generations}\n`
        : ''),
  );
}

/** generations.jsonl, summary.json and model.json, each written atomically. */
function writeResults(
  out: string,
  task: RegressionTask,
  inv: RunInvocation,
  s: RegressionSettings,
  r: RegressionResult,
  log: readonly string[],
): void {
  const b = r.best;
  makeDir(out);
  removeStaleTemporaries(out);
  writeFileAtomic(join(out, 'generations.jsonl'), log.join('\n') + '\n');
  writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summaryOf(task.name, inv, s, r, task.split), null, 2) + '\n');
  const metrics = { trainRmse: b.trainRmse, trainR2: b.trainR2, testRmse: b.testRmse ?? null, testR2: b.testR2 ?? null };
  const finite = (v: number | null) => (v === null || Number.isFinite(v) ? v : null);
  writeFileAtomic(
    join(out, 'model.json'),
    modelJson(b.tree, task.train.names, VERSION, {
      ...(task.split
        ? { target: task.split.target, rows: { train: task.split.train, ...(task.split.test ? { test: task.split.test } : {}) } }
        : {}),
      metrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, finite(v)])),
      ...(r.bounds ? { bounds: r.bounds } : {}),
    }),
  );
}

/**
 * `gpmate run`: validate everything, evolve, then write generations.jsonl, summary.json and
 * model.json atomically. With --checkpoint-every N the full state goes to checkpoint.json every N
 * generations; --resume DIR continues from it.
 */
export async function runCommand(argv: string[]): Promise<number> {
  return namingFlags(RUN_FLAGS, async () => {
    const parsed = parseRunArgs(argv);
    if (parsed === 'help') {
      process.stdout.write(RUN_HELP);
      return 0;
    }
    const resumed = resumeJob(parsed, argv);
    // a GPU run resumed by --resume alone: its Dawn warnings are filtered as when it started
    if (filtersNativeStderr(['run', ...resumed.args, ...argv])) return runWithFilteredStderr(['run', ...argv]);
    const given = resumed.inv.threads;
    const job = { ...resumed, inv: { ...resumed.inv, ...(given !== undefined ? { threads: capThreads(given) } : {}) } };
    const { inv } = job;
    const seed = resolveRegressionOptions(inv.options).seed;
    const task = resolveTask(inv.problem, seed);
    const s = resolveRegressionOptions(inv.options, 'benchmark', task.functions);
    const out = inv.out ?? join('gpmate-runs', `${task.name}-${s.selection}-seed${s.seed}`);
    checkOutputDir(out, 'out');
    const { threads } = threadsFor(inv, task.train.rows, s);
    checkMemory(s, {
      rows: task.train.rows,
      testRows: task.test?.rows ?? 0,
      inputs: task.train.columns.length,
      // each worker's kernel holds its own copy of the data
      dataCopies: inv.backend === 'cpu' && threads > 1 ? threads + 1 : 2,
      checkpoint: inv.checkpointEvery !== undefined,
    });
    const fingerprint = fingerprintOf(inv, s, task.train);
    if (job.resumed && job.resumed.fingerprint !== fingerprint) {
      throw new ConfigError(`option --resume: the checkpoint in ${parsed.resume ?? out} belongs to a run with different options or data`);
    }
    if (job.resumed) {
      const g = job.resumed.snapshot.state.generation;
      process.stdout.write(
        `resuming ${join(parsed.resume as string, 'checkpoint.json')} after generation ${g}: gpmate run ${job.args.join(' ')}\n`,
      );
    }
    const stale = staleCheckpoint(out, fingerprint);
    warnOverlap(task.split);
    const started = Date.now();
    const { result, log } = await evolveRun(job, task, s, out, fingerprint);
    printResult(result, s);
    writeResults(out, task, inv, s, result, log);
    // A checkpoint of another run beside these results would make --resume replace them with that run's.
    if (stale && inv.checkpointEvery === undefined) {
      rmSync(stale.path, { force: true });
      process.stdout.write(`removed ${stale.path}, the checkpoint of another run (${stale.whose})\n`);
    }
    process.stdout.write(`wrote ${out}/summary.json, model.json and generations.jsonl (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    return 0;
  });
}
