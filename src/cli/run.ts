import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveTask, type ProblemSpec } from '../../problems/index.js';
import { writeFileAtomic } from '../core/atomic.js';
import type { GenerationStats } from '../core/evolve.js';
import { ConfigError } from '../core/errors.js';
import { GPMATE_VERSION } from '../core/version.js';
import { resolveEvolutionOptions, stripUndefined } from '../core/options.js';
import type { Evaluator, ObjectiveMode, PreferenceInheritance, SelectionMode } from '../core/types.js';
import type { Dataset } from '../eval/dataset.js';
import { createEvaluator } from '../eval/fast.js';
import { describeAdapter, GPU_APIS, type GpuApi, type GpuDeviceOptions } from '../eval/gpu/device.js';
import type { GpuEvaluator } from '../eval/gpu/evaluator.js';
import { readCheckpoint, writeCheckpoint } from '../sr/checkpoint.js';
import { isPlainRmse } from '../sr/fitness.js';
import { scoringEvaluator } from '../sr/pool.js';
import { modelJson, sha256 } from '../sr/model.js';
import type { ModelSelection } from '../sr/pareto.js';
import { runRegression, type MateDistanceKind, type RegressionOptions, type RegressionResult, type RegressionSnapshot } from '../sr/run.js';
import { DATA_FUNCTIONS } from '../tree/primitives.js';
import type { Tree } from '../tree/tree.js';
import type { MutationType } from '../tree/variation.js';
import { parse } from './args.js';

export const RUN_HELP = `gpmate run: evolve a formula

Problem (one of):
  --problem NAME            koza-1 (default), nguyen-1..7, keijzer-6, pagie-1, korns-12, vladislavleva-4
  --data FILE.csv           numeric CSV with a header; reads FILE.json beside it (Operon's format) if present
    --meta FILE.json        description file to use instead
    --target COL            target column (default: the JSON's, else the last column)
    --train START:END       training rows, half-open (default: the JSON's, else all)
    --test START:END        test rows (default: the JSON's, else none)

Selection:
  --selection MODE          pimp (default) | tournament | random-mate
  --tournament K            tournament size (default 5)
  --pool M                  candidates per mate choice (default: tournament size)
  --distance D              pimp distance: structural (default) | semantic
  --preference-inheritance  crossover (default) | chooser

Search:
  --population N            (default 500)      --generations G   (default 50)
  --crossover-rate P        (default 0.9)      --mutation-rate P (default 0.1)
  --mutation TYPE           subtree (default) | point
  --mutation-depth D        subtree mutation's new-subtree depth (default 4)
  --elites E                (default 1)
  --max-depth D             (default 17)       --max-size S      (default 256; 64 with --data)
  --init-depth MIN:MAX      ramped half-and-half (default 2:6)
  --functions LIST          add,sub,mul,div,sin,cos,exp,log (default for --problem), sqrt, neg, square;
                            default for --data: add,sub,mul,div,exp,log,sqrt,square (no trigonometry)
  --constant-prob P         terminal is a constant (default 0.2)
  --constant-range LO:HI    (default -1:1)
  --success-threshold T     success if best train RMSE <= T (default 0.01)
  --stop-on-success         stop once the threshold is reached

Regression:
  --linear-scaling on|off   fitness = RMSE after optimal offset/slope (default: on for --data, off for --problem)
  --optimise N              constant optimisation: N model evaluations per candidate (0 = off;
                            default: 5 for --data, 0 for --problem)
    --lm-iterations N       the same
    --optimise-rows R       fit constants on at most R training rows, evenly strided (default: 256
                            for --data, else all rows)
    --optimiser M           lm (Levenberg-Marquardt, default) | gradient
    --lamarckian            write tuned constants back into the genomes (default for --data)
    --baldwinian            score with tuned constants but keep the genomes' own (default for --problem)
  --robust on|off           reject models that leave 10x the target range on the training box
                            widened by 10% (interval arithmetic; default: on for --data)
  --clamp on|off            clamp the model's predictions to the training target's range (never worse
                            on training rows; default: on for --data)
  --objectives O            error (default) | error-size (NSGA-II on error and size)
  --select-model M          best (default) | score (PySR's knee) | validation (every 4th training row held out)

Fitness back end:
  --backend B               cpu (default) | gpu: gpu.js in webgpu mode on Dawn (f32 on the device;
                            the best trees are re-scored in f64, so every reported number is f64)
  --gpu-api LIST            Dawn back ends to try, in order (default vulkan,opengles)
  --gpu-adapter TEXT        use only an adapter whose name contains TEXT
  --gpu-hardware-only       refuse software renderers (llvmpipe, lavapipe, SwiftShader)

Run:
  --seed N                  (default 1)
  --threads N               evaluation threads (default: the number of cores); 1 = in-process.
                            Results are identical for every thread count.
  --out DIR                 output folder (default gpmate-runs/<problem>-<selection>-seed<N>)
  --checkpoint-every N      write DIR/checkpoint.json every N generations (atomic, checksummed)
  --resume DIR              continue the run whose checkpoint is in DIR (same options; writes into DIR
                            unless --out is given); the results equal those of an uninterrupted run
  --quiet                   no per-generation lines
`;

