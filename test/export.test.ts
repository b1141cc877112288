import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/core/rng.js';
import { evaluateTree } from '../src/eval/reference.js';
import { sympyNames, toLatex, toSympy } from '../src/tree/export.js';
import { SYMPY_RESERVED } from '../src/tree/sympy-reserved.js';
import { randomTree } from '../src/tree/init.js';
import { parseInfix } from '../src/tree/parse.js';
import { Op, PROTECT_DIV, PROTECT_LOG, primitiveSet } from '../src/tree/primitives.js';
import { toInfix } from '../src/tree/print.js';
import { simplify } from '../src/tree/simplify.js';
import type { Tree } from '../src/tree/tree.js';
import { forwardColumns } from '../src/sr/optimise.js';
import { clampedText, clampPredictions } from '../src/sr/model.js';
import { hasSystem } from './system.js';

const names = ['x', 'y_1', 'Temp'];
const ps = primitiveSet(names, {
  functions: ['add', 'sub', 'mul', 'div', 'sin', 'cos', 'exp', 'log', 'sqrt', 'neg', 'square'],
  constantProbability: 0.3,
  constantRange: [-3, 3],
});

function points(rng: Rng, n: number): number[][] {
  return Array.from({ length: n }, () => names.map(() => rng.uniform(-2, 2)));
}
function columns(pts: number[][]): Float64Array[] {
  return names.map((_, c) => Float64Array.from(pts, (p) => p[c] as number));
}
/** Rows where some protected operator acts (the printed plain forms differ there by design). */
function protectedRows(t: Tree, cols: Float64Array[], rows: number): boolean[] {
  const v = forwardColumns(t, cols, rows);
  const stack: number[] = [];
  const hit = new Array<boolean>(rows).fill(false);
  for (let i = 0; i < t.op.length; i++) {
    const op = t.op[i] as number;
    if (op === Op.Div) {
      const b = stack.pop() as number;
      stack.pop();
      for (let r = 0; r < rows; r++) if (Math.abs(v[b]![r]!) <= PROTECT_DIV * 1.01) hit[r] = true;
    } else if (op === Op.Log) {
      const a = stack.pop() as number;
      for (let r = 0; r < rows; r++) if (Math.abs(v[a]![r]!) <= PROTECT_LOG * 1.01) hit[r] = true;
    } else if (op >= Op.Sin) stack.pop();
    else if (op >= Op.Add) {
      stack.pop();
      stack.pop();
    }
    stack.push(i);
  }
  return hit;
}
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

describe('simplify', () => {
  it('folds constants and applies identities', () => {
    const t = parseInfix('((x + 0) * 1) + ((2 * 3) - (y_1 - y_1)) + (0 * Temp)', names);
    expect(toInfix(simplify(t), names)).toBe('x + 6');
    expect(toInfix(simplify(parseInfix('((x + 1) + 2) * 3 * 2', names)), names)).toBe('(x + 3) * 6');
    expect(toInfix(simplify(parseInfix('neg(neg(x)) / 1', names)), names)).toBe('x');
    expect(toInfix(simplify(parseInfix('1 / 0', names)), names)).toBe('1'); // protected division folds as evaluated
  });

  it('keeps the function of 200 random trees on random points', () => {
    const rng = new Rng(5);
    const pts = points(rng, 50);
    const cols = columns(pts);
    let shrunk = 0;
    for (let k = 0; k < 200; k++) {
      const t = randomTree(rng, ps, 5, k % 2 === 0);
      const s = simplify(t);
      if (s.op.length < t.op.length) shrunk++;
      const a = evaluateTree(t, cols, pts.length);
      const b = evaluateTree(s, cols, pts.length);
      for (let r = 0; r < pts.length; r++) {
        if (Number.isFinite(a[r]!) && Math.abs(a[r]!) < 1e8) expect(close(a[r]!, b[r]!), `${toInfix(t, names)} at row ${r}`).toBe(true);
      }
    }
    expect(shrunk).toBeGreaterThan(20);
  });
});

