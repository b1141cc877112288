// The mutation operators beside subtree and point (changevar, changefunc, insert, remove, constant), the
// weighted --mutation list, and the size-aiming tree creators (--init btc|ptc2): each does what it says,
// statistically over fixed seeds; limits always kept; deterministic per seed and per thread count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { resolveRegressionOptions } from '../src/sr/options.js';
import { parseStudy } from '../src/study/schema.js';
import { balancedTree, initialSizeBound, ptc2Tree, randomTree } from '../src/tree/init.js';
import { ARITY, Op, primitiveSet, type PrimitiveSet } from '../src/tree/primitives.js';
import { treeRepresentation } from '../src/tree/representation.js';
import { depth, isValidTree, treesEqual, type Tree } from '../src/tree/tree.js';
import {
  changeFunctionMutation,
  changeVariableMutation,
  constantMutation,
  insertMutation,
  MUTATION_TYPES,
  MUTATORS,
  mutatorOf,
  parseMutation,
  removeMutation,
  type TreeLimits,
} from '../src/tree/variation.js';
import { CLI } from './helpers.js';

const VARS = ['x', 'y', 'z'];
const PS: PrimitiveSet = primitiveSet(VARS, { functions: ['add', 'sub', 'mul', 'div', 'sin', 'exp', 'log'], constantProbability: 0.3 });
const WIDE: TreeLimits = { maxDepth: 17, maxSize: 256 };
const TRIALS = 2000;

/** Fixed-seed random trees (grow and full, depths 0..5). */
function trees(seed: string, n = TRIALS): Tree[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => randomTree(rng, PS, i % 6, i % 2 === 0));
}

const count = (t: Tree, is: (op: number) => boolean) => Array.from(t.op).filter(is).length;
const isFn = (op: number) => (ARITY[op] as number) > 0;
/** Positions where two trees of one shape differ in opcode or argument. */
function diffs(a: Tree, b: Tree): { ops: number[]; args: number[] } {
  const ops: number[] = [];
  const args: number[] = [];
  for (let i = 0; i < a.op.length; i++) {
    if (a.op[i] !== b.op[i]) ops.push(i);
    if (!Object.is(a.arg[i], b.arg[i])) args.push(i);
  }
  return { ops, args };
}
/** Whether `small`'s nodes (opcode and argument) appear in `big` in order (greedy matching decides it). */
function subsequence(small: Tree, big: Tree): boolean {
  let k = 0;
  for (let i = 0; i < big.op.length && k < small.op.length; i++) {
    if (big.op[i] === small.op[k] && Object.is(big.arg[i], small.arg[k])) k++;
  }
  return k === small.op.length;
}