const FLAG_OF: Record<string, string> = {
  populationSize: 'population',
  generations: 'generations',
  tournamentSize: 'tournament',
  poolSize: 'pool',
  crossoverRate: 'crossover-rate',
  mutationRate: 'mutation-rate',
  elites: 'elites',
  selection: 'selection',
  preferenceInheritance: 'preference-inheritance',
  maxDepth: 'max-depth',
  maxSize: 'max-size',
  mutationDepth: 'mutation-depth',
  mutation: 'mutation',
  functions: 'functions',
  constantProbability: 'constant-prob',
  constantRange: 'constant-range',
  successThreshold: 'success-threshold',
  distance: 'distance',
  optimiseIterations: 'optimise',
  optimiseRows: 'optimise-rows',
  optimiser: 'optimiser',
  objectives: 'objectives',
  selectModel: 'select-model',
};

/** Rewrites "option populationSize: ..." into "option --population: ..." for command-line users. */
function asFlagError(e: unknown): unknown {
  if (!(e instanceof ConfigError)) return e;
  const m = /^option ([A-Za-z]+)( \([a-z]+\))?:/.exec(e.message);
  const flag = m ? FLAG_OF[m[1] as string] : undefined;
  return flag ? new ConfigError(e.message.replace(/^option [A-Za-z]+/, `option --${flag}`)) : e;
}