describe('LaTeX and SymPy exports', () => {
  it('print readable forms', () => {
    const t = parseInfix('(sin((x * 2)) / (y_1 + -0.5)) + square(log(Temp))', names);
    expect(toSympy(t, names)).toBe('sin(x*2)/(y_1 - 0.5) + log(Abs(Temp))**2');
    expect(toLatex(t, names)).toBe(
      '\\frac{\\sin\\left(x \\cdot 2\\right)}{y_{1} - 0.5} + \\left(\\log\\left|\\mathrm{Temp}\\right|\\right)^{2}',
    );
    // LaTeX's special characters in column names: escaped, or their math-mode symbols where an escape means something else
    const odd = ['a&b', 'x^2', 'cost %', 'k{1}', 'back\\slash', 'tilde~'];
    expect(toLatex(parseInfix('v0 + (v1 * (v2 - (v3 / (v4 + v5))))', ['v0', 'v1', 'v2', 'v3', 'v4', 'v5']), odd)).toBe(
      '\\mathrm{a\\&b} + \\mathrm{x\\hat{}2} \\cdot \\left(\\mathrm{cost\\ \\%} - \\frac{\\mathrm{k\\{1\\}}}{\\mathrm{back\\backslash{}slash} + \\mathrm{tilde\\sim{}}}\\right)',
    );
  });

  it('rename variables SymPy would not read as symbols, by column, clashing with no other name', () => {
    expect(sympyNames(['pi', 'my col', 'x1', 'gamma', 'a', 'class', 'Temp', 'E'])).toEqual([
      'x0',
      'x1_',
      'x1',
      'x3',
      'a',
      'x5',
      'Temp',
      'x7',
    ]);
    expect(toSympy(parseInfix('(pi * 2) + exp(content)', ['pi', 'content']), ['pi', 'content'])).toBe('x0*2 + exp(x1)');
  });

  it.skipIf(!hasSystem('sympy', 'the SymPy name checks of the exports'))(
    "list every name that this python3's SymPy would not read as a symbol, and print strings plain sympify reads",
    () => {
      // the probe that generated SYMPY_RESERVED (src/tree/sympy-reserved.ts), run on this SymPy
      const probe = [
        'import builtins, keyword, sympy',
        'from sympy.parsing.sympy_parser import parse_expr',
        'g = {}',
        "exec('from sympy import *', g)",
        'bad = set(keyword.kwlist)',
        'for n in [k for k in set(g) | set(dir(builtins)) if k.isidentifier()]:',
        '    try:',
        "        ok = parse_expr(n + '*2+1').free_symbols == {sympy.Symbol(n)}",
        '    except Exception:',
        '        ok = False',
        '    if not ok: bad.add(n)',
        "print(' '.join(sorted(bad)))",
      ].join('\n');
      const clash = execFileSync('python3', ['-c', probe], { encoding: 'utf8' }).trim().split(/\s+/);
      expect(clash.length).toBeGreaterThan(500);
      expect(clash.filter((n) => !SYMPY_RESERVED.has(n))).toEqual([]);
      // column names that are SymPy's own, a keyword, not an identifier, and the x<i> a rename would take
      const cols = ['pi', 'gamma', 'lambda', 'my col', 'x3', 'N', 'id'];
      const t = parseInfix('((pi * gamma) + (lambda / 2)) + ((mycol * x3) - (N * id))', [
        'pi',
        'gamma',
        'lambda',
        'mycol',
        'x3',
        'N',
        'id',
      ]);
      const text = toSympy(t, cols);
      const at = [1.5, -0.25, 3, 2, -1.75, 0.5, 4];
      const py = [
        'import json, sys, sympy',
        'e = sympy.sympify(sys.argv[1])',
        'ids = json.loads(sys.argv[2])',
        'print(json.dumps([sorted(str(s) for s in e.free_symbols), float(e.subs({sympy.Symbol(n): v for n, v in zip(ids, json.loads(sys.argv[3]))}))]))',
      ].join('\n');
      const [free, value] = JSON.parse(
        execFileSync('python3', ['-c', py, text, JSON.stringify(sympyNames(cols)), JSON.stringify(at)], { encoding: 'utf8' }),
      ) as [string[], number];
      expect(free).toEqual([...sympyNames(cols)].sort());
      const want = evaluateTree(
        t,
        at.map((v) => Float64Array.of(v)),
        1,
      )[0]!;
      expect(Math.abs(value - want)).toBeLessThan(1e-12 * Math.max(1, Math.abs(want)));
    },
  );

  it.skipIf(!hasSystem('sympy', 'the SymPy round-trip test of the exports'))(
    'parse back with SymPy (python3-sympy) to the same function on sample points',
    () => {
      const rng = new Rng(11);
      const pts = points(rng, 12);
      const cols = columns(pts);
      const jobs: { sympy: string; latex: string; names: string[]; points: number[][] }[] = [];
      const trees: Tree[] = [];
      for (let k = 0; k < 60; k++) {
        const t = simplify(randomTree(rng, ps, 4, k % 3 === 0));
        trees.push(t);
        jobs.push({ sympy: toSympy(t, names), latex: toLatex(t, names), names: [...names], points: pts });
      }
      // the exact protected form too, on one tree with a division near zero
      const prot = parseInfix('x / (y_1 - y_1)', names);
      trees.push(prot);
      jobs.push({ sympy: toSympy(prot, names, { protected: true }), latex: toLatex(prot, names), names: [...names], points: pts });
      // a clamped model (the bounds cut through the sample's values)
      const cl = parseInfix('(x * 3) + y_1', names);
      const bounds = { lo: -1.5, hi: 2.25 };
      const clText = {
        latex: clampedText.latex(toLatex(cl, names), bounds, names),
        sympy: clampedText.sympy(toSympy(cl, names), bounds, names),
      };
      jobs.push({ sympy: clText.sympy, latex: clText.latex, names: [...names], points: pts });
      // the same with a linear envelope (a weight of 0 is left out of the text)
      const env = { ...bounds, envelope: { weights: names.map((_, j) => (j === 1 ? 0 : 0.75 - j)), intercept: 0.5 } };
      const envText = {
        latex: clampedText.latex(toLatex(cl, names), env, names),
        sympy: clampedText.sympy(toSympy(cl, names), env, names),
      };
      jobs.push({ sympy: envText.sympy, latex: envText.latex, names: [...names], points: pts });
      const out = JSON.parse(
        execFileSync('python3', ['test/fixtures/sympy_eval.py'], { input: JSON.stringify(jobs), encoding: 'utf8' }),
      ) as {
        sympy: (number | null)[];
        latex: (number | null)[];
      }[];
      const clamped = clampPredictions(evaluateTree(cl, cols, pts.length), bounds);
      const byEnvelope = clampPredictions(evaluateTree(cl, cols, pts.length), env, cols);
      const [clOut, envOut] = out.splice(out.length - 2, 2) as [(typeof out)[number], (typeof out)[number]];
      jobs.splice(jobs.length - 2, 2);
      expect(clamped.some((v) => v === bounds.lo) && clamped.some((v) => v === bounds.hi)).toBe(true);
      // the envelope moves some bounds: on some rows the two clamps differ
      expect(byEnvelope.some((v, r) => v !== clamped[r])).toBe(true);
      for (let r = 0; r < pts.length; r++) {
        expect(close(clOut.sympy[r]!, clamped[r]!), `${clText.sympy} row ${r}`).toBe(true);
        expect(close(clOut.latex[r]!, clamped[r]!), `${clText.latex} row ${r}`).toBe(true);
        expect(close(envOut.sympy[r]!, byEnvelope[r]!), `${envText.sympy} row ${r}`).toBe(true);
        expect(close(envOut.latex[r]!, byEnvelope[r]!), `${envText.latex} row ${r}`).toBe(true);
      }
      let compared = 0;
      trees.forEach((t, k) => {
        const mine = evaluateTree(t, cols, pts.length);
        const hit = protectedRows(t, cols, pts.length);
        const isProt = k === trees.length - 1;
        for (let r = 0; r < pts.length; r++) {
          const v = mine[r]!;
          if (!Number.isFinite(v) || Math.abs(v) > 1e10) continue;
          if (isProt) {
            expect(out[k]!.sympy[r]).toBe(v); // Piecewise: exact protected semantics
            continue;
          }
          if (hit[r]) continue;
          expect(out[k]!.sympy[r], `${jobs[k]!.sympy} row ${r}`).not.toBeNull();
          expect(close(out[k]!.sympy[r]!, v), `${jobs[k]!.sympy} row ${r}`).toBe(true);
          expect(close(out[k]!.latex[r]!, v), `${jobs[k]!.latex} row ${r}`).toBe(true);
          compared++;
        }
      });
      expect(compared).toBeGreaterThan(400);
    },
    60_000,
  );
});