describe('mutation operators do what they say (fixed seeds, many trees)', () => {
  it('changevar changes exactly one variable leaf to another variable, nothing else', () => {
    const rng = new Rng('changevar');
    let changed = 0;
    let withVars = 0;
    for (const t of trees('cv-trees')) {
      const c = changeVariableMutation(rng, PS, t);
      expect(isValidTree(c, VARS.length)).toBe(true);
      if (count(t, (o) => o === Op.Var) === 0) {
        expect(treesEqual(c, t)).toBe(true);
        continue;
      }
      withVars++;
      expect(c.op.length).toBe(t.op.length);
      const d = diffs(t, c);
      expect(d.ops).toEqual([]);
      expect(d.args).toHaveLength(1);
      const i = d.args[0] as number;
      expect(t.op[i]).toBe(Op.Var);
      expect(c.arg[i]).not.toBe(t.arg[i]);
      changed++;
    }
    expect(withVars).toBeGreaterThan(TRIALS / 2);
    expect(changed).toBe(withVars);
    // one input: nothing to change to
    const one = primitiveSet(['x'], { functions: ['add'] });
    const t = trees('cv-one', 1)[0] as Tree;
    expect(changeVariableMutation(new Rng(1), one, t)).toBe(t);
  });

  it('changefunc changes exactly one function node to another of the same arity, nothing else', () => {
    const rng = new Rng('changefunc');
    let changed = 0;
    let withFns = 0;
    for (const t of trees('cf-trees')) {
      const c = changeFunctionMutation(rng, PS, t);
      if (count(t, isFn) === 0) {
        expect(treesEqual(c, t)).toBe(true);
        continue;
      }
      withFns++;
      const d = diffs(t, c);
      expect(d.args).toEqual([]);
      expect(d.ops).toHaveLength(1);
      const i = d.ops[0] as number;
      expect(ARITY[c.op[i] as number]).toBe(ARITY[t.op[i] as number]);
      expect(ARITY[t.op[i] as number]).toBeGreaterThan(0);
      changed++;
    }
    expect(changed).toBe(withFns);
    expect(withFns).toBeGreaterThan(TRIALS / 2);
  });

  it('insert adds one function node above a subtree (plus arity - 1 new terminals), keeping every old node in order', () => {
    const rng = new Rng('insert');
    let grown = 0;
    for (const t of trees('ins-trees')) {
      const c = insertMutation(rng, PS, t, WIDE);
      expect(isValidTree(c, VARS.length)).toBe(true);
      const added = c.op.length - t.op.length;
      expect([1, 2]).toContain(added);
      expect(count(c, isFn)).toBe(count(t, isFn) + 1);
      expect(count(c, (o) => !isFn(o))).toBe(count(t, (o) => !isFn(o)) + added - 1);
      expect(subsequence(t, c)).toBe(true);
      expect(depth(c)).toBeGreaterThanOrEqual(depth(t));
      grown++;
    }
    expect(grown).toBe(TRIALS);
  });

  it('remove replaces a function node by one of its children: the tree shrinks, and what is left was there in order', () => {
    const rng = new Rng('remove');
    for (const t of trees('rm-trees')) {
      const c = removeMutation(rng, t);
      expect(isValidTree(c, VARS.length)).toBe(true);
      if (t.op.length === 1) {
        expect(c).toBe(t);
        continue;
      }
      expect(c.op.length).toBeLessThan(t.op.length);
      expect(count(c, isFn)).toBeLessThan(count(t, isFn));
      expect(subsequence(c, t)).toBe(true);
      expect(depth(c)).toBeLessThanOrEqual(depth(t));
    }
  });

  it('constant perturbs exactly one constant by N(0, (0.1 max(|c|, 1))^2), nothing else', () => {
    const rng = new Rng('constant');
    const z: number[] = [];
    for (const t of trees('const-trees', 4000)) {
      const c = constantMutation(rng, t);
      if (count(t, (o) => o === Op.Const) === 0) {
        expect(c).toBe(t);
        continue;
      }
      const d = diffs(t, c);
      expect(d.ops).toEqual([]);
      expect(d.args).toHaveLength(1);
      const i = d.args[0] as number;
      expect(t.op[i]).toBe(Op.Const);
      const old = t.arg[i] as number;
      z.push(((c.arg[i] as number) - old) / (0.1 * Math.max(Math.abs(old), 1)));
    }
    expect(z.length).toBeGreaterThan(1000);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / (z.length - 1));
    // standard normal: mean within 4 standard errors of 0, sd within 10% of 1
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(z.length));
    expect(Math.abs(sd - 1)).toBeLessThan(0.1);
  });

  it('every operator is deterministic per seed', () => {
    const ts = trees('det', 200);
    for (const name of MUTATION_TYPES) {
      const m = MUTATORS[name];
      const [r1, r2] = [new Rng(`det:${name}`), new Rng(`det:${name}`)];
      for (const t of ts) expect(treesEqual(m(r1, PS, t, WIDE, 4), m(r2, PS, t, WIDE, 4))).toBe(true);
    }
  });
});

