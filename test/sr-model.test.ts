import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED } from './helpers.js';
import { afterAll, describe, expect, it } from 'vitest';
import { fit } from '../src/index.js';
import { readNumericCsv } from '../problems/csv.js';
import { evaluateTree } from '../src/eval/reference.js';
import {
  clampBounds,
  clampPredictions,
  ENVELOPE_MAX_INPUTS,
  ENVELOPE_MAX_ROWS,
  linearEnvelope,
  modelJson,
  parseModel,
  predictColumns,
  sha256,
} from '../src/sr/model.js';
import { makeDataset } from '../src/eval/dataset.js';
import { Rng } from '../src/core/rng.js';
import { parseInfix } from '../src/tree/parse.js';

const CLI = 'dist/src/cli/main.js';
const dir = mkdtempSync(join(tmpdir(), 'gpmate-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const gpmate = (args: string[]) => spawnSync('node', [CLI, ...args], { encoding: 'utf8' });

describe('model files and gpmate predict', () => {
  const names = ['a', 'b'];
  const tree = parseInfix('(sin(a) * 2.5) + (b / 3)', names);
  const csv = join(dir, 'new.csv');
  writeFileSync(csv, 'b,extra,a\n1,9,0.5\n2,9,-1\n3,9,2\n');

  it('round-trips a model and predicts by column name (order and extra columns do not matter)', () => {
    const path = join(dir, 'model.json');
    writeFileSync(path, modelJson(tree, names, '0.1.0'));
    const m = parseModel(readFileSync(path, 'utf8'), path);
    expect([...m.tree.arg]).toEqual([...tree.arg]);
    const r = gpmate(['predict', '--model', path, '--data', csv]);
    expect(r.status, r.stderr).toBe(0);
    const got = r.stdout.trim().split('\n').slice(1).map(Number);
    const expected = evaluateTree(tree, [Float64Array.of(0.5, -1, 2), Float64Array.of(1, 2, 3)], 3);
    expect(got).toEqual([...expected]);
  });

  it("clamps predictions to the model file's bounds", () => {
    const path = join(dir, 'clamped.json');
    writeFileSync(path, modelJson(tree, names, '0.1.0', { bounds: { lo: 0, hi: 1.5 } }));
    const m = parseModel(readFileSync(path, 'utf8'), path);
    expect(m.bounds).toEqual({ lo: 0, hi: 1.5 });
    const r = gpmate(['predict', '--model', path, '--data', csv]);
    expect(r.status, r.stderr).toBe(0);
    const got = r.stdout.trim().split('\n').slice(1).map(Number);
    const raw = evaluateTree(tree, [Float64Array.of(0.5, -1, 2), Float64Array.of(1, 2, 3)], 3);
    expect(raw[1]).toBeLessThan(0); // 2.5 sin(-1) + 2/3; raw[0] = 1.53 and raw[2] = 3.27 lie above 1.5
    expect(raw[2]).toBeGreaterThan(1.5);
    expect(got).toEqual([...raw].map((v) => Math.min(Math.max(v, 0), 1.5)));
    expect(JSON.parse(readFileSync(path, 'utf8')).sympy).toMatch(/^Min\(Max\(.*, 0\), 1\.5\)$/);
  });

  it('gives clear errors: missing column, tampered file, other version, overflowing constant', () => {
    const path = join(dir, 'm2.json');
    const text = modelJson(tree, names, '0.1.0');
    writeFileSync(path, text);
    const nob = join(dir, 'nob.csv');
    writeFileSync(nob, 'a,c\n1,2\n');
    const miss = gpmate(['predict', '--model', path, '--data', nob]);
    expect(miss.status).toBe(2);
    expect(miss.stderr).toMatch(/nob\.csv: missing column "b" that the model needs/);

    writeFileSync(path, text.replace('2.5', '2.6'));
    const tam = gpmate(['predict', '--model', path, '--data', csv]);
    expect(tam.status).toBe(2);
    expect(tam.stderr).toMatch(/checksum mismatch/);

    writeFileSync(path, text.replace('"version": 2', '"version": 4'));
    const ver = gpmate(['predict', '--model', path, '--data', csv]);
    expect(ver.status).toBe(2);
    expect(ver.stderr).toMatch(/model format version 4 .*this gpmate reads versions 1, 2, 3/);

    // version 1 files (before bounds) still load; bounds in one are refused
    const v1 = (extra: object) => {
      const body = { ...JSON.parse(modelJson(tree, names, '0.1.0')), version: 1, ...extra };
      delete body.checksum;
      return JSON.stringify({ ...body, checksum: sha256(JSON.stringify(body)) });
    };
    expect([...parseModel(v1({}), 'v1.json').tree.arg]).toEqual([...tree.arg]);
    expect(() => parseModel(v1({ bounds: [0, 1] }), 'v1b.json')).toThrow(/v1b\.json: "bounds" in a version 1 model file/);

    // bounds: must be a finite range; a bad pair is refused even with a matching checksum
    expect(() => modelJson(tree, names, 'x', { bounds: { lo: 2, hi: 1 } })).toThrow(/bounds \[2, 1\] are not a finite range/);
    const body = JSON.parse(modelJson(tree, names, 'x', { bounds: { lo: 0, hi: 1 } }));
    delete body.checksum;
    body.bounds = [1, 0];
    const forged = JSON.stringify({ ...body, checksum: sha256(JSON.stringify(body)) });
    expect(() => parseModel(forged, 'forged.json')).toThrow(/forged\.json: "bounds" must be two finite numbers/);

    // inputs named twice (a variable would read another's column) and opcodes that are not bytes, with a matching checksum
    const forge = (edit: (b: { inputs: string[]; tree: { op: number[] } }) => void): string => {
      const b = JSON.parse(modelJson(tree, names, 'x'));
      delete b.checksum;
      edit(b);
      return JSON.stringify({ ...b, checksum: sha256(JSON.stringify(b)) });
    };
    expect(() =>
      parseModel(
        forge((b) => (b.inputs = [names[0]!, names[0]!])),
        'dup.json',
      ),
    ).toThrow('dup.json: "inputs" names column "a" twice');
    for (const bad of [0.5, 256 + tree.op[0]!, -1])
      expect(() =>
        parseModel(
          forge((b) => (b.tree.op[0] = bad)),
          'op.json',
        ),
      ).toThrow('op.json: the tree encoding is invalid');

    expect(() => modelJson(parseInfix('a * 1e308 * 10', names), names, 'x')).not.toThrow(); // folded later, stays finite per node
    const big = { op: tree.op, arg: Float64Array.from(tree.arg, (v, i) => (i === 1 ? Infinity : v)) };
    expect(() => modelJson(big, names, 'x')).toThrow(/constant at node 1 is not finite/);

    const nanModel = join(dir, 'nan.json');
    writeFileSync(nanModel, modelJson(parseInfix('exp(exp(exp(a)))', names), names, 'x'));
    const huge = join(dir, 'huge.csv');
    writeFileSync(huge, 'a,b\n0,0\n50,0\n');
    const inf = gpmate(['predict', '--model', nanModel, '--data', huge]);
    expect(inf.status).toBe(2);
    expect(inf.stderr).toMatch(/non-finite value \(Infinity\) on data row 2/);
  });

  it('gpmate run writes model.json with the scaling included; predict reproduces the run on its data', () => {
    const out = join(dir, 'run');
    const data = join(SHARED, 'data', 'sr', 'Nikuradse_1.csv');
    const r = gpmate(['run', '--data', data, '--population', '60', '--generations', '5', '--optimise', '5', '--quiet', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.options.linearScaling).toBe(true);
    // --data clamps to the training target's range, widened to a linear model's trend, by default
    expect(summary.options.clamp).toBe(true);
    expect(summary.options.clampTo).toBe('linear');
    expect(summary.bounds[0]).toBeLessThan(summary.bounds[1]);
    expect(summary.envelope.weights).toHaveLength(2);
    expect(summary.best.expression).toMatch(/^clamp\(.*, min\(.*\), max\(.*\)\)$/);
    expect(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).version).toBe(3);
    expect(summary.front.length).toBeGreaterThan(0);
    for (const m of summary.front) expect(typeof m.latex).toBe('string');
    const p = gpmate(['predict', '--model', join(out, 'model.json'), '--data', data]);
    expect(p.status, p.stderr).toBe(0);
    const pred = p.stdout.trim().split('\n').slice(1).map(Number);
    const table = readNumericCsv(data);
    const y = table.columns[table.header.indexOf('target')]!;
    let sse = 0;
    for (let i = 0; i < 230; i++) sse += (pred[i]! - y[i]!) ** 2;
    expect(Math.sqrt(sse / 230)).toBeCloseTo(summary.best.trainRmse, 10);
  });
});

describe('clamping to a linear envelope (clampTo: linear)', () => {
  const rng = new Rng(3);
  const rows = 40;
  const a = Float64Array.from({ length: rows }, () => rng.next());
  const b = Float64Array.from({ length: rows }, () => rng.next());
  const k = new Float64Array(rows).fill(7); // a constant column
  const y = a.map((v, i) => 2 * v - 3 * b[i]! + 1 + 0.01 * Math.sin(i));

  it('fits the least-squares line; a constant column gets weight 0; too few rows give none', () => {
    const e = linearEnvelope([a, b, k], y)!;
    expect(e.weights[0]).toBeCloseTo(2, 1);
    expect(e.weights[1]).toBeCloseTo(-3, 1);
    expect(e.weights[2]).toBe(0);
    expect(e.intercept).toBeCloseTo(1, 1);
    // at least two rows per coefficient
    const first = (n: number) =>
      linearEnvelope(
        [a, b, k].map((c) => c.subarray(0, n)),
        y.subarray(0, n),
      );
    expect(first(7)).toBeUndefined();
    expect(first(8)).toBeDefined();
    expect(clampBounds(makeDataset(['a', 'b', 'k'], [a, b, k], y), 'range').envelope).toBeUndefined();
    // sizes have limits: too many inputs give none; many rows are strided (the same line on a repeated sample)
    const wide = Array.from({ length: ENVELOPE_MAX_INPUTS + 1 }, () => new Float64Array(1000).map(() => rng.next()));
    expect(
      linearEnvelope(
        wide,
        new Float64Array(1000).map(() => rng.next()),
      ),
    ).toBeUndefined();
    const times = Math.ceil((ENVELOPE_MAX_ROWS * 3) / rows);
    const rep = (c: Float64Array) => Float64Array.from({ length: rows * times }, (_, i) => c[i % rows]!);
    const big = linearEnvelope([rep(a), rep(b), rep(k)], rep(y))!;
    expect(big.weights[0]).toBeCloseTo(e.weights[0]!, 6);
    expect(big.intercept).toBeCloseTo(e.intercept, 6);
  });

  it('never worsens a prediction whose target is in the range; follows the trend beyond it, no further', () => {
    const bounds = clampBounds(makeDataset(['a', 'b', 'k'], [a, b, k], y), 'linear');
    expect(bounds.envelope).toBeDefined();
    // training rows: any predictions, each moved no further from its target
    const raw = Float64Array.from({ length: rows }, () => (rng.next() - 0.5) * 20);
    const clamped = clampPredictions(raw.slice(), bounds, [a, b, k]);
    for (let i = 0; i < rows; i++) expect(Math.abs(clamped[i]! - y[i]!)).toBeLessThanOrEqual(Math.abs(raw[i]! - y[i]!));
    // a row far outside the input box: the line's value lies above hi; a formula may go up to it and no further
    const far = [Float64Array.of(10, 10), Float64Array.of(-10, -10), Float64Array.of(7, 7)];
    const line = 2 * 10 + 1 - 3 * -10; // about 51
    const out = clampPredictions(Float64Array.of(line - 5, 1e9), bounds, far);
    expect(out[0]).toBe(line - 5);
    expect(out[1]).toBeCloseTo(line, 0);
    expect(clampPredictions(Float64Array.of(line - 5), { lo: bounds.lo, hi: bounds.hi }, far)[0]).toBe(bounds.hi);
    expect(() => clampPredictions(Float64Array.of(1), bounds)).toThrow(/need the input columns/);
    // a line that overflows widens nothing: an infinite prediction still ends at the range
    const huge = [Float64Array.of(1e308), Float64Array.of(-1e308), Float64Array.of(7)];
    expect(clampPredictions(Float64Array.of(Infinity), bounds, huge)[0]).toBe(bounds.hi);
  });

  it('model files carry the envelope (version 3) and predict with it; a bad one is refused', () => {
    const names = ['a', 'b', 'k'];
    const tree = parseInfix('a * 2.5', names);
    const bounds = clampBounds(makeDataset(names, [a, b, k], y), 'linear');
    const text = modelJson(tree, names, 'x', { bounds });
    const m = parseModel(text, 'env.json');
    expect(JSON.parse(text).version).toBe(3);
    expect(m.bounds).toEqual(bounds);
    const cols = [Float64Array.of(0.5, 30), Float64Array.of(0.5, -30), Float64Array.of(7, 7)];
    const p = predictColumns(m, names, cols, 2, 'data');
    expect([...p]).toEqual([...clampPredictions(Float64Array.of(1.25, 75), bounds, cols)]);
    expect(p[1]).toBeGreaterThan(bounds.hi); // the line's trend lets it beyond the range
    // without an envelope a file stays version 2
    expect(JSON.parse(modelJson(tree, names, 'x', { bounds: { lo: 0, hi: 1 } })).version).toBe(2);
    const forge = (f: (body: Record<string, unknown>) => void) => {
      const body = JSON.parse(text);
      delete body.checksum;
      f(body);
      return JSON.stringify({ ...body, checksum: sha256(JSON.stringify(body)) });
    };
    expect(() =>
      parseModel(
        forge((x) => ((x['envelope'] as { weights: number[] }).weights = [1, 2])),
        'w.json',
      ),
    ).toThrow(/w\.json: "envelope" must hold "weights" \(3 finite numbers, one per input\)/);
    expect(() =>
      parseModel(
        forge((x) => (x['version'] = 2)),
        'v2.json',
      ),
    ).toThrow(/v2\.json: "envelope" in a version 2 model file/);
    expect(() =>
      parseModel(
        forge((x) => delete x['bounds']),
        'nb.json',
      ),
    ).toThrow(/nb\.json: "envelope" without "bounds"/);
  });

  it('gpmate run --data: a formula that follows a linear law beyond the training range keeps it; --clamp-to range cuts it off', () => {
    // y = a + b; the test rows lie beyond the training box, their targets above the training range
    const csv = join(dir, 'line.csv');
    const lines = ['a,b,target'];
    for (let i = 0; i < 60; i++) {
      const s = i < 45 ? 1 : 3;
      const x1 = (s * ((i * 37) % 11)) / 10;
      const x2 = (s * ((i * 53) % 7)) / 6;
      lines.push(`${x1},${x2},${x1 + x2}`);
    }
    writeFileSync(csv, lines.join('\n') + '\n');
    writeFileSync(
      join(dir, 'line.json'),
      JSON.stringify({ metadata: { target: 'target', training_rows: { start: 0, end: 45 }, test_rows: { start: 45, end: 60 } } }),
    );
    const run = (extra: string[]) => {
      const out = join(dir, `line-${extra.join('')}`);
      const r = gpmate([
        'run',
        '--data',
        csv,
        '--population',
        '100',
        '--generations',
        '10',
        '--seed',
        '1',
        '--quiet',
        '--out',
        out,
        ...extra,
      ]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    };
    const linear = run([]);
    const range = run(['--clamp-to', 'range']);
    expect(linear.best.trainR2).toBeGreaterThan(0.999999);
    expect(linear.best.testR2).toBeGreaterThan(0.999999);
    expect(range.best.testR2).toBeLessThan(0.9);
    expect(range.envelope).toBeUndefined();
    expect(range.options.clampTo).toBe('range');
    // unclamped, the run records no clamping target (the preset's would mean nothing)
    const off = run(['--clamp', 'off']);
    expect(off.options.clamp).toBe(false);
    expect(off.options).not.toHaveProperty('clampTo');
    expect(off.best.expression).not.toMatch(/clamp/);
  });
});

describe('fit() library API', () => {
  it('fits, predicts, exports and returns the front', async () => {
    const X: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 80; i++) {
      const a = -2 + (4 * i) / 79;
      const b = Math.sin(i);
      X.push([a, b]);
      y.push(3 * a * a + 2 * b - 1);
    }
    const model = await fit(X, y, { names: ['a', 'b'], populationSize: 150, generations: 15, seed: 2, maxSize: 256 });
    expect(model.trainR2).toBeGreaterThan(0.99);
    const p = model.predict([[1, 0.5]]);
    expect(p[0]).toBeCloseTo(3 + 1 - 1, 0);
    expect(model.predict({ a: [1], b: [0.5] })[0]).toBe(p[0]);
    expect(model.toLatex()).toMatch(/a/);
    expect(model.toSympy()).toMatch(/a/);
    expect(model.front.length).toBeGreaterThan(1);
    for (let i = 1; i < model.front.length; i++) expect(model.front[i]!.trainRmse).toBeLessThan(model.front[i - 1]!.trainRmse);
    expect(parseModel(model.toJSON(), 'fit').inputs).toEqual(['a', 'b']);
    expect(() => model.predict({ a: [1] })).toThrow(/missing input column b/);
    await expect(fit([[1]], [1, 2])).rejects.toThrow(/X has 1 rows and y 2 values/);
    // arguments of the wrong kind (callers from JavaScript): one line each, no TypeError
    const bad = (...args: unknown[]) => (fit as (...a: unknown[]) => Promise<unknown>)(...args);
    await expect(bad(null, [1])).rejects.toThrow('fit: X must be a list of rows, each a list of numbers');
    await expect(bad([1, 2], [1, 2])).rejects.toThrow('fit: X must be a list of rows');
    await expect(bad([[1]], null)).rejects.toThrow('fit: y must be a list of numbers');
    await expect(bad([[1]], [1], null)).rejects.toThrow('fit: options must be an object');
    await expect(bad([[1]], [1], { names: 'x' })).rejects.toThrow('option names: expected a list of column names');
    await expect(bad([[1]], [1], { test: { X: null, y: [1] } })).rejects.toThrow('option test: expected {X: rows of numbers, y: numbers}');
    // columns of a record that differ in length, or hold a value that is not a number: an error, not NaN predictions
    expect(() => model.predict({ a: [1, 2, 3], b: [0.5] })).toThrow('predict: input column b has 1 values, a 3');
    expect(() => model.predict({ a: [1], b: [NaN] })).toThrow('predict: input column b: value 0 is not a finite number (NaN)');
    const predictAny = model.predict as (x: unknown) => Float64Array;
    expect(() => predictAny(null)).toThrow('predict: expected rows of numbers or {column: numbers}');
    expect(() => predictAny([1, 2])).toThrow('predict: expected rows of numbers or {column: numbers}');
    expect(() => predictAny({ a: [1], b: 2 })).toThrow('predict: input column b must be a list of numbers');
  }, 60_000);

  it('refuses a test set that does not match, a test target that is not a number and names given twice', async () => {
    const X = [0, 1, 2, 3, 4, 5].map((i) => [i, i % 2]);
    const y = X.map(([a, b]) => a! * a! + b!);
    const o = { populationSize: 10, generations: 1 };
    await expect(fit(X, y, { ...o, test: { X: X.slice(0, 2), y: [1, NaN] } })).rejects.toThrow(
      'option test.y: value 1 is not a finite number (NaN)',
    );
    await expect(fit(X, y, { ...o, test: { X: X.slice(0, 2), y: [1] } })).rejects.toThrow(
      'option test: X has 2 rows and y 1 values; expected equal counts',
    );
    await expect(fit(X, y, { ...o, names: ['a', 'a'] })).rejects.toThrow('option names: "a" is given twice');
    await expect(fit(X, [...y.slice(1), Infinity], o)).rejects.toThrow('fit y: value 5 is not a finite number (Infinity)');
  });
});
