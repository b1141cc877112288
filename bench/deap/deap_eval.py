"""DEAP side of `npm run bench:deap`: evaluates the trees gpmate sends (infix text, one per line) on
the data set it sends (raw little-endian f64: the input columns, then y), the classic DEAP way (a
compiled lambda called per row, as in DEAP's symbolic-regression example) and vectorised over numpy
columns. Prints JSON: node-evals/s of both and the RMSE of the first trees (for the agreement check).

Usage: deap_eval.py TREES.txt DATA.f64 VARS ROWS [SECONDS]
Both sides use the same protected operators (gplearn's): div(a, b) = a / b if |b| > 0.001 else 1,
log(a) = ln|a| if |a| > 0.001 else 0, exp unprotected (overflow gives inf).
"""
import ast
import json
import math
import operator
import sys
import time

import numpy as np
from deap import gp

trees_path, data_path, nvars, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
budget = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
names = [f"x{j}" for j in range(nvars)]
data = np.fromfile(data_path, dtype="<f8").reshape(nvars + 1, rows)
cols, y = [data[j].copy() for j in range(nvars)], data[nvars].copy()
infix = [line for line in open(trees_path).read().split("\n") if line]

BIN = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}


def prefix(node):
    """Infix (Python syntax) to DEAP's prefix text."""
    if isinstance(node, ast.Expression):
        return prefix(node.body)
    if isinstance(node, ast.BinOp):
        return f"{BIN[type(node.op)]}({prefix(node.left)}, {prefix(node.right)})"
    if isinstance(node, ast.Call):
        return f"{node.func.id}({', '.join(prefix(a) for a in node.args)})"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        return repr(float(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return repr(-float(node.operand.value))
    raise ValueError(f"unsupported node {ast.dump(node)}")


def pset_of(fns):
    ps = gp.PrimitiveSet("MAIN", nvars)
    ps.renameArguments(**{f"ARG{j}": n for j, n in enumerate(names)})
    for name, f, arity in fns:
        ps.addPrimitive(f, arity, name=name)
    return ps


def pdiv(a, b):
    return a / b if abs(b) > 0.001 else 1.0


def pexp(a):
    try:
        return math.exp(a)
    except OverflowError:
        return math.inf


def plog(a):
    return math.log(abs(a)) if abs(a) > 0.001 else 0.0


def safe(f):
    def g(a):
        try:
            return f(a)
        except ValueError:  # sin(inf)
            return math.nan
    return g


classic = pset_of([("add", operator.add, 2), ("sub", operator.sub, 2), ("mul", operator.mul, 2), ("div", pdiv, 2),
                   ("sin", safe(math.sin), 1), ("cos", safe(math.cos), 1), ("exp", pexp, 1), ("log", plog, 1)])


def ndiv(a, b):
    return np.where(np.abs(b) > 0.001, np.divide(a, b), 1.0)


def nlog(a):
    return np.where(np.abs(a) > 0.001, np.log(np.abs(a)), 0.0)


vector = pset_of([("add", np.add, 2), ("sub", np.subtract, 2), ("mul", np.multiply, 2), ("div", ndiv, 2),
                  ("sin", np.sin, 1), ("cos", np.cos, 1), ("exp", np.exp, 1), ("log", nlog, 1)])

texts = [prefix(ast.parse(s, mode="eval")) for s in infix]
t_classic = [gp.PrimitiveTree.from_string(s, classic) for s in texts]
t_vector = [gp.PrimitiveTree.from_string(s, vector) for s in texts]
# Compiled once, outside the timing: the evaluation alone is compared (DEAP compiles per evaluation in
# its examples, which would make it slower still).
f_classic = [gp.compile(t, classic) for t in t_classic]
f_vector = [gp.compile(t, vector) for t in t_vector]
nodes = [len(t) for t in t_classic]
rows_list = [tuple(float(c[r]) for c in cols) for r in range(rows)]
ylist = [float(v) for v in y]


def rmse_classic(f):
    # DEAP's symbolic-regression example: the compiled tree called per row.
    s = 0.0
    for x, t in zip(rows_list, ylist):
        try:
            e = f(*x) - t
            s += e * e
        except OverflowError:
            s = math.inf
    v = math.sqrt(s / rows) if s == s else math.nan
    return v if math.isfinite(v) else math.inf


def rmse_vector(f):
    with np.errstate(all="ignore"):
        p = np.broadcast_to(f(*cols), (rows,))
        v = float(np.sqrt(np.mean((p - y) ** 2)))
    return v if math.isfinite(v) else math.inf


def rate(fn, trees):
    """node-evals/s over repeated passes of the trees (at least one tree), within the time budget."""
    done_nodes, t0 = 0, time.perf_counter()
    while True:
        for i, t in enumerate(trees):
            fn(t)
            done_nodes += nodes[i]
            if time.perf_counter() - t0 > budget:
                return done_nodes * rows / (time.perf_counter() - t0)
        if time.perf_counter() - t0 > budget / 2:
            return done_nodes * rows / (time.perf_counter() - t0)


check = min(20, len(texts))
out = {
    "fitness_classic": [rmse_classic(f) for f in f_classic[:check]],
    "fitness_numpy": [rmse_vector(f) for f in f_vector[:check]],
    "numpy": rate(rmse_vector, f_vector),
    "classic": rate(rmse_classic, f_classic),
}
print(json.dumps(out, allow_nan=True).replace("Infinity", "1e999").replace("NaN", "null"))
