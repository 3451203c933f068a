#!/usr/bin/env python3
"""Prints the reference numbers pasted into stats/reference_test.go.

Needs numpy, scipy and statsmodels (Debian: python3-scipy python3-statsmodels). The Go tests
do not run this; it documents where their expected values come from.
"""
import numpy as np
from scipy import stats
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint


def g(v):
    return "[]float64{" + ", ".join(repr(float(x)) for x in v) + "}"


def b(v):
    return "[]bool{" + ", ".join("true" if x else "false" for x in v) + "}"


rng = np.random.default_rng(20240601)
print("// descriptive")
for x in [[3.0, 1.0, 2.0], [1.5, -2.0, 7.25, 0.0, 3.0, 3.0], list(rng.normal(2, 3, 11))]:
    x = np.array(x)
    print("{%s, %r, %r, %r, %r, %r}," % (g(x), x.mean(), np.median(x), x.std(ddof=1),
                                       np.quantile(x, 0.1), np.quantile(x, 0.75)))

print("// mann-whitney: x, y, method, U, p")
cases = [
    ([1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30],
     [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29], "auto"),
    ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], "auto"),
    ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], "asymptotic"),
    ([3.1, 0.2, 5.5, 4.0], [1.0, 2.2, 6.1, 0.4, 7.7, 3.3, 8.0], "exact"),
    (list(np.round(rng.normal(0.5, 1, 30), 1)), list(np.round(rng.normal(0, 1, 40), 1)), "auto"),
    (list(rng.normal(0.8, 1, 8)), list(rng.normal(0, 1, 20)), "auto"),
    (list(rng.uniform(0, 1, 12)), list(rng.uniform(0.2, 1.2, 15)), "exact"),
    (list(rng.uniform(0, 1, 12)), list(rng.uniform(0.2, 1.2, 15)), "asymptotic"),
    ([1, 1, 2, 2, 2, 3], [2, 3, 3, 3, 4], "auto"),
]
for x, y, m in cases:
    r = stats.mannwhitneyu(x, y, alternative="two-sided", method=m)
    meth = {"auto": "Auto", "exact": "Exact", "asymptotic": "Asymptotic"}[m]
    print("{%s, %s, %s, %r, %r}," % (g(x), g(y), meth, float(r.statistic), float(r.pvalue)))

print("// spearman: x, y, rho, p")
x1 = list(rng.normal(0, 1, 10))
y1 = list(np.array(x1) * 0.5 + rng.normal(0, 1, 10))
x2 = list(np.round(rng.uniform(0, 5, 40)))
y2 = list(np.round(np.array(x2) + rng.normal(0, 2, 40)))
for x, y in [([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), (x1, y1), (x2, y2), ([1, 2, 3], [3, 1, 2])]:
    r = stats.spearmanr(x, y)
    print("{%s, %s, %r, %r}," % (g(x), g(y), float(r.correlation), float(r.pvalue)))

print("// wilson: k, n, level, lo, hi")
for k, n, lvl in [(0, 10, 0.95), (3, 10, 0.95), (10, 10, 0.95), (45, 200, 0.9), (1, 1, 0.99), (500, 1000, 0.95)]:
    lo, hi = proportion_confint(k, n, alpha=1 - lvl, method="wilson")
    print("{%d, %d, %r, %r, %r}," % (k, n, lvl, lo, hi))

print("// logistic, unpenalized: y, predictors, coef, se, p, llf, llnull")
n = 120
xa = rng.uniform(0, 1, n)
ya = rng.uniform(size=n) < 1 / (1 + np.exp(-(-2 + 3 * xa)))
xb1 = rng.normal(0, 2, 150)
xb2 = rng.uniform(-1, 1, 150) * 10 + 50
yb = rng.uniform(size=150) < 1 / (1 + np.exp(-(0.5 - 0.8 * xb1 + 0.1 * (xb2 - 50))))
for y, X in [(ya, [xa]), (yb, [xb1, xb2])]:
    D = sm.add_constant(np.column_stack(X))
    r = sm.Logit(y.astype(float), D).fit(disp=0, tol=1e-12, maxiter=200)
    print("{%s, [][]float64{%s}, %s, %s, %s, %r, %r}," % (
        b(y), ", ".join(g(c) for c in X), g(r.params), g(r.bse), g(r.pvalues), r.llf, r.llnull))
