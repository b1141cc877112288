import { groupTrees, type Tree } from '../tree/tree.js';

/**
 * A batch of trees in one flat encoding: tree t is op/arg[offsets[t], offsets[t + 1]). With `shared`
 * the arrays live in SharedArrayBuffers, so worker threads read them without a copy.
 */
export interface EncodedTrees {
  readonly count: number;
  readonly op: Uint8Array;
  readonly arg: Float64Array;
  readonly offsets: Int32Array;
}

export function encodeTrees(trees: readonly Tree[], shared = false): EncodedTrees {
  let nodes = 0;
  for (const t of trees) nodes += t.op.length;
  const buf = (bytes: number): ArrayBufferLike => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  const op = new Uint8Array(buf(nodes));
  const arg = new Float64Array(buf(nodes * 8));
  const offsets = new Int32Array(buf((trees.length + 1) * 4));
  let at = 0;
  trees.forEach((t, i) => {
    offsets[i] = at;
    op.set(t.op, at);
    arg.set(t.arg, at);
    at += t.op.length;
  });
  offsets[trees.length] = at;
  return { count: trees.length, op, arg, offsets };
}

/** Rebuilds the arrays of an encoding received from another thread (shared buffers, no copy). */
export function encodedFrom(e: { op: Uint8Array; arg: Float64Array; offsets: Int32Array }): EncodedTrees {
  return { count: e.offsets.length - 1, op: e.op, arg: e.arg, offsets: e.offsets };
}

/**
 * Distinct trees of a batch: `unique` holds the first occurrence of each genotype, `index[i]` the
 * position in `unique` of tree i. Populations carry copies (elites, reproduction, crossover of equal
 * parents), and each copy's fitness is the same, so it is computed once. Trees are hashed (FNV-1a
 * over opcodes and argument bits) and compared exactly on a hash match.
 */
export function dedupe(trees: readonly Tree[]): { unique: Tree[]; index: Int32Array } {
  const { group, count } = groupTrees(trees, false);
  const unique: Tree[] = new Array<Tree>(count);
  for (let i = trees.length - 1; i >= 0; i--) unique[group[i] as number] = trees[i] as Tree;
  return { unique, index: group };
}

/** Spreads per-unique values back to every tree. */
export function expand(values: Float64Array, index: Int32Array): Float64Array {
  const out = new Float64Array(index.length);
  for (let i = 0; i < index.length; i++) out[i] = values[index[i] as number] as number;
  return out;
}
