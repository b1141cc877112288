"""DEAP side of `npm run bench:run`: eaSimple on the training data gpmate writes (CSV: inputs, then y),
with the settings gpmate uses, fitness = RMSE vectorised over numpy columns (DEAP's fastest usual set-up).
Prints JSON: total seconds, generations, best training RMSE.

Usage: deap_run.py DATA.csv FUNCTIONS POP GENS TOURNAMENT CXPB MUTPB SEED
"""
import json
import math
import operator
import random
import sys
import time

import numpy as np
from deap import algorithms, base, creator, gp, tools

path, fnames = sys.argv[1], sys.argv[2].split(",")
pop_n, gens, tsize = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cxpb, mutpb, seed = float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
cols, y = [data[:, j].copy() for j in range(data.shape[1] - 1)], data[:, -1].copy()


def ndiv(a, b):
    return np.where(np.abs(b) > 0.001, np.divide(a, b), 1.0)


def nlog(a):
    return np.where(np.abs(a) > 0.001, np.log(np.abs(a)), 0.0)


FUNCS = {"add": (np.add, 2), "sub": (np.subtract, 2), "mul": (np.multiply, 2), "div": (ndiv, 2), "sin": (np.sin, 1),
         "cos": (np.cos, 1), "exp": (np.exp, 1), "log": (nlog, 1), "sqrt": (lambda a: np.sqrt(np.abs(a)), 1),
         "neg": (np.negative, 1), "square": (np.square, 1)}
pset = gp.PrimitiveSet("MAIN", len(cols))
for name in fnames:
    f, arity = FUNCS[name]
    pset.addPrimitive(f, arity, name=name)
pset.addEphemeralConstant("c", lambda: random.uniform(-1, 1))

creator.create("FitnessMin", base.Fitness, weights=(-1.0,))
creator.create("Individual", gp.PrimitiveTree, fitness=creator.FitnessMin)
tb = base.Toolbox()
tb.register("expr", gp.genHalfAndHalf, pset=pset, min_=2, max_=6)
tb.register("individual", tools.initIterate, creator.Individual, tb.expr)
tb.register("population", tools.initRepeat, list, tb.individual)
tb.register("compile", gp.compile, pset=pset)


def evaluate(ind):
    f = tb.compile(expr=ind)
    with np.errstate(all="ignore"):
        p = np.broadcast_to(f(*cols), y.shape)
        v = float(np.sqrt(np.mean((p - y) ** 2)))
    return (v if math.isfinite(v) else math.inf,)


tb.register("evaluate", evaluate)
tb.register("select", tools.selTournament, tournsize=tsize)
tb.register("mate", gp.cxOnePoint)
tb.register("expr_mut", gp.genGrow, min_=0, max_=4)
tb.register("mutate", gp.mutUniform, expr=tb.expr_mut, pset=pset)
tb.decorate("mate", gp.staticLimit(key=operator.attrgetter("height"), max_value=17))
tb.decorate("mutate", gp.staticLimit(key=operator.attrgetter("height"), max_value=17))

random.seed(seed)
t0 = time.perf_counter()
pop = tb.population(n=pop_n)
hof = tools.HallOfFame(1)
pop, _ = algorithms.eaSimple(pop, tb, cxpb, mutpb, gens, halloffame=hof, verbose=False)
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "generations": gens, "best": hof[0].fitness.values[0]}))
