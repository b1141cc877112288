import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { dedupe } from '../src/eval/encode.js';
import { topDownDistance } from '../src/tree/distance.js';
import { rampedHalfAndHalf, randomTree } from '../src/tree/init.js';
import { parseInfix } from '../src/tree/parse.js';
import { FUNCTION_NAMES, Op, primitiveSet } from '../src/tree/primitives.js';
import { toInfix } from '../src/tree/print.js';
import { treeRepresentation } from '../src/tree/representation.js';
import {
  depth,
  distinctTrees,
  isValidTree,
  makeTree,
  replaceSubtree,
  stackDepth,
  subtree,
  subtreeHeights,
  subtreeSizes,
  treeKey,
  treesEqual,
  type Tree,
} from '../src/tree/tree.js';
import { pointMutation, subtreeCrossover, subtreeMutation } from '../src/tree/variation.js';

const names = ['x', 'y', 'z'];
const ps = primitiveSet(names, { functions: FUNCTION_NAMES });
const lim = { maxDepth: 8, maxSize: 60 };

describe('tree encoding', () => {
  it('computes sizes, depth and stack depth of a hand-built tree', () => {
    const t = parseInfix('(x + 2) * sin(y)', names); // postfix: x 2 + y sin *
    expect(Array.from(t.op)).toEqual([Op.Var, Op.Const, Op.Add, Op.Var, Op.Sin, Op.Mul]);
    expect(Array.from(subtreeSizes(t))).toEqual([1, 1, 3, 1, 2, 6]);
    expect(depth(t)).toBe(2);
    expect(stackDepth(t)).toBe(2);
    expect(stackDepth(parseInfix('x * (y + (z - 1))', names))).toBe(4);
    expect(toInfix(subtree(t, 2), names)).toBe('x + 2');
    expect(toInfix(replaceSubtree(t, 4, parseInfix('z', names)), names)).toBe('(x + 2) * z');
  });

  it('gives the same depth before a tree has a shape (a pass of its own) and after (the root height of its shape)', () => {
    const rng = new Rng('depth');
    for (let k = 0; k < 300; k++) {
      const t = randomTree(rng, ps, k % 7, k % 2 === 0);
      const plain = { op: t.op, arg: t.arg }; // not made by the tree layer: never has a cached shape
      const before = depth(t);
      const heights = subtreeHeights(t);
      expect(before).toBe(heights[heights.length - 1]);
      expect(depth(t)).toBe(before);
      expect(depth(plain)).toBe(before);
    }
  });

  it('rejects malformed encodings', () => {
    expect(isValidTree({ op: Uint8Array.from([Op.Add]), arg: new Float64Array(1) }, 1)).toBe(false);
    expect(isValidTree({ op: Uint8Array.from([Op.Var, Op.Var]), arg: new Float64Array(2) }, 1)).toBe(false);
    expect(isValidTree({ op: Uint8Array.from([Op.Var]), arg: Float64Array.from([3]) }, 2)).toBe(false);
    expect(isValidTree({ op: Uint8Array.from([99]), arg: new Float64Array(1) }, 1)).toBe(false);
  });
});

