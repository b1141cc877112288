import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { benchmarkTask } from '../problems/index.js';
import { Rng } from '../src/core/rng.js';
import { runRegression } from '../src/sr/run.js';
import { INIT_METHODS } from '../src/tree/init.js';
import { MAX_TREE_DEPTH } from '../src/tree/limits.js';
import { resolveTreeOptions } from '../src/tree/options.js';
import { FUNCTION_NAMES, Op } from '../src/tree/primitives.js';
import { treeRepresentation } from '../src/tree/representation.js';
import { depth, isValidTree, makeTree, type Tree } from '../src/tree/tree.js';
import { MUTATION_TYPES } from '../src/tree/variation.js';

const VARS = ['x', 'y'];

/** Random tree settings of one case: small limits (where the violations were), any function subset, every mutation type. */
function limitsCase(rng: Rng) {
  const functions = FUNCTION_NAMES.filter(() => rng.chance(0.5));
  if (functions.length === 0) functions.push(rng.pick(FUNCTION_NAMES));
  const maxDepth = rng.int(9);
  const minD = rng.int(maxDepth + 1);
  return {
    functions,
    maxDepth,
    maxSize: 1 + rng.int(rng.chance(0.5) ? 6 : 60),
    initDepth: [minD, minD + rng.int(maxDepth - minD + 1)] as const,
    mutation: MUTATION_TYPES[rng.int(MUTATION_TYPES.length)] as (typeof MUTATION_TYPES)[number],
    mutationDepth: rng.int(maxDepth + 1),
    init: INIT_METHODS[rng.int(INIT_METHODS.length)] as (typeof INIT_METHODS)[number],
  };
}

describe('a size or depth limit the user sets is never exceeded', () => {
  it('by initialisation, crossover or any mutation operator, over many seeds and limits (property)', () => {
    const violations: string[] = [];
    const within = (t: Tree, o: { maxSize: number; maxDepth: number }, what: string) => {
      if (!isValidTree(t, VARS.length) || t.op.length > o.maxSize || depth(t) > o.maxDepth)
        violations.push(`${what}: size ${t.op.length}, depth ${depth(t)}`);
    };
    // Every mutation type is drawn in turn: an operator added to MUTATION_TYPES is covered too.
    const seen = new Set<string>();
    for (let seed = 0; seed < 300; seed++) {
      const rng = new Rng(`limits:${seed}`);
      const o = limitsCase(rng);
      seen.add(o.mutation);
      const rep = treeRepresentation(VARS, o);
      const what = `seed ${seed}: ${JSON.stringify(o)}`;
      let pop = Array.from({ length: 12 }, (_, slot) => rep.random(rng, slot, 12));
      pop.forEach((t) => within(t, o, `${what} (initial)`));
      for (let step = 0; step < 10; step++) {
        pop = pop.map((t) => {
          const child = rep.mutate(rng, rep.crossover(rng, t, rng.pick(pop)));
          within(child, o, what);
          return child;
        });
      }
    }
    expect(violations.slice(0, 5)).toEqual([]);
    expect([...seen].sort()).toEqual([...MUTATION_TYPES].sort());
  });

  it('in every individual of a run with --max-size 1 and 3 (genomes and preferences)', async () => {
    for (const maxSize of [1, 3]) {
      const sizes: number[] = [];
      const r = await runRegression(
        benchmarkTask('koza-1', 1),
        { populationSize: 40, generations: 4, maxSize, seed: 3 },
        {
          onGeneration: (_s, state) => {
            for (const i of state.population) sizes.push(i.genome.op.length, (i.preference as Tree).op.length);
          },
        },
      );
      expect(Math.max(...sizes)).toBeLessThanOrEqual(maxSize);
      expect(r.best.size).toBeLessThanOrEqual(maxSize);
    }
  });

  it('a deep mutation depth or initial depth builds no tree of 2^depth nodes', async () => {
    expect(() => resolveTreeOptions({ mutationDepth: 100 })).toThrow(/option mutationDepth: 100 exceeds maxDepth 17/);
    expect(() => resolveTreeOptions({ maxDepth: MAX_TREE_DEPTH + 1 })).toThrow(/option maxDepth: expected an integer in 0\.\.1000/);
    expect(() => resolveTreeOptions({ maxSize: 2 ** 20 })).toThrow(/option maxSize: expected an integer in 1\.\.65536/);
    // full binary trees of depth 60 would have 2^61 nodes; the builds stop at the hard bound instead
    const deep = { maxDepth: 60, initDepth: [58, 60] as const, mutationDepth: 60, maxSize: 30, functions: ['add', 'mul'] };
    const rng = new Rng(5);
    const rep = treeRepresentation(VARS, deep);
    const t = rep.mutate(rng, rep.random(rng, 0, 1));
    expect(t.op.length).toBeLessThanOrEqual(30);
  });

  it('trees of the deepest allowed depth print, simplify, export and compare in a worker thread', async () => {
    // The recursive tree functions run in study workers too, whose stack is the default worker stack.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        const m = (p) => import(workerData.root + '/dist/src/' + p);
        const { makeTree } = await m('tree/tree.js');
        const { toInfix } = await m('tree/print.js');
        const { simplify } = await m('tree/simplify.js');
        const { toLatex, toSympy } = await m('tree/export.js');
        const { topDownDistance } = await m('tree/distance.js');
        const { modelJson } = await m('sr/model.js');
        const t = makeTree(workerData.op, workerData.arg);
        toInfix(t, ['x']); simplify(t); toLatex(t, ['x']); toSympy(t, ['x']); topDownDistance(t, t); modelJson(t, ['x'], 'test');
        parentPort.postMessage('ok');
      })().catch((e) => parentPort.postMessage(String(e && e.message)));
    `;
    const op = [Op.Var, ...Array.from({ length: MAX_TREE_DEPTH }, (_, i) => (i % 2 ? Op.Sin : Op.Cos))];
    const tree = makeTree(op, new Array(op.length).fill(0));
    expect(depth(tree)).toBe(MAX_TREE_DEPTH);
    const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
    const w = new Worker(code, { eval: true, workerData: { root, op: Array.from(tree.op), arg: Array.from(tree.arg) } });
    const answer = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    expect(answer).toBe('ok');
  });
});
