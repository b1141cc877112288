/**
 * GPU back-end benchmark: node evaluations per second of the gpu.js/WebGPU evaluator at 1k..1M
 * rows, kernel compile time, and the measured f32-vs-f64 difference. A module the eval benchmark
 * (bench/eval/index.ts) can call (`benchGpu`), and a script of its own:
 *
 *   npm run bench:gpu                      # tsx bench/eval/gpu.ts
 *   tsx bench/eval/gpu.ts --rows 1000,10000 --trees 200 --check
 *
 * `--check` first runs the GPU/CPU agreement check (src/eval/gpu/agreement.ts) on 3000 random
 * trees: bench/device.sh uses it as the GPU test on machines where no test runner travels.
 * Throughput = nodes x rows / seconds for one launch over the whole population (upload,
 * interpreter + reduction kernels, readback), median of the timed repeats after one warm-up.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../../src/core/rng.js';
import { makeDataset, type Dataset } from '../../src/eval/dataset.js';
import { agreementReport, type AgreementReport } from '../../src/eval/gpu/agreement.js';
import { describeAdapter, type GpuApi, type GpuDeviceOptions } from '../../src/eval/gpu/device.js';
import { GpuEvaluator } from '../../src/eval/gpu/evaluator.js';
import { treeRmse } from '../../src/eval/reference.js';
import { randomTree, rampedHalfAndHalf } from '../../src/tree/init.js';
import { FUNCTION_NAMES, primitiveSet } from '../../src/tree/primitives.js';
import { stackDepth, type Tree } from '../../src/tree/tree.js';

export interface GpuBenchOptions {
  /** Row counts to measure (default 1k, 10k, 100k, 1M). */
  readonly rows?: readonly number[];
  /** Trees per launch (default 500: a population); ignored when `population` is given. */
  readonly trees?: number;
  /** The trees to evaluate (default: a generation-0 population of `trees`, see benchPopulation). */
  readonly population?: readonly Tree[];
  /** The data set for a row count (default: syntheticData). */
  readonly data?: (rows: number) => Dataset;
  /** A label printed in front of each line (default "gpu"). */
  readonly label?: string;
  /** Timed launches per row count, after one warm-up (default 5). */
  readonly repeats?: number;
  readonly seed?: number;
  readonly device?: GpuDeviceOptions;
  /** Trees re-scored in f64 on the CPU per row count to measure the f32 difference (default 50; 0 = skip). */
  readonly f64Sample?: number;
  readonly log?: (line: string) => void;
}

export interface GpuBenchRow {
  readonly backend: 'gpu';
  readonly adapter: string;
  readonly rows: number;
  readonly trees: number;
  readonly nodes: number;
  /** Translating and compiling both kernels (WGSL -> device pipeline), ms. */
  readonly compileMs: number;
  /** Median seconds per launch. */
  readonly seconds: number;
  readonly nodeEvalsPerSec: number;
  /** |f32 - f64| / f64 over the sampled finite trees. */
  readonly f32RelativeDifference: { readonly median: number; readonly max: number; readonly sampled: number };
}

/** A synthetic regression data set: 2 inputs on [-3, 3], target x0^2 + sin(x1). */
export function syntheticData(rows: number, seed: number): Dataset {
  const rng = new Rng(`bench-gpu:${seed}:${rows}`);
  const x0 = Float64Array.from({ length: rows }, () => rng.uniform(-3, 3));
  const x1 = Float64Array.from({ length: rows }, () => rng.uniform(-3, 3));
  return makeDataset(
    ['x0', 'x1'],
    [x0, x1],
    x0.map((v, i) => v * v + Math.sin(x1[i] as number)),
  );
}

/** A generation-0 population: ramped half-and-half, depths 2..6, Koza's function set (as `gpmate run`). */
export function benchPopulation(n: number, seed: number): Tree[] {
  const rng = new Rng(`bench-gpu-trees:${seed}`);
  const ps = primitiveSet(['x0', 'x1']);
  return Array.from({ length: n }, (_, i) => rampedHalfAndHalf(rng, ps, 2, 6, i));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] as number) : NaN;
};

