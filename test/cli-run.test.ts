import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunArgs, runCommand } from '../src/cli/run.js';
import { resolveRegressionOptions } from '../src/sr/options.js';
import { CLI, SHARED } from './helpers.js';

const gpmate = (args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  // A child killed by a signal has no status: say which signal, with its output, in the failure.
  if (r.status === null) throw new Error(`gpmate ${args.join(' ')} killed by ${r.signal}; stderr: ${r.stderr}`);
  return r;
};
const tmp = () => mkdtempSync(join(tmpdir(), 'gpmate-run-'));

describe('gpmate run', () => {
  it('goes on and writes its results when the reader of its output stops early (gpmate run | head -1)', async () => {
    const out = join(tmp(), 'out');
    const child = spawn(process.execPath, [CLI, 'run', '--problem', 'pagie-1', '--population', '100', '--generations', '30', '--out', out]);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // read the first line, then close the pipe as head does
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
  });

  it('runs each selection mode, prints the best expression and writes the log and summary', () => {
    for (const selection of ['pimp', 'tournament', 'random-mate']) {
      const out = join(tmp(), 'out');
      const r = gpmate([
        'run',
        '--problem',
        'keijzer-6',
        '--selection',
        selection,
        '--seed',
        '1',
        '--population',
        '60',
        '--generations',
        '4',
        '--out',
        out,
        '--quiet',
      ]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/best: .+/);
      expect(r.stdout).toMatch(/train RMSE .+ R2/);
      expect(r.stdout).toMatch(/test {2}RMSE .+ R2/);
      expect(r.stdout).toMatch(/success: (yes|no)/);
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
      expect(summary.options.selection).toBe(selection);
      expect(summary.problem).toBe('keijzer-6');
      expect(typeof summary.best.expression).toBe('string');
      expect(summary.best.testR2).toBeTypeOf('number');
      const lines = readFileSync(join(out, 'generations.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.generation)).toEqual([0, 1, 2, 3, 4]);
      expect(lines[0].preference === undefined).toBe(selection === 'tournament');
      expect(readdirSync(out).sort()).toEqual(['generations.jsonl', 'model.json', 'summary.json']);
    }
  });

  it('gives byte-identical files for the same seed and options', () => {
    const args = [
      'run',
      '--problem',
      'nguyen-7',
      '--seed',
      '5',
      '--population',
      '80',
      '--generations',
      '5',
      '--distance',
      'semantic',
      '--quiet',
    ];
    const [a, b] = [join(tmp(), 'a'), join(tmp(), 'b')];
    expect(gpmate([...args, '--out', a]).status).toBe(0);
    expect(gpmate([...args, '--out', b]).status).toBe(0);
    for (const f of ['summary.json', 'generations.jsonl']) expect(readFileSync(join(a, f))).toEqual(readFileSync(join(b, f)));
    const c = join(tmp(), 'c');
    expect(gpmate([...args.map((x) => (x === '5' ? '6' : x)), '--out', c]).status).toBe(0);
    expect(readFileSync(join(c, 'summary.json'))).not.toEqual(readFileSync(join(a, 'summary.json')));
  });

  it('stops at --max-evaluations with the best so far, recorded, identically for 1 and 2 threads', () => {
    const summaries = ['1', '2'].map((threads) => {
      const out = join(tmp(), 'out');
      const args = ['run', '--problem', 'keijzer-6', '--population', '50', '--generations', '40', '--max-evaluations', '400'];
      const r = gpmate([...args, '--lamarckian', '--optimise', '3', '--threads', threads, '--out', out, '--quiet']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/stopped by the evaluation budget after generation \d+/);
      return readFileSync(join(out, 'summary.json'), 'utf8');
    });
    expect(summaries[1]).toBe(summaries[0]);
    const s = JSON.parse(summaries[0] as string);
    expect(s.stoppedBy).toBe('evaluations');
    expect(s.evaluations).toBeLessThanOrEqual(400);
    expect(s.generations).toBeLessThan(40);
    expect(s.options.maxEvaluations).toBe(400);
  });

  it('runs on a CSV file with its JSON description', () => {
    const out = join(tmp(), 'csv');
    const r = gpmate([
      'run',
      '--data',
      join(SHARED, 'data/sr/Concrete.csv'),
      '--population',
      '40',
      '--generations',
      '2',
      '--out',
      out,
      '--quiet',
    ]);
    expect(r.status).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.problem).toBe('Concrete');
    expect(summary.options.maxSize).toBe(64); // the default for real data
    expect(summary.best.testRmse).toBeTypeOf('number');
  });

  const dir = tmp();
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'a,b\n1,x\n');
  const cases: [string[], RegExp][] = [
    [['--problem', 'nope'], /unknown problem "nope"/],
    [['--data', join(dir, 'none.csv')], /none\.csv: not found/],
    [['--data', bad], /bad\.csv: line 2, column "b": "x" is not a number/],
    [['--data', join(SHARED, 'data/sr/Concrete.csv'), '--target', 'Q'], /no column named "Q"/],
    [['--data', join(SHARED, 'data/sr/Concrete.csv'), '--train', '5:5'], /training rows 5:5 are empty/],
    [['--population', '1'], /option --population: expected an integer in 2\.\.1000000, got 1/],
    [['--population', 'ten'], /option --population: expected an integer, got "ten"/],
    [['--population', '10', '--tournament', '11'], /option --tournament: expected an integer in 1\.\.10, got 11/],
    [['--mutation-rate=-0.5'], /option --mutation-rate: expected a probability in \[0, 1\], got -0\.5/],
    [['--crossover-rate', '1.5'], /option --crossover-rate/],
    [['--selection', 'roulette'], /option --selection: expected one of tournament, random-mate, pimp/],
    [['--mutation', 'swap'], /option --mutation: unknown operator "swap" \(known: subtree, point, changevar/],
    [['--functions', 'add,pow'], /option --functions: unknown function "pow"/],
    [['--distance', 'cosine'], /option --distance/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--problem', 'koza-1', '--data', bad], /option --data: give a benchmark problem or a data file, not both/],
    [['--lamarckian', '--baldwinian', '--optimise', '3'], /options --lamarckian and --baldwinian: give one of them, not both/],
    [['--optimise', '3', '--optimise-rows', '0'], /option --optimise-rows: expected an integer >= 1, got 0/],
    [['--clamp', 'maybe'], /option --clamp/],
    [['--polish', '1001'], /option --polish: expected an integer in 0\.\.1000, got 1001/],
  ];

  it('gives --data its real-data defaults (and --problem none of them)', () => {
    const data = parseRunArgs(['--data', join(SHARED, 'data/sr/Concrete.csv')]);
    const problem = parseRunArgs(['--problem', 'koza-1']);
    if (data === 'help' || problem === 'help') throw new Error('unexpected help');
    expect(data.options).toMatchObject({
      linearScaling: true,
      robust: true,
      clamp: true,
      optimiseIterations: 5,
      optimiseRows: 256,
      lamarckian: true,
      maxSize: 64,
      functions: ['add', 'sub', 'mul', 'div', 'exp', 'log', 'sqrt', 'square'],
    });
    expect(problem.options).toEqual({});
    expect(resolveRegressionOptions(problem.options)).toMatchObject({
      linearScaling: false,
      robust: false,
      clamp: false,
      optimiseIterations: 0,
      lamarckian: false,
      maxSize: 256,
    });
    const off = parseRunArgs(['--data', join(SHARED, 'data/sr/Concrete.csv'), '--optimise', '0', '--baldwinian', '--clamp', 'off']);
    if (off === 'help') throw new Error('unexpected help');
    expect(off.options).toMatchObject({ optimiseIterations: 0, lamarckian: false, clamp: false });
  });

  it('rejects bad input with a message naming it, before writing anything', async () => {
    for (const [args, msg] of cases) {
      const out = join(dir, 'out');
      await expect(runCommand([...args, '--out', out, '--generations', '1']), args.join(' ')).rejects.toThrow(msg);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('reports bad input as one line on stderr with exit code 2 and no stack trace', () => {
    for (const [args, msg] of [cases[2]!, cases[7]!, cases[14]!]) {
      const out = join(dir, 'out');
      const r = gpmate(['run', ...args, '--out', out, '--generations', '1']);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/    at /);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('is an executable bin after every build (npx gpmate runs the file directly)', () => {
    expect(statSync(CLI).mode & 0o111).toBe(0o111);
  });

  it('prints help', () => {
    expect(gpmate(['run', '--help']).stdout).toMatch(/--selection MODE/);
    expect(gpmate(['help']).stdout).toMatch(/gpmate run/);
    expect(gpmate(['frobnicate']).status).toBe(2);
  });
});
