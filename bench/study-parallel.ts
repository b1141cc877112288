// Runs across worker threads vs one run at a time: wall time of the same study with --threads 1 and N.
// Usage: npx tsc -p tsconfig.json && npx tsx bench/study-parallel.ts [repeats=2] [threads=availableParallelism]
// Figures, not pass/fail. The study's tables are checked equal between the settings (determinism).
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy } from '../src/study/runner.js';

const repeats = Number(process.argv[2] ?? 2);
const threads = Number(process.argv[3] ?? availableParallelism());
const study = {
  name: 'bench',
  problems: ['koza-1', 'keijzer-6'],
  selection: ['pimp', 'tournament', 'random-mate'],
  mutation: ['subtree'],
  mutationRate: [0.1],
  settings: { populationSize: 200, generations: 20 },
  seeds: 4,
  diversity: true,
};
const dir = mkdtempSync(join(tmpdir(), 'gpmate-bench-study-'));
const file = join(dir, 'bench.json');
writeFileSync(file, JSON.stringify(study));

function content(db: string): string {
  const d = new Database(db, { readonly: true });
  try {
    return JSON.stringify([
      d.prepare('SELECT cell, seed, best_train, size, expression FROM runs ORDER BY cell, seed').all(),
      d.prepare('SELECT * FROM generations ORDER BY cell, seed, generation').all(),
    ]);
  } finally {
    d.close();
  }
}

function evaluations(db: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare('SELECT SUM(evaluations) AS n FROM runs').get() as { n: number }).n;
  } finally {
    d.close();
  }
}

const results: Record<string, number[]> = {};
const tables = new Map<number, string>();
let evals = 0;
console.log(`study: 2 problems x 3 selection modes x 4 seeds = 24 runs, population 200, 20 generations, diversity on`);
console.log(
  `cores: ${availableParallelism()}, load average before: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
for (let r = 0; r < repeats; r++) {
  // Alternate the order so that a change in machine load does not favour one setting.
  const order = r % 2 === 0 ? [1, threads] : [threads, 1];
  for (const t of order) {
    const db = join(dir, `t${t}-r${r}.db`);
    const s = await runStudy(file, { db, threads: t });
    (results[`threads ${t}`] ??= []).push(s.wallS);
    tables.set(t, content(db));
    evals = evaluations(db);
    rmSync(db, { force: true });
    console.log(
      `repeat ${r + 1}, threads ${t}: ${s.wallS.toFixed(2)} s (${(s.done / s.wallS).toFixed(2)} runs/s, ${(evals / s.wallS).toFixed(0)} evaluations/s)`,
    );
  }
}
const ref = tables.get(1);
for (const [t, c] of tables) if (c !== ref) throw new Error(`threads ${t}: results differ from threads 1`);
for (const [k, v] of Object.entries(results)) {
  const sorted = [...v].sort((a, b) => a - b);
  console.log(`${k}: best ${sorted[0]?.toFixed(2)} s, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(2)} s over ${v.length}`);
}
console.log(
  `load average after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; tables identical across thread counts`,
);
rmSync(dir, { recursive: true, force: true });
