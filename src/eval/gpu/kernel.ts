import { Op, PROTECT_DIV, PROTECT_LOG } from '../../tree/primitives.js';

/**
 * Source text of the two gpu.js kernels of the GPU evaluator, generated once per evaluator from
 * the shape of the run (rows, variables, register count) and compiled once by gpu.js into WGSL.
 * Plain strings, never `Function.prototype.toString()` of compiled TypeScript: tsx/vitest inject
 * `__name(...)` calls into function sources, which gpu.js cannot translate.
 *
 * Kernel 1 (interpreter) runs one thread per (tree, row block): it interprets the tree's postfix
 * program on every row of its block and returns the block's share of the mean squared error.
 * Kernel 2 (reduction) runs one thread per tree, sums the block shares and returns the RMSE, so
 * one f32 per tree crosses back to the host. Both read the population as data: nothing is
 * recompiled per generation.
 *
 * With linear scaling (`scaled`), the interpreter returns four sums per block instead: the output of
 * the block's first row (a shift), and the sums of d, d^2 and d (y - mean y) for d = output - shift
 * (shifted sums keep f32 cancellation small); the host merges the blocks in f64 (Chan et al.'s
 * pairwise update) into the closed-form optimal scaling and its RMSE.
 *
 * Device semantics (f32): every value is kept within +-{@link GPU_VALUE_BOUND}; a tree whose
 * intermediate value leaves that range, or whose exp argument would, is invalid (the kernels
 * return -1, the host turns it into +Infinity, as the reference does for overflow and NaN).
 * Bounding values, rather than testing results for Inf/NaN afterwards, is what keeps this
 * portable: WGSL lets implementations assume no Inf or NaN occurs, so a shader never creates one.
 * With |v| <= 1e18, a + b, a * b, a / b (|b| > 0.001) and (pred - y)^2 / n all stay finite in f32.
 */

/** Largest magnitude an intermediate value may take on the device (f32 max is 3.4e38; 1e18 squared fits). */
export const GPU_VALUE_BOUND = 1e18;
/** exp(x) exceeds the bound when x > ln(1e18). */
export const GPU_EXP_LIMIT = Math.log(GPU_VALUE_BOUND);

export interface KernelShape {
  /** Rows of the training data. */
  readonly rows: number;
  /** Input variables (columns); the target is stored as one more column after them. */
  readonly variables: number;
  /** Rows one thread evaluates (a row block). */
  readonly rowsPerBlock: number;
  /** Stack registers besides the accumulator: trees need stackDepth <= registers + 1. */
  readonly registers: number;
  /** Floats per tree in the program buffer: 1 (length) + 2 per node. */
  readonly stride: number;
  /** Per-block sums for linear scaling (the target column then holds y - mean y) instead of the error share. */
  readonly scaled?: boolean;
}

export function blocksOf(shape: Pick<KernelShape, 'rows' | 'rowsPerBlock'>): number {
  return Math.ceil(shape.rows / shape.rowsPerBlock);
}

