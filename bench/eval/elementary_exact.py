#!/usr/bin/env python3
"""Exact (50-digit) sin, cos, exp, ln for gpmate's accuracy checks of src/tree/elementary.ts.

  python3 bench/eval/elementary_exact.py fixture OUT.json N   # N random inputs per function, with the
                                                                # correctly rounded result (test fixture)
  python3 bench/eval/elementary_exact.py check IN.json          # IN: {fn: [[x, y], ...]}; prints the
                                                                # largest error of y in ulps (fractional)

Pure Python `decimal` (no mpmath here): pi by Machin's formula, sin/cos by Taylor series after an exact
reduction modulo pi/2 at 60 digits, exp and ln from decimal itself.
"""
import json, math, random, sys
from decimal import Decimal as D, getcontext

getcontext().prec = 70

def arctan_inv(n):
    x = D(1) / n; x2 = x * x; s = x; t = x; k = 1
    while True:
        t = -t * x2; k += 2; d = t / k
        if abs(d) < D(10) ** -75: return s
        s += d

PI = 16 * arctan_inv(5) - 4 * arctan_inv(239)
HALF_PI = PI / 2

def taylor_sin(r):
    s = r; t = r; k = 1; r2 = r * r
    while True:
        t = -t * r2 / ((k + 1) * (k + 2)); k += 2
        if abs(t) < D(10) ** -70: return s
        s += t

def taylor_cos(r):
    s = D(1); t = D(1); k = 0; r2 = r * r
    while True:
        t = -t * r2 / ((k + 1) * (k + 2)); k += 2
        if abs(t) < D(10) ** -70: return s
        s += t

def exact(fn, x):
    d = D(x)  # exact binary value of the double
    if fn in ('sin', 'cos'):
        n = int((d / HALF_PI).to_integral_value())
        r = d - n * HALF_PI
        q = n % 4
        if fn == 'cos': q = (q + 1) % 4
        v = taylor_sin(r) if q % 2 == 0 else taylor_cos(r)
        return v if q < 2 else -v
    if fn == 'exp': return d.exp()
    if fn == 'log': return abs(d).ln()

def ulp_error(y, e):
    """|y - e| in units of the last place of the double nearest e."""
    r = float(e)
    if r == 0: return float(abs(D(y) - e) / D(5e-324))
    u = math.ulp(r)
    return float(abs(D(y) - e) / D(u))

def inputs(fn, n, rng):
    xs = []
    for i in range(n):
        k = i % 3
        if fn in ('sin', 'cos'):
            x = rng.uniform(-4, 4) if k == 0 else rng.uniform(-1e4, 1e4) if k == 1 else math.copysign(2 ** rng.uniform(-30, 20), rng.random() - 0.5)
        elif fn == 'exp':
            x = rng.uniform(-1, 1) if k == 0 else rng.uniform(-745, 709.7) if k == 1 else rng.uniform(-20, 20)
        else:
            x = 2 ** rng.uniform(-9.9, 1000) if k else rng.uniform(0.5, 2)
        xs.append(x)
    return xs

if __name__ == '__main__':
    if sys.argv[1] == 'fixture':
        rng = random.Random(20261126)
        n = int(sys.argv[3])
        out = {fn: [[x, float(exact(fn, x))] for x in inputs(fn, n, rng)] for fn in ('sin', 'cos', 'exp', 'log')}
        with open(sys.argv[2], 'w') as f: json.dump(out, f)
    else:
        data = json.load(open(sys.argv[2]))
        for fn, pairs in data.items():
            worst = max(pairs, key=lambda p: ulp_error(p[1], exact(fn, p[0])))
            print(f"{fn}: {len(pairs)} inputs, max error {ulp_error(worst[1], exact(fn, worst[0])):.3f} ulp at x = {worst[0]!r}")