describe('initialisation and variation (property-style over many seeds)', () => {
  it('grow, full and ramped trees are valid and respect their depth', () => {
    for (let s = 0; s < 300; s++) {
      const rng = new Rng(s);
      const d = s % 6;
      const full = randomTree(rng, ps, d, true);
      expect(isValidTree(full, 3)).toBe(true);
      expect(depth(full)).toBe(d);
      const grow = randomTree(rng, ps, d, false);
      expect(isValidTree(grow, 3)).toBe(true);
      expect(depth(grow)).toBeLessThanOrEqual(d);
      const ramped = rampedHalfAndHalf(rng, ps, 2, 5, s);
      expect(depth(ramped)).toBeLessThanOrEqual(5);
    }
  });

  it('crossover and both mutations keep trees valid and within the limits, and never modify parents', () => {
    const rng = new Rng(42);
    let pop = Array.from({ length: 40 }, (_, i) => rampedHalfAndHalf(rng, ps, 1, 4, i));
    for (let gen = 0; gen < 60; gen++) {
      pop = pop.map((t) => {
        const other = rng.pick(pop);
        const before = treeKey(t);
        const beforeOther = treeKey(other);
        const child = subtreeCrossover(rng, t, other, lim);
        const mutated = rng.chance(0.5) ? subtreeMutation(rng, ps, child, lim, 4) : pointMutation(rng, ps, child);
        expect(treeKey(t)).toBe(before);
        expect(treeKey(other)).toBe(beforeOther);
        for (const c of [child, mutated]) {
          expect(isValidTree(c, 3)).toBe(true);
          expect(c.op.length).toBeLessThanOrEqual(lim.maxSize);
          expect(depth(c)).toBeLessThanOrEqual(lim.maxDepth);
        }
        return mutated;
      });
    }
  });

  it('point mutation keeps the shape and changes exactly one node', () => {
    const rng = new Rng(9);
    for (let s = 0; s < 200; s++) {
      const t = randomTree(rng, ps, 4, false);
      const m = pointMutation(rng, ps, t);
      expect(m.op.length).toBe(t.op.length);
      expect(Array.from(subtreeSizes(m))).toEqual(Array.from(subtreeSizes(t)));
      let diff = 0;
      for (let i = 0; i < t.op.length; i++) if (t.op[i] !== m.op[i] || t.arg[i] !== m.arg[i]) diff++;
      expect(diff).toBeLessThanOrEqual(1);
    }
  });

  it('subtree mutation can grow a single-node tree; point mutation cannot', () => {
    const rng = new Rng(1);
    const leaf = parseInfix('x', names);
    const sizes = Array.from({ length: 100 }, () => subtreeMutation(rng, ps, leaf, lim, 4).op.length);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    for (let i = 0; i < 100; i++) expect(pointMutation(rng, ps, leaf).op.length).toBe(1);
  });
});

describe('printing and parsing', () => {
  it('round-trips random trees exactly', () => {
    const rng = new Rng(11);
    for (let s = 0; s < 500; s++) {
      const t = randomTree(rng, ps, 1 + (s % 6), s % 2 === 0);
      const back = parseInfix(toInfix(t, names), names);
      expect(treesEqual(back, t)).toBe(true);
    }
  });

  it('round-trips names that are not identifiers, between backticks', () => {
    const odd = ['rate (%)', 'a`b', 'my col', 'x', 'exp', '1st'];
    const ops = primitiveSet(odd, { functions: FUNCTION_NAMES });
    const rng = new Rng(12);
    for (let s = 0; s < 200; s++) {
      const t = randomTree(rng, ops, 1 + (s % 5), s % 2 === 0);
      expect(treesEqual(parseInfix(toInfix(t, odd), odd), t)).toBe(true);
    }
    const t = parseInfix('`rate (%)` * (`a``b` + exp(exp)) - `1st`', odd);
    expect(toInfix(t, odd)).toBe('(`rate (%)` * (`a``b` + exp(exp))) - `1st`');
    expect(() => parseInfix('`my col` + `rate`', odd)).toThrow(/unknown name "rate" at position 11/);
    expect(() => parseInfix('x + `my col', odd)).toThrow(/the name quoted at position 4 has no closing backtick/);
  });

  it('parses precedence, unary minus, calls and ^2', () => {
    const p = (s: string) => toInfix(parseInfix(s, names), names);
    expect(p('x + y * z')).toBe('x + (y * z)');
    expect(p('(x + y) * z')).toBe('(x + y) * z');
    expect(p('x - y - z')).toBe('(x - y) - z');
    expect(p('-x')).toBe('neg(x)');
    expect(p('x * -2.5e-3')).toBe('x * -0.0025');
    expect(p('x^2')).toBe('square(x)');
    expect(p('div(x, y) + log(z)')).toBe('(x / y) + log(z)');
    expect(p('x1')).toBe('y');
  });

  it('reports bad expressions with the position, never evaluating them', () => {
    expect(() => parseInfix('x + ', names)).toThrow(ConfigError);
    expect(() => parseInfix('x + w', names)).toThrow(/unknown name "w"/);
    expect(() => parseInfix('(x + y', names)).toThrow(/expected "\)"/);
    expect(() => parseInfix('x ^ 3', names)).toThrow(/only \^2/);
    expect(() => parseInfix('process.exit(1)', names)).toThrow(ConfigError);
    expect(() => parseInfix('x; y', names)).toThrow(/unexpected character ";"/);
  });
});