describe('--mutation: one name or a weighted list', () => {
  it('one name is the operator itself (subtree and point draw exactly what they drew before)', () => {
    for (const name of MUTATION_TYPES) expect(mutatorOf(name)).toBe(MUTATORS[name]);
  });

  it('a list draws each operator with probability proportional to its weight', () => {
    const m = mutatorOf('changevar:1,constant:3');
    const rng = new Rng('mix');
    const t = trees('mix-tree', 50).find((u) => count(u, (o) => o === Op.Const) > 0 && count(u, (o) => o === Op.Var) > 0) as Tree;
    let constant = 0;
    const n = 4000;
    for (let k = 0; k < n; k++) {
      const c = m(rng, PS, t, WIDE, 4);
      const i = diffs(t, c).args[0] as number;
      if (t.op[i] === Op.Const) constant++;
    }
    // expected 0.75; binomial sd ~0.007
    expect(Math.abs(constant / n - 0.75)).toBeLessThan(0.03);
  });

  it('parses names, weights and defaults; refuses unknown names, bad weights, empty lists and repeats, naming the option', () => {
    expect(parseMutation('subtree')).toEqual({ types: ['subtree'], weights: [1] });
    expect(parseMutation('subtree:1,changevar:0.5, constant:2')).toEqual({
      types: ['subtree', 'changevar', 'constant'],
      weights: [1, 0.5, 2],
    });
    for (const bad of [
      '',
      ' ',
      'grow',
      'subtree:0',
      'subtree:-1',
      'subtree:x',
      'subtree:1:2',
      'subtree,',
      ',point',
      'point,point',
      'point:Infinity',
      'subtree:1e308,point:1e308', // the sum is Infinity: the draw always took point
    ]) {
      expect(() => parseMutation(bad), bad).toThrow(ConfigError);
      expect(() => parseMutation(bad), bad).toThrow(/^option mutation: /);
    }
    expect(() => resolveRegressionOptions({ mutation: 'subtree:1,bogus:2' })).toThrow(/option mutation: unknown operator "bogus"/);
  });

  it('study files take the same strings on the mutation axis, and name the entry that is wrong', () => {
    const base = { name: 's', problems: ['koza-1'], seeds: 1 };
    expect(parseStudy({ ...base, mutation: ['subtree', 'subtree:1,constant:2'] }).mutation).toEqual(['subtree', 'subtree:1,constant:2']);
    expect(() => parseStudy({ ...base, mutation: ['subtree', 'subtree:x'] })).toThrow(/mutation\[1\]/);
    expect(() => parseStudy({ ...base, mutation: [] })).toThrow(/mutation/);
  });
});

describe('--init btc | ptc2: trees aiming at a size', () => {
  it('stay within the target size, the size limit and the depth limit; and hit it when unary and binary functions exist and the depth leaves room', () => {
    const rng = new Rng('init');
    for (const make of [balancedTree, ptc2Tree]) {
      for (let k = 0; k < 1000; k++) {
        const target = 1 + rng.int(80);
        const maxDepth = rng.int(12);
        const t = make(rng, PS, target, maxDepth);
        expect(isValidTree(t, VARS.length)).toBe(true);
        expect(t.op.length).toBeLessThanOrEqual(target);
        expect(depth(t)).toBeLessThanOrEqual(maxDepth);
      }
      // a depth limit that leaves room: the target itself (a function of arity 1 or 2 always fits the room left)
      for (let target = 1; target <= 127; target++) expect(make(rng, PS, target, 17).op.length, `target ${target}`).toBe(target);
    }
  });

  it('spread initial sizes over 1 .. min(maxSize, 2^(max initDepth + 1) - 1)', () => {
    expect(initialSizeBound(6, 256)).toBe(127);
    expect(initialSizeBound(6, 64)).toBe(64);
    for (const init of ['btc', 'ptc2'] as const) {
      const rep = treeRepresentation(VARS, { init, maxSize: 64, functions: ['add', 'mul', 'sin', 'log'] });
      const rng = new Rng(`spread:${init}`);
      const sizes = Array.from({ length: 2000 }, (_, i) => rep.size(rep.random(rng, i, 2000)));
      const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
      expect(Math.max(...sizes)).toBeLessThanOrEqual(64);
      expect(Math.min(...sizes)).toBe(1);
      expect(mean).toBeGreaterThan(28);
      expect(mean).toBeLessThan(36);
    }
  });

  it('is refused when unknown, naming the option', () => {
    expect(() => resolveRegressionOptions({ init: 'full' as never })).toThrow(/^option init: expected one of ramped, btc, ptc2/);
  });
});