const OPTIONS = {
  problem: { type: 'string' },
  data: { type: 'string' },
  meta: { type: 'string' },
  target: { type: 'string' },
  train: { type: 'string' },
  test: { type: 'string' },
  selection: { type: 'string' },
  tournament: { type: 'string' },
  pool: { type: 'string' },
  distance: { type: 'string' },
  'preference-inheritance': { type: 'string' },
  population: { type: 'string' },
  generations: { type: 'string' },
  'crossover-rate': { type: 'string' },
  'mutation-rate': { type: 'string' },
  mutation: { type: 'string' },
  'mutation-depth': { type: 'string' },
  elites: { type: 'string' },
  'max-depth': { type: 'string' },
  'max-size': { type: 'string' },
  'init-depth': { type: 'string' },
  functions: { type: 'string' },
  'constant-prob': { type: 'string' },
  'constant-range': { type: 'string' },
  'success-threshold': { type: 'string' },
  'stop-on-success': { type: 'boolean' },
  'linear-scaling': { type: 'string' },
  optimise: { type: 'string' },
  'lm-iterations': { type: 'string' },
  'optimise-rows': { type: 'string' },
  optimiser: { type: 'string' },
  lamarckian: { type: 'boolean' },
  baldwinian: { type: 'boolean' },
  robust: { type: 'string' },
  clamp: { type: 'string' },
  objectives: { type: 'string' },
  'select-model': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'string' },
  backend: { type: 'string' },
  'gpu-api': { type: 'string' },
  'gpu-adapter': { type: 'string' },
  'gpu-hardware-only': { type: 'boolean' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where fitness is computed: in-process on the CPU, or on a WebGPU adapter. */
export type Backend = 'cpu' | 'gpu';
export const BACKENDS = ['cpu', 'gpu'] as const satisfies readonly Backend[];

export interface RunInvocation {
  readonly problem: ProblemSpec;
  readonly options: RegressionOptions;
  readonly backend: Backend;
  /** Adapter choice for `--backend gpu`. */
  readonly gpu: GpuDeviceOptions;
  readonly out?: string;
  readonly quiet: boolean;
  /** Evaluation threads (1 = in-process). */
  readonly threads: number;
  readonly checkpointEvery?: number;
  readonly resume?: string;
}

function onOff(flag: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new ConfigError(`option --${flag}: expected on or off, got "${v}"`);
}

/** Parses and validates `gpmate run` arguments into run settings (nothing is read or written). */
export function parseRunArgs(argv: string[]): RunInvocation | 'help' {
  const { values: v } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  if (v.help) return 'help';
  const train = parse.pair('train', v.train, true);
  const test = parse.pair('test', v.test, true);
  const problem: ProblemSpec = stripUndefined({
    problem: v.problem,
    data: v.data,
    meta: v.meta,
    target: v.target,
    train: train && { start: train[0], end: train[1] },
    test: test && { start: test[0], end: test[1] },
  });
  const seed = parse.int('seed', v.seed) ?? 1;
  const csv = v.data !== undefined;
  const optimise = parse.int('optimise', v.optimise) ?? parse.int('lm-iterations', v['lm-iterations']);
  if (v.lamarckian && v.baldwinian) throw new ConfigError('options --lamarckian and --baldwinian: give one of them, not both');
  const checkpointEvery = parse.int('checkpoint-every', v['checkpoint-every']);
  if (checkpointEvery !== undefined && checkpointEvery < 1)
    throw new ConfigError(`option --checkpoint-every: expected an integer >= 1, got ${checkpointEvery}`);
  const successThreshold = parse.num('success-threshold', v['success-threshold']);
  const options: RegressionOptions = {
    seed,
    ...stripUndefined({
      selection: v.selection as SelectionMode | undefined,
      tournamentSize: parse.int('tournament', v.tournament),
      poolSize: parse.int('pool', v.pool),
      distance: v.distance as MateDistanceKind | undefined,
      preferenceInheritance: v['preference-inheritance'] as PreferenceInheritance | undefined,
      populationSize: parse.int('population', v.population),
      generations: parse.int('generations', v.generations),
      crossoverRate: parse.num('crossover-rate', v['crossover-rate']),
      mutationRate: parse.num('mutation-rate', v['mutation-rate']),
      mutation: v.mutation as MutationType | undefined,
      mutationDepth: parse.int('mutation-depth', v['mutation-depth']),
      elites: parse.int('elites', v.elites),
      maxDepth: parse.int('max-depth', v['max-depth']),
      // Real data over-fits with large trees (Operon's default length limit is 50): 64 nodes for --data.
      maxSize: parse.int('max-size', v['max-size']) ?? (csv ? 64 : undefined),
      initDepth: parse.pair('init-depth', v['init-depth'], true),
      functions: parse.list(v.functions) ?? (csv ? [...DATA_FUNCTIONS] : undefined),
      constantProbability: parse.num('constant-prob', v['constant-prob']),
      constantRange: parse.pair('constant-range', v['constant-range']),
      successThreshold,
      stopFitness: v['stop-on-success'] ? (successThreshold ?? 0.01) : undefined,
      linearScaling: onOff('linear-scaling', v['linear-scaling']) ?? csv,
      robust: onOff('robust', v.robust) ?? csv,
      clamp: onOff('clamp', v.clamp) ?? csv,
      // Real data: LM on a strided subsample of at most 256 rows, 5 evaluations, written back
      // (bench/RESULTS-realworld.md measures it against no optimisation).
      optimiseIterations: optimise ?? (csv ? 5 : undefined),
      optimiseRows: parse.int('optimise-rows', v['optimise-rows']) ?? (csv ? 256 : undefined),
      optimiser: v.optimiser as 'lm' | 'gradient' | undefined,
      lamarckian: v.lamarckian ?? (v.baldwinian ? false : csv || undefined),
      objectives: v.objectives as ObjectiveMode | undefined,
      selectModel: v['select-model'] as ModelSelection | undefined,
    }),
  };
  if (seed < 0) throw new ConfigError(`option --seed: expected an integer >= 0, got ${seed}`);
  const backend = (v.backend ?? 'cpu') as Backend;
  if (!BACKENDS.includes(backend)) throw new ConfigError(`option --backend: expected cpu or gpu, got "${v.backend}"`);
  const apis = parse.list(v['gpu-api']);
  for (const a of apis ?? []) {
    if (!(GPU_APIS as readonly string[]).includes(a))
      throw new ConfigError(`option --gpu-api: unknown WebGPU back end "${a}" (known: ${GPU_APIS.join(', ')})`);
  }
  if (backend === 'cpu' && (apis || v['gpu-adapter'] !== undefined || v['gpu-hardware-only'])) {
    throw new ConfigError('option --gpu-api/--gpu-adapter/--gpu-hardware-only: only with --backend gpu');
  }
  const gpu: GpuDeviceOptions = stripUndefined({
    apis: apis as GpuApi[] | undefined,
    adapter: v['gpu-adapter'],
    hardwareOnly: v['gpu-hardware-only'],
  });
  const threads = parse.int('threads', v.threads) ?? availableParallelism();
  if (threads < 1) throw new ConfigError(`option --threads: expected an integer >= 1, got ${threads}`);
  if (backend === 'gpu' && v.threads !== undefined)
    throw new ConfigError('option --threads: only with --backend cpu (the GPU evaluates every tree in one launch)');
  return {
    problem,
    options,
    backend,
    gpu,
    quiet: v.quiet ?? false,
    threads,
    ...(v.out !== undefined ? { out: v.out } : {}),
    ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
    ...(v.resume !== undefined ? { resume: v.resume } : {}),
  };
}

/** Opens the GPU evaluator for a run and says which adapter computes the fitness (never a silent fallback). */
async function openGpuEvaluator(train: Dataset, inv: RunInvocation): Promise<GpuEvaluator> {
  const { GpuEvaluator } = await import('../eval/gpu/evaluator.js');
  const o = inv.options;
  const maxDepth = o.maxDepth ?? 17;
  const maxSize = o.maxSize ?? 256;
  // A tree of depth d needs a stack of at most d + 1 (and a binary tree of n nodes at most (n + 1) / 2).
  const maxStackDepth = Math.min(maxDepth + 1, Math.ceil((maxSize + 1) / 2));
  if (maxStackDepth > 64)
    throw new ConfigError(`option --max-depth: --backend gpu supports trees of depth at most 63 (stack registers), got ${maxDepth}`);
  const ev = await GpuEvaluator.create(train, {
    ...inv.gpu,
    maxSize,
    maxStackDepth,
    rescoreTop: Math.max(1, resolveEvolutionOptions(o).elites),
  });
  process.stdout.write(
    `gpu: adapter ${describeAdapter(ev.adapter)}; gpu.js webgpu mode, kernels compiled in ${ev.compileMs.toFixed(0)} ms\n`,
  );
  if (ev.adapter.software)
    process.stdout.write('gpu: note: this adapter is a software renderer on the CPU (use --gpu-hardware-only to refuse it)\n');
  return ev;
}

function fmt(x: number | undefined): string {
  if (x === undefined) return 'n/a';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(4) : x.toFixed(6);
}

function progressLine(s: GenerationStats): string {
  const pref = s.preference ? `  pref ${s.preference.meanSize.toFixed(1)}` : '';
  return `gen ${String(s.generation).padStart(4)}  best ${fmt(s.bestFitness)}  median ${fmt(s.medianFitness)}  size ${s.meanSize.toFixed(1)}${pref}  unique ${(s.uniqueShare * 100).toFixed(0)}%  evals ${s.evaluations}\n`;
}

/** The summary JSON of a run (deterministic: no timings, no paths). */
export function summaryOf(problem: string, inv: RunInvocation, r: RegressionResult): object {
  const { tree: _tree, ...best } = r.best;
  const o = inv.options;
  return {
    gpmate: GPMATE_VERSION,
    problem,
    seed: o.seed,
    options: {
      ...resolveEvolutionOptions(o),
      distance: o.distance ?? 'structural',
      mutation: o.mutation ?? 'subtree',
      backend: inv.backend,
      ...stripUndefined({
        mutationDepth: o.mutationDepth,
        maxDepth: o.maxDepth,
        maxSize: o.maxSize,
        initDepth: o.initDepth,
        functions: o.functions,
        constantProbability: o.constantProbability,
        constantRange: o.constantRange,
      }),
      successThreshold: o.successThreshold ?? 0.01,
      linearScaling: o.linearScaling ?? false,
      robust: o.robust ?? false,
      clamp: o.clamp ?? false,
      optimiseIterations: o.optimiseIterations ?? 0,
      ...(o.optimiseIterations
        ? {
            optimiser: o.optimiser ?? 'lm',
            lamarckian: o.lamarckian ?? false,
            ...(o.optimiseRows !== undefined ? { optimiseRows: o.optimiseRows } : {}),
          }
        : {}),
      selectModel: o.selectModel ?? 'best',
    },
    best,
    ...(r.bounds ? { bounds: [r.bounds.lo, r.bounds.hi] } : {}),
    front: r.front.map(({ tree: _t, ...m }) => m),
    selected: r.selected,
    success: r.success,
    generations: r.generations,
    evaluations: r.evaluations,
  };
}

/** Fingerprint of a run's settings and data: a checkpoint resumes only the run it came from. */
function fingerprintOf(inv: RunInvocation, train: Dataset): string {
  const h = sha256(JSON.stringify({ problem: inv.problem, options: inv.options }));
  const data = sha256(
    Buffer.concat([train.y, ...train.columns].map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))).toString('base64'),
  );
  return sha256(h + data);
}