/** A float literal gpu.js emits as f32 (always with a decimal point or exponent). */
function lit(x: number): string {
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * Register access as a binary search on the stack index (log2(K) comparisons instead of a chain
 * of K): gpu.js has no local arrays, so the stack lives in scalar registers r0..r(K-1).
 */
function registerSwitch(lo: number, hi: number, index: string, leaf: (i: number) => string, indent: string): string {
  if (hi - lo === 1) return `${indent}${leaf(lo)}\n`;
  const mid = (lo + hi) >> 1;
  return (
    `${indent}if (${index} < ${mid}) {\n` +
    registerSwitch(lo, mid, index, leaf, indent + '  ') +
    `${indent}} else {\n` +
    registerSwitch(mid, hi, index, leaf, indent + '  ') +
    `${indent}}\n`
  );
}

/**
 * The interpreter kernel: output length = trees x blocks, tree-major, so consecutive threads (one
 * warp / SIMD group) share a tree and its opcodes, and the interpreter's branches do not diverge
 * inside a warp. (gpu.js's 2-D dispatch uses 8x8 workgroups, which would put four trees in each
 * 32-wide warp.) Arguments: prog (trees x stride floats: length, then op/arg pairs in postfix
 * order), nTrees. Constant `data`: (variables + 1) columns x rows, the target last.
 */
export function interpreterSource(s: KernelShape): string {
  const K = Math.max(1, s.registers);
  const NB = blocksOf(s);
  const regs = Array.from({ length: K }, (_, i) => `r${i}`);
  const push = registerSwitch(0, K, 'sp - 1', (i) => `r${i} = acc;`, '            ');
  const pop = registerSwitch(0, K, 'sp - 2', (i) => `a = r${i};`, '            ');
  const twoPiHi = 6.28125; // 2*pi split for Cody-Waite range reduction: hi has few mantissa bits, so k*hi is exact
  const twoPiLo = 2 * Math.PI - twoPiHi;
  return `function gpmateInterpret(prog, nTrees) {
  const flat = this.thread.x;
  let tree = Math.floor(flat / ${lit(NB)});
  let block = flat - tree * ${lit(NB)};
  if (block < 0) { tree = tree - 1; block = block + ${lit(NB)}; }
  if (block >= ${lit(NB)}) { tree = tree + 1; block = block - ${lit(NB)}; }
  if (tree >= nTrees) { return ${s.scaled ? '[0.0, 0.0, 0.0, 0.0]' : '0.0'}; }
  const base = tree * ${lit(s.stride)};
  const len = prog[base];
  const row0 = block * ${lit(s.rowsPerBlock)};
  let sum = 0.0;
  let comp = 0.0;
  let bad = 0.0;
  let shift = 0.0;
  let s2 = 0.0;
  let c2 = 0.0;
  let s3 = 0.0;
  let c3 = 0.0;
  for (let j = 0; j < ${s.rowsPerBlock}; j++) {
    const row = row0 + j;
    if (row < ${lit(s.rows)} && bad < 0.5) {
      let sp = 0;
      let acc = 0.0;
      let a = 0.0;
${regs.map((r) => `      let ${r} = 0.0;`).join('\n')}
      for (let n = 0; n < len; n++) {
        const op = prog[base + 1 + 2 * n];
        const arg = prog[base + 2 + 2 * n];
        if (op < 1.5) {
          if (sp > 0) {
${push}          }
          if (op < 0.5) {
            acc = arg;
          } else {
            acc = this.constants.data[arg][row];
          }
          sp = sp + 1;
        } else if (op < 5.5) {
${pop}          if (op < 2.5) {
            acc = a + acc;
          } else if (op < 3.5) {
            acc = a - acc;
          } else if (op < 4.5) {
            acc = a * acc;
          } else if (Math.abs(acc) > ${lit(PROTECT_DIV)}) {
            acc = a / acc;
          } else {
            acc = 1.0;
          }
          sp = sp - 1;
        } else if (op < 7.5) {
          const k = Math.floor(acc * ${lit(1 / (2 * Math.PI))} + 0.5);
          const red = (acc - k * ${lit(twoPiHi)}) - k * ${lit(twoPiLo)};
          if (op < 6.5) {
            acc = Math.sin(red);
          } else {
            acc = Math.cos(red);
          }
        } else if (op < 8.5) {
          if (acc > ${lit(GPU_EXP_LIMIT)}) {
            bad = 1.0;
            acc = 0.0;
          } else {
            acc = Math.exp(acc);
          }
        } else if (op < 9.5) {
          const m = Math.abs(acc);
          if (m > ${lit(PROTECT_LOG)}) {
            acc = Math.log(m);
          } else {
            acc = 0.0;
          }
        } else if (op < 10.5) {
          acc = Math.sqrt(Math.abs(acc));
        } else if (op < 11.5) {
          acc = 0.0 - acc;
        } else {
          acc = acc * acc;
        }
        if (Math.abs(acc) > ${lit(GPU_VALUE_BOUND)}) {
          bad = 1.0;
          acc = 0.0;
        }
      }
${s.scaled ? scaledSums(s) : errorSum(s)}
    }
  }
${
  s.scaled
    ? `  if (bad > 0.5) { return [0.0, 0.0, -1.0, 0.0]; }
  return [shift, sum, s2, s3];`
    : `  if (bad > 0.5) { return -1.0; }
  return sum;`
}
}`;
}

/** Per row: the row's share of the mean squared error, summed with Kahan compensation. */
function errorSum(s: KernelShape): string {
  return `      const e = acc - this.constants.data[${lit(s.variables)}][row];
      const term = e * e * ${lit(1 / s.rows)} - comp;
      const t = sum + term;
      comp = (t - sum) - term;
      sum = t;`;
}

/**
 * Per row, for linear scaling: d = output - shift (the block's first output), and the sums of d, d^2
 * and d (y - mean y), each divided by the row count (which keeps them within f32 range: |d| and
 * |y - mean y| stay below 2e18), with Kahan compensation.
 */
function scaledSums(s: KernelShape): string {
  const r = lit(1 / s.rows);
  return `      if (j < 1) { shift = acc; }
      const d = acc - shift;
      const yc = this.constants.data[${lit(s.variables)}][row];
      const t1 = d * ${r} - comp;
      const u1 = sum + t1;
      comp = (u1 - sum) - t1;
      sum = u1;
      const t2 = d * d * ${r} - c2;
      const u2 = s2 + t2;
      c2 = (u2 - s2) - t2;
      s2 = u2;
      const t3 = d * yc * ${r} - c3;
      const u3 = s3 + t3;
      c3 = (u3 - s3) - t3;
      s3 = u3;`;
}

/** The reduction kernel: one thread per tree sums its blocks' shares (Kahan) and returns the RMSE, or -1 if any block was invalid. */
export function reductionSource(s: Pick<KernelShape, 'rows' | 'rowsPerBlock'>): string {
  const NB = blocksOf(s);
  return `function gpmateReduce(partial, nTrees) {
  const tree = this.thread.x;
  if (tree >= nTrees) { return 0.0; }
  const base = tree * ${lit(NB)};
  let sum = 0.0;
  let comp = 0.0;
  let bad = 0.0;
  for (let b = 0; b < ${NB}; b++) {
    const p = partial[base + b];
    if (p < 0) { bad = 1.0; }
    const term = p - comp;
    const t = sum + term;
    comp = (t - sum) - term;
    sum = t;
  }
  if (bad > 0.5) { return -1.0; }
  return Math.sqrt(Math.max(sum, 0.0));
}`;
}

/** Opcodes the interpreter knows (all of them; checked so a new opcode cannot be silently misread). */
export const GPU_OPCODES: readonly number[] = Object.values(Op);