describe('limits with every operator, list and creator (property)', () => {
  it('never exceeds maxSize or maxDepth', () => {
    const bad: string[] = [];
    for (let seed = 0; seed < 200; seed++) {
      const rng = new Rng(`mix-limits:${seed}`);
      const maxDepth = rng.int(8);
      const o = {
        maxDepth,
        maxSize: 1 + rng.int(rng.chance(0.5) ? 6 : 60),
        initDepth: [0, rng.int(maxDepth + 1)] as const,
        mutationDepth: rng.int(maxDepth + 1),
        init: (['ramped', 'btc', 'ptc2'] as const)[seed % 3],
        mutation:
          MUTATION_TYPES.filter(() => rng.chance(0.5))
            .map((m) => `${m}:${1 + rng.int(3)}`)
            .join(',') || 'insert',
      };
      const rep = treeRepresentation(VARS, o);
      let pop = Array.from({ length: 10 }, (_, s) => rep.random(rng, s, 10));
      for (let step = 0; step <= 10; step++) {
        for (const t of pop) {
          if (!isValidTree(t, VARS.length) || t.op.length > o.maxSize || depth(t) > o.maxDepth)
            bad.push(`seed ${seed} step ${step}: size ${t.op.length} depth ${depth(t)} ${JSON.stringify(o)}`);
        }
        pop = pop.map((t) => rep.mutate(rng, rep.crossover(rng, t, rng.pick(pop))));
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe('gpmate run with the new options', () => {
  const gpmate = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  const dir = mkdtempSync(join(tmpdir(), 'gpmate-mutation-'));

  it('a bad --mutation or --init is one line naming the flag, exit 2', () => {
    for (const v of ['grow', 'subtree:x', '', 'subtree,,point', 'subtree:0']) {
      const r = gpmate(['run', '--problem', 'koza-1', '--mutation', v, '--out', join(dir, 'bad')]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^gpmate: option --mutation: /);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const r = gpmate(['run', '--problem', 'koza-1', '--init', 'full', '--out', join(dir, 'bad')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^gpmate: option --init: /);
  });

  it('writes the same results for 1 and 2 threads, and records the options given', () => {
    const common = ['run', '--problem', 'pagie-1', '--seed', '3', '--population', '60', '--generations', '4', '--quiet'];
    const more = ['--mutation', 'subtree:1,changevar:1,changefunc:1,insert:1,remove:1,constant:2', '--init', 'btc'];
    const a = gpmate([...common, ...more, '--threads', '1', '--out', join(dir, 't1')]);
    const b = gpmate([...common, ...more, '--threads', '2', '--out', join(dir, 't2')]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    for (const f of ['summary.json', 'generations.jsonl']) {
      expect(readFileSync(join(dir, 't2', f), 'utf8')).toBe(readFileSync(join(dir, 't1', f), 'utf8'));
    }
    const summary = readFileSync(join(dir, 't1', 'summary.json'), 'utf8');
    expect(summary).toContain('"mutation": "subtree:1,changevar:1,changefunc:1,insert:1,remove:1,constant:2"');
    expect(summary).toContain('"init": "btc"');
  });
});