/** Measures the GPU evaluator at each row count (one evaluator, hence one kernel compile, per row count). */
export async function benchGpu(o: GpuBenchOptions = {}): Promise<GpuBenchRow[]> {
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const seed = o.seed ?? 1;
  const trees = o.population ?? benchPopulation(o.trees ?? 500, seed);
  const nodes = trees.reduce((s, t) => s + t.op.length, 0);
  const maxSize = Math.max(1, ...trees.map((t) => t.op.length));
  const maxStackDepth = Math.max(1, ...trees.map((t) => stackDepth(t)));
  const label = o.label ?? 'gpu';
  const out: GpuBenchRow[] = [];
  for (const rows of o.rows ?? [1_000, 10_000, 100_000, 1_000_000]) {
    const data = o.data ? o.data(rows) : syntheticData(rows, seed);
    const ev = await GpuEvaluator.create(data, { ...o.device, maxSize, maxStackDepth, rescoreTop: 0 });
    try {
      if (out.length === 0) log(`adapter: ${describeAdapter(ev.adapter)}`);
      let f32 = await ev.evaluateDevice(trees); // warm-up
      const times: number[] = [];
      for (let r = 0; r < (o.repeats ?? 5); r++) {
        const t0 = performance.now();
        f32 = await ev.evaluateDevice(trees);
        times.push((performance.now() - t0) / 1000);
      }
      const seconds = median(times);
      const rels: number[] = [];
      const sample = Math.min(o.f64Sample ?? 50, trees.length);
      for (let i = 0; i < sample; i++) {
        const j = Math.floor((i * trees.length) / sample);
        const exact = treeRmse(trees[j] as Tree, data);
        if (Number.isFinite(exact) && Number.isFinite(f32[j] as number))
          rels.push(Math.abs((f32[j] as number) - exact) / Math.max(exact, 1e-12));
      }
      const row: GpuBenchRow = {
        backend: 'gpu',
        adapter: ev.adapter.name,
        rows,
        trees: trees.length,
        nodes,
        compileMs: ev.compileMs,
        seconds,
        nodeEvalsPerSec: (nodes * rows) / seconds,
        f32RelativeDifference: { median: median(rels), max: rels.length ? Math.max(...rels) : NaN, sampled: rels.length },
      };
      out.push(row);
      log(
        `${label}  rows ${String(rows).padStart(8)}  trees ${trees.length}  nodes ${nodes}  compile ${row.compileMs.toFixed(0).padStart(5)} ms  ` +
          `launch ${(seconds * 1000).toFixed(2).padStart(9)} ms  ${row.nodeEvalsPerSec.toExponential(2)} node-evals/s  ` +
          `f32 vs f64 rel. diff median ${row.f32RelativeDifference.median.toExponential(1)} max ${row.f32RelativeDifference.max.toExponential(1)} (${rels.length} trees)`,
      );
    } finally {
      await ev.close();
    }
  }
  return out;
}

/** The agreement check of test/gpu.test.ts, as a function (3000 random trees, all functions, protected-op and overflow cases). */
export async function gpuAgreementCheck(device: GpuDeviceOptions = {}, n = 3000): Promise<AgreementReport & { adapter: string }> {
  const rng = new Rng(4);
  const rows = 200;
  const x0 = Float64Array.from({ length: rows }, () => rng.uniform(-5, 5));
  const x1 = Float64Array.from({ length: rows }, (_, i) => (i % 10 === 0 ? 0 : rng.uniform(0, 10)));
  const ds = makeDataset(
    ['x0', 'x1'],
    [x0, x1],
    x0.map((v, i) => v * v - Math.sin(x1[i] as number)),
  );
  const ps = primitiveSet(ds.names, { functions: FUNCTION_NAMES, constantRange: [-5, 5] });
  const trees = Array.from({ length: n }, () => randomTree(rng, ps, rng.int(10), rng.chance(0.3)));
  const ev = await GpuEvaluator.create(ds, { ...device, maxSize: 2048, maxStackDepth: 12 });
  try {
    return { ...agreementReport(trees, await ev.evaluateDevice(trees), ds), adapter: describeAdapter(ev.adapter) };
  } finally {
    await ev.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string' },
      trees: { type: 'string' },
      repeats: { type: 'string' },
      'gpu-api': { type: 'string' },
      'gpu-hardware-only': { type: 'boolean' },
      check: { type: 'boolean' },
      json: { type: 'string' },
    },
  });
  const device: GpuDeviceOptions = {
    ...(v['gpu-api'] ? { apis: v['gpu-api'].split(',') as GpuApi[] } : {}),
    ...(v['gpu-hardware-only'] ? { hardwareOnly: true } : {}),
  };
  let ok = true;
  if (v.check) {
    const t0 = performance.now();
    const r = await gpuAgreementCheck(device);
    ok = r.validityFailures.length === 0 && r.toleranceFailures.length <= Math.ceil(r.compared * 0.002);
    process.stdout.write(
      `check: ${ok ? 'PASS' : 'FAIL'} on ${r.adapter}: ${r.compared} trees compared, ${r.invalid} invalid on both, ${r.nearBound} near the bound; ` +
        `validity failures ${r.validityFailures.length}, tolerance failures ${r.toleranceFailures.length}; ` +
        `relative difference median ${r.relative.median.toExponential(1)}, p99 ${r.relative.p99.toExponential(1)}, max ${r.relative.max.toExponential(1)} ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
    );
    for (const f of [...r.validityFailures, ...r.toleranceFailures].slice(0, 5)) process.stdout.write(`  ${f}\n`);
  }
  const rows = await benchGpu({
    ...(v.rows ? { rows: v.rows.split(',').map(Number) } : {}),
    ...(v.trees ? { trees: Number(v.trees) } : {}),
    ...(v.repeats ? { repeats: Number(v.repeats) } : {}),
    device,
  });
  if (v.json) {
    const { writeFileAtomic } = await import('../../src/core/atomic.js');
    writeFileAtomic(v.json, JSON.stringify(rows, null, 2) + '\n');
  }
  return ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`bench:gpu: ${String(e instanceof Error ? e.message : e).split('\n')[0]}\n`);
      process.exitCode = 1;
    },
  );
}
