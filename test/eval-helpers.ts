import { Rng } from '../src/core/rng.js';
import { makeDataset, type Dataset } from '../src/eval/dataset.js';
import { FUNCTION_NAMES, Op, primitiveSet } from '../src/tree/primitives.js';
import { randomTree } from '../src/tree/init.js';
import type { Tree } from '../src/tree/tree.js';

/** Values that sit on the edges of the protected operators and of overflow. */
const SPECIAL = [0, -0, 0.001, -0.001, 0.0010000000000000002, 0.0009999999999999998, 1e-300, -1e100, 710, -745, 1e154, 2, -1];

/** A data set whose inputs mix ordinary values with edge values (for bitwise agreement tests). */
export function edgeDataset(rng: Rng, rows: number, vars = 3): Dataset {
  const names = Array.from({ length: vars }, (_, j) => `x${j}`);
  const density = Math.min(0.1, 3 / rows);
  const cols = names.map(() =>
    Float64Array.from({ length: rows }, () => (rng.chance(density) ? (rng.pick(SPECIAL) as number) : rng.uniform(-3, 3))),
  );
  const y = Float64Array.from({ length: rows }, (_, r) => Math.sin(cols[0]![r]!) + cols[1]![r]! * 0.5);
  return makeDataset(names, cols, y);
}

/** Random trees over every function, up to `maxNodes` nodes, some constants replaced by edge values. */
export function randomTrees(rng: Rng, count: number, vars: number, functions: readonly string[] = FUNCTION_NAMES, maxNodes = 64): Tree[] {
  const ps = primitiveSet(
    Array.from({ length: vars }, (_, j) => `x${j}`),
    { functions, constantProbability: 0.3, constantRange: [-2, 2] },
  );
  const trees: Tree[] = [];
  while (trees.length < count) {
    const t = randomTree(rng, ps, rng.int(8), rng.chance(0.5));
    if (t.op.length > maxNodes) continue;
    for (let i = 0; i < t.op.length; i++) {
      if (t.op[i] === Op.Const && rng.chance(0.2)) t.arg[i] = rng.pick(SPECIAL) as number;
    }
    trees.push(t);
  }
  return trees;
}