describe('top-down tree edit distance', () => {
  const t = (s: string) => parseInfix(s, names);
  it('matches hand-computed cases', () => {
    expect(topDownDistance(t('x + y'), t('x + y'))).toBe(0);
    expect(topDownDistance(t('x + y'), t('x * y'))).toBe(1); // relabel the root
    expect(topDownDistance(t('x + y'), t('x + z'))).toBe(1); // relabel a leaf
    expect(topDownDistance(t('x'), t('sin(x)'))).toBe(2); // relabel x->sin, insert leaf x
    expect(topDownDistance(t('sin(x + y)'), t('sin(x)'))).toBe(3); // relabel + -> x, delete x, delete y
    expect(topDownDistance(t('x + 1'), t('x + 1.25'))).toBe(0.25);
  });

  it('is a metric on random trees', () => {
    const rng = new Rng(5);
    const trees = Array.from({ length: 30 }, () => randomTree(rng, ps, 4, false));
    for (let i = 0; i < trees.length; i++) {
      for (let j = 0; j < trees.length; j++) {
        const a = trees[i]!;
        const b = trees[j]!;
        const dab = topDownDistance(a, b);
        expect(dab).toBe(topDownDistance(b, a));
        expect(dab === 0).toBe(treesEqual(a, b));
        const c = trees[(i + j) % trees.length]!;
        expect(dab).toBeLessThanOrEqual(topDownDistance(a, c) + topDownDistance(c, b) + 1e-9);
        expect(dab).toBeLessThanOrEqual(a.op.length + b.op.length);
      }
    }
  });
});

describe('tree keys', () => {
  it('are equal exactly when the trees print equal (0 and -0, NaNs: one constant each)', () => {
    const rng = new Rng(8);
    const trees = Array.from({ length: 200 }, () => randomTree(rng, ps, 3, false));
    const text = (x: Tree): string => Array.from(x.op, (o, i) => `${o}:${x.arg[i]}`).join(' ');
    for (const a of trees.slice(0, 60)) for (const b of trees) expect(treeKey(a) === treeKey(b)).toBe(text(a) === text(b));
    const c = (v: number): Tree => makeTree([0], [v]);
    expect(treeKey(c(0))).toBe(treeKey(c(-0)));
    expect(treeKey(c(NaN))).toBe(treeKey(c(-NaN)));
    expect(treeKey(c(1))).not.toBe(treeKey(c(1 + 2 ** -52)));
  });

  it('count as many distinct trees by hashing as by keys', () => {
    const rng = new Rng(9);
    const c = (v: number): Tree => makeTree([0], [v]);
    const base = Array.from({ length: 300 }, () => randomTree(rng, ps, 2, false));
    const trees = [
      ...base,
      ...base.slice(0, 100),
      c(0),
      c(-0),
      c(NaN),
      c(-NaN),
      c(2),
      makeTree([0, 0, 2], [0, -0, 0]),
      makeTree([0, 0, 2], [-0, 0, 0]),
    ];
    expect(distinctTrees(trees)).toBe(new Set(trees.map(treeKey)).size);
    expect(distinctTrees(trees)).toBeLessThan(trees.length - 100);
    // trees keep their hashes: grouped by exact bits first (0 and -0 apart), then counted by number
    const copies = trees.map((t) => makeTree(t.op, t.arg));
    const bits = (t: Tree): string => `${Array.from(t.op)}|${Array.from(new Uint32Array(Float64Array.from(t.arg).buffer))}`;
    const { unique, index } = dedupe(copies);
    expect(unique.length).toBe(new Set(copies.map(bits)).size);
    expect(unique.length).toBeGreaterThan(distinctTrees(trees));
    copies.forEach((t, i) => expect(bits(unique[index[i] as number] as Tree)).toBe(bits(t)));
    expect(distinctTrees(copies)).toBe(distinctTrees(trees));
  });
});

describe('tree representation options', () => {
  it('names the bad option', () => {
    expect(() => treeRepresentation(names, { functions: ['add', 'pow'] })).toThrow(/option functions: unknown function "pow"/);
    expect(() => treeRepresentation(names, { maxDepth: -1 })).toThrow(/option maxDepth/);
    expect(() => treeRepresentation(names, { initDepth: [2, 20] })).toThrow(/option initDepth/);
    expect(() => treeRepresentation(names, { mutation: 'swap' as never })).toThrow(/option mutation/);
    expect(() => treeRepresentation([], {})).toThrow(/no input variables/);
  });
});
