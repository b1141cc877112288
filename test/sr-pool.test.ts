import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';
import { makeDataset } from '../src/eval/dataset.js';
import { ScoringEvaluator, type ScoreSettings } from '../src/sr/scoring.js';
import { robustBounds } from '../src/sr/interval.js';
import { PoolScoringEvaluator } from '../src/sr/scoring-pool.js';
import { randomTree } from '../src/tree/init.js';
import { primitiveSet } from '../src/tree/primitives.js';
import type { Tree } from '../src/tree/tree.js';

// Real worker threads (dist/workers/eval-worker.js: npm test builds first).
describe('constant optimisation in the worker pool', () => {
  it.each([
    ['every row', undefined],
    ['every 3rd row (maxRows 50 of 120)', 50],
  ])(
    'gives bit-identical losses and Lamarckian genomes to the in-process scorer, fitting on %s',
    async (_what, maxRows) => {
      const rng = new Rng(8);
      const n = 120;
      const a = Float64Array.from({ length: n }, () => rng.uniform(-2, 2));
      const b = Float64Array.from({ length: n }, () => rng.uniform(0, 3));
      const ds = makeDataset(
        ['a', 'b'],
        [a, b],
        Float64Array.from(a, (x, i) => Math.sin(1.5 * x) * b[i]! + 0.3),
      );
      const ps = primitiveSet(['a', 'b'], { constantProbability: 0.4 });
      const trees: Tree[] = Array.from({ length: 150 }, (_, i) => randomTree(rng, ps, 2 + (i % 4), i % 2 === 0));
      trees.push(trees[3]!, trees[7]!); // duplicates are scored once and spread back
      const settings: ScoreSettings = {
        fitness: 'scaled-rmse',
        optimiser: { iterations: 6, ...(maxRows ? { maxRows } : {}) },
        lamarckian: true,
        robust: robustBounds(ds.columns, ds.y),
      };
      const local = await new ScoringEvaluator(ds, settings).evaluateDetailed(trees);
      const pool = new PoolScoringEvaluator(ds, settings, 2);
      try {
        const remote = await pool.evaluateDetailed(trees);
        expect([...remote.losses]).toEqual([...local.losses]);
        let tuned = 0;
        trees.forEach((t, i) => {
          const l = local.genomes?.[i] ?? t;
          const r = remote.genomes?.[i] ?? t;
          expect([...r.arg], `tree ${i}`).toEqual([...l.arg]);
          expect([...r.op]).toEqual([...l.op]);
          if (remote.genomes?.[i]) tuned++;
        });
        expect(tuned).toBeGreaterThan(10);
      } finally {
        await pool.close();
      }
    },
    60_000,
  );
});