/** The flags a checkpoint keeps: everything but where output goes and --resume itself. */
function runArgsOf(argv: string[]): string[] {
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

/**
 * `gpmate run`: validate everything, evolve, then write generations.jsonl, summary.json and
 * model.json atomically. With --checkpoint-every N the full state goes to checkpoint.json every N
 * generations; --resume DIR continues from it.
 */
export async function runCommand(argv: string[]): Promise<number> {
  let inv: RunInvocation | 'help';
  try {
    inv = parseRunArgs(argv);
    if (inv === 'help') {
      process.stdout.write(RUN_HELP);
      return 0;
    }
    let resumed: ReturnType<typeof readCheckpoint> | undefined;
    let args = runArgsOf(argv);
    if (inv.resume !== undefined) {
      const path = join(inv.resume, 'checkpoint.json');
      if (!existsSync(path)) throw new ConfigError(`option --resume: no checkpoint.json in ${inv.resume}`);
      resumed = readCheckpoint(path);
      // Flags that do not change results may differ on resume; any other flag must match the checkpoint's.
      const given = argv.filter((a) => a.startsWith('--') && !/^--(quiet|checkpoint-every|threads|out|resume)(=|$)/.test(a));
      const stored = parseRunArgs(resumed.args as string[]) as RunInvocation;
      if (
        given.length > 0 &&
        JSON.stringify({ p: (inv as RunInvocation).problem, o: (inv as RunInvocation).options }) !==
          JSON.stringify({ p: stored.problem, o: stored.options })
      ) {
        throw new ConfigError(
          `option --resume: ${path} was written by a run with different options (its options: ${resumed.args.join(' ')})`,
        );
      }
      args = resumed.args as string[];
      inv = {
        ...stored,
        threads: inv.threads,
        out: inv.out ?? inv.resume,
        quiet: inv.quiet || stored.quiet,
        ...((inv.checkpointEvery ?? stored.checkpointEvery)
          ? { checkpointEvery: (inv.checkpointEvery ?? stored.checkpointEvery) as number }
          : {}),
      };
    }
    const invocation: RunInvocation = inv;
    const task = resolveTask(invocation.problem, invocation.options.seed);
    const out =
      invocation.out ?? join('gpmate-runs', `${task.name}-${invocation.options.selection ?? 'pimp'}-seed${invocation.options.seed}`);
    const fingerprint = fingerprintOf(invocation, task.train);
    if (resumed && resumed.fingerprint !== fingerprint) {
      throw new ConfigError(
        `option --resume: the checkpoint in ${invocation.resume ?? out} belongs to a run with different options or data`,
      );
    }
    const started = Date.now();
    const log: string[] = [...(resumed?.history ?? [])];
    const every = invocation.checkpointEvery;
    // Without checkpoints nothing is written before the end (an interrupted run leaves no output).
    if (every !== undefined) mkdirSync(out, { recursive: true });
    // One evaluator (a worker pool when threads > 1) for the whole run; closed on exit and on Ctrl-C,
    // which leaves no output behind (results are only written at the end, atomically). Plain RMSE
    // uses the fast kernel; scaled fitness, constant optimisation or the robustness check the scorer
    // (in-process, or the pool's 'score' tasks).
    // The GPU back end computes plain RMSE on all training rows (f32 on the device, best re-scored in f64).
    const o = invocation.options;
    if (
      invocation.backend === 'gpu' &&
      (o.linearScaling || o.robust || (o.optimiseIterations ?? 0) > 1 || o.selectModel === 'validation')
    ) {
      throw new ConfigError(
        'option --backend gpu: computes plain RMSE only; add --linear-scaling off --robust off --optimise 0, and leave out --select-model validation',
      );
    }
    const gpu = invocation.backend === 'gpu' ? await openGpuEvaluator(task.train, invocation) : undefined;
    let evaluator: (Evaluator<Tree> & { close(): Promise<void> }) | undefined = gpu;
    const onSigint = (): void => {
      process.stderr.write('gpmate: interrupted\n');
      void (evaluator?.close() ?? Promise.resolve()).finally(() => process.exit(130));
    };
    // In-process evaluation has nothing to release: Ctrl-C keeps its default (immediate exit).
    if (gpu || invocation.threads > 1) process.once('SIGINT', onSigint);
    let result: RegressionResult;
    try {
      result = await runRegression(
        task,
        invocation.options,
        {
          onGeneration: (s) => {
            log.push(JSON.stringify(s));
            if (!invocation.quiet) process.stdout.write(progressLine(s));
          },
          onSnapshot: (snapshot: RegressionSnapshot) => {
            if (every !== undefined && snapshot.state.generation % every === 0) {
              writeCheckpoint(join(out, 'checkpoint.json'), { fingerprint, args, history: log, snapshot });
            }
          },
          ...(resumed ? { resumeFrom: resumed.snapshot } : {}),
        },
        (train, settings) =>
          (evaluator =
            gpu ??
            (isPlainRmse(settings)
              ? createEvaluator(train, { threads: invocation.threads })
              : scoringEvaluator(train, settings, invocation.threads))),
      );
    } finally {
      process.off('SIGINT', onSigint);
      await evaluator?.close();
    }
    if (gpu) {
      const st = gpu.stats;
      process.stdout.write(
        `gpu: ${st.trees} trees in ${st.launches} launches, ${(st.nodeEvaluations / Math.max(st.deviceSeconds, 1e-9)).toExponential(2)} node-evals/s on the device; ` +
          `${st.rescored} re-scored in f64 (largest f32 relative difference ${st.maxRelativeDifference.toExponential(2)})\n`,
      );
    }
    const b = result.best;
    process.stdout.write(
      `\nbest: ${b.expression}\n` +
        `size ${b.size}, depth ${b.depth}\n` +
        `train RMSE ${fmt(b.trainRmse)}  R2 ${fmt(b.trainR2)}\n` +
        `test  RMSE ${fmt(b.testRmse)}  R2 ${fmt(b.testR2)}\n` +
        `success: ${result.success ? 'yes' : 'no'} (train RMSE <= ${invocation.options.successThreshold ?? 0.01})\n`,
    );
    mkdirSync(out, { recursive: true });
    writeFileAtomic(join(out, 'generations.jsonl'), log.join('\n') + '\n');
    writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summaryOf(task.name, invocation, result), null, 2) + '\n');
    const metrics = { trainRmse: b.trainRmse, trainR2: b.trainR2, testRmse: b.testRmse ?? null, testR2: b.testR2 ?? null };
    const finite = (v: number | null) => (v === null || Number.isFinite(v) ? v : null);
    writeFileAtomic(
      join(out, 'model.json'),
      modelJson(b.tree, task.train.names, GPMATE_VERSION, {
        metrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, finite(v)])),
        ...(result.bounds ? { bounds: result.bounds } : {}),
      }),
    );
    process.stdout.write(`wrote ${out}/summary.json, model.json and generations.jsonl (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    return 0;
  } catch (e) {
    throw asFlagError(e);
  }
}
