/**
 * gpmate against DEAP on the same trees (`npm run bench:deap`): the workload of bench:eval (random
 * trees of lengths 1..64 over 10 inputs; + - * / and + - * / sin cos exp log), RMSE per tree. DEAP
 * evaluates them the classic way (a compiled lambda called per row) and vectorised over numpy columns.
 * The trees travel as infix text that both sides parse; the RMSE of the first 20 trees is compared.
 * Prints node-evals/s and the ratio gpmate/DEAP per row count, all from this one invocation.
 *
 * Usage: npm run bench:deap [-- --rows 10,1000 --seconds 1 --python /usr/bin/python3]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WasmEvaluator } from '../../src/eval/wasm-evaluator.js';
import { toInfix } from '../../src/tree/print.js';
import { ARITH, benchDataset, machine, nodesOf, ROW_COUNTS, sci, timeIt, TRIG, workload } from '../common.js';

const { values: v } = parseArgs({ options: { rows: { type: 'string' }, seconds: { type: 'string' }, python: { type: 'string' } } });
const rowCounts = v.rows ? v.rows.split(',').map(Number) : [...ROW_COUNTS];
const seconds = v.seconds ?? '1';
// The apt packages python3-deap and python3-numpy install into the system interpreter.
const python = v.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const script = new URL('../../../bench/deap/deap_eval.py', import.meta.url).pathname;
const VARS = 10;

const ver = spawnSync(python, ['-c', 'import deap, numpy; print(deap.__version__, numpy.__version__)'], { encoding: 'utf8' });
if (ver.status !== 0) {
  console.error(`bench:deap: ${python} cannot import deap and numpy (apt-get install -y python3-deap python3-numpy)\n${ver.stderr}`);
  process.exit(1);
}
const [deapV, numpyV] = ver.stdout.trim().split(' ');
console.log(`bench:deap  ${machine()}; DEAP ${deapV}, numpy ${numpyV}`);
console.log('RMSE of random trees (lengths 1..64, 10 inputs), node-evals/s on one thread; ratio = gpmate / DEAP\n');
console.log(['set', 'rows', 'trees', 'gpmate', 'DEAP+numpy', 'ratio', 'DEAP/row', 'ratio', 'agree'].map((s) => s.padStart(11)).join(''));

const dir = mkdtempSync(join(tmpdir(), 'gpmate-bench-deap-'));
try {
  for (const [name, fns] of [
    ['arith', ARITH],
    ['+trig', TRIG],
  ] as const) {
    const all = workload(name === 'arith' ? 1 : 2, fns, VARS);
    for (const rows of rowCounts) {
      const count = Math.min(all.length, Math.max(20, Math.ceil(1e8 / ((nodesOf(all) / all.length) * rows))));
      const trees = all.slice(0, count);
      const ds = benchDataset(3, rows, VARS);
      const ev = new WasmEvaluator(ds);
      const s = await timeIt(() => ev.evaluate(trees), 0.5);
      const ours = (nodesOf(trees) * rows) / s;
      const fit = ev.evaluateSync(trees);

      const names = ds.names;
      writeFileSync(join(dir, 'trees.txt'), trees.map((t) => toInfix(t, names)).join('\n') + '\n');
      const raw = new Float64Array((VARS + 1) * rows);
      ds.columns.forEach((c, j) => raw.set(c, j * rows));
      raw.set(ds.y, VARS * rows);
      writeFileSync(join(dir, 'data.f64'), new Uint8Array(raw.buffer));
      const r = spawnSync(python, [script, join(dir, 'trees.txt'), join(dir, 'data.f64'), String(VARS), String(rows), seconds], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      if (r.status !== 0) throw new Error(`deap_eval.py failed: ${r.stderr}`);
      const d = JSON.parse(r.stdout) as {
        numpy: number;
        classic: number;
        fitness_numpy: (number | null)[];
        fitness_classic: (number | null)[];
      };
      // Agreement: the same RMSE up to rounding (numpy sums pairwise; glibc's sin/cos/exp/log and V8's
      // differ in the last bit, which chaotic subtrees such as sin(exp(exp(x))) amplify).
      const close = (a: number, b: number | null): boolean =>
        b === null
          ? !Number.isFinite(a)
          : (!Number.isFinite(a) && !Number.isFinite(b)) || Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a));
      let agree = 0;
      d.fitness_numpy.forEach((b, i) => {
        const ok = close(fit[i]!, b) && close(fit[i]!, d.fitness_classic[i] ?? null);
        agree += ok ? 1 : 0;
        if (!ok && process.env.BENCH_DEBUG)
          console.error(`tree ${i}: gpmate ${fit[i]}, numpy ${b}, classic ${d.fitness_classic[i]}: ${toInfix(trees[i]!, names)}`);
      });
      const row = [
        name,
        String(rows),
        String(count),
        sci(ours),
        sci(d.numpy),
        `${(ours / d.numpy).toFixed(1)}x`,
        sci(d.classic),
        `${(ours / d.classic).toFixed(1)}x`,
        `${agree}/${d.fitness_numpy.length}`,
      ];
      console.log(row.map((x) => x.padStart(11)).join(''));
    }
  }
  console.log(
    '\nagree: RMSE of the first 20 trees equal within 1e-6 (relative) on all three evaluators. Arithmetic agrees to' +
      '\nrounding; with sin/cos/exp/log, 1-ulp differences between gpmate and glibc can grow in chaotic subtrees' +
      '\n(sin of exp of exp); run with BENCH_DEBUG=1 to list them. DEAP trees are compiled before timing.',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
