"""Evaluate IR trees with numpy, and draw random instances that honour a scope.

Every value is a 2-D float64 array (a scalar is 1×1, a vector n×1), so shape
errors surface as errors instead of numpy broadcasting them away. Leaves whose
size comes from context (``E_{ij}``, ``e_i``, ``\\mathbf{1}``, ``I``, ``0``) ask
the ``shapes`` callback. ``dX`` (``Differential(Sym X)``) is looked up in the
values under the key ``d(X)`` (parentheses never occur in names).

Sizes are instantiated as small *distinct primes*, so an expression that is
wrong by a transpose cannot have matching shapes by accident.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np

from . import ir
from .ir import Expr

Array = np.ndarray
NumShape = Callable[[Expr], tuple[int, int]]

MAX_ENTRIES = 40_000  # per matrix; verification answers within the request budget

PRIMES = (3, 5, 7, 2, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)


def diff_key(name: str) -> str:
    """Key of ``dX`` in the values of :func:`evaluate`."""
    return f"d({name})"


class EvalError(ValueError):
    """The tree cannot be evaluated (opaque node, shape mismatch, missing value)."""


# ---------------------------------------------------------------- element-wise functions and their derivatives


def _sigma(x: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _ew_table() -> dict[str, tuple[Callable[[Array], Array], ...]]:
    s = _sigma
    return {
        "exp": (np.exp, np.exp, np.exp),
        "log": (np.log, lambda x: 1.0 / x, lambda x: -1.0 / x**2),
        "sigma": (s, lambda x: s(x) * (1 - s(x)), lambda x: s(x) * (1 - s(x)) * (1 - 2 * s(x))),
        "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
        "sin": (np.sin, np.cos, lambda x: -np.sin(x)),
        "cos": (np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x)),
        "sqrt": (np.sqrt, lambda x: 0.5 / np.sqrt(x), lambda x: -0.25 * x**-1.5),
        "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float), lambda x: np.zeros_like(x)),
        "softplus": (lambda x: np.logaddexp(0.0, x), s, lambda x: s(x) * (1 - s(x))),
        "abs": (np.abs, np.sign, lambda x: np.zeros_like(x)),
    }


_EW = _ew_table()


def elementwise(name: str) -> Callable[[Array], Array] | None:
    """``sigma''`` -> the second derivative of the logistic function, etc."""
    base = name.rstrip("'")
    order = len(name) - len(base)
    fs = _EW.get(base)
    if fs is None or order >= len(fs):
        return None
    return fs[order]


# ---------------------------------------------------------------- evaluation


def as2d(v: Any) -> Array:
    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(-1, 1)
    if a.ndim == 2:
        return a
    raise EvalError(f"value of rank {a.ndim}")


def evaluate(
    expr: Expr,
    values: Mapping[str, Any],
    shapes: NumShape | None = None,
    index: Mapping[str, int] | None = None,
) -> Array:
    """Numeric value of ``expr`` (2-D array). ``index`` maps index names to 0-based
    positions; digit indices (``X_{12}``) are 1-based as written. Raises
    :class:`EvalError` (or numpy's ``LinAlgError``) when it cannot."""
    return _Eval(values, shapes, index or {}).go(expr)


def evaluate_peak(
    expr: Expr,
    values: Mapping[str, Any],
    shapes: NumShape | None = None,
    index: Mapping[str, int] | None = None,
) -> tuple[Array, float]:
    """The value and the largest magnitude met on the way: the scale of its rounding error."""
    ev = _Eval(values, shapes, index or {})
    v = ev.go(expr)
    return v, ev.peak


class _Eval:
    def __init__(self, values: Mapping[str, Any], shapes: NumShape | None, index: Mapping[str, int]):
        self.values = values
        self.shapes = shapes
        self.index = index
        self.memo: dict[int, tuple[Expr, Array]] = {}
        self.peak = 0.0

    def go(self, x: Expr) -> Array:
        hit = self.memo.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        m = getattr(self, "e_" + type(x).__name__, None)
        if m is None:
            raise EvalError(f"cannot evaluate {type(x).__name__}")
        v = m(x)
        if v.size:
            self.peak = max(self.peak, float(np.max(np.abs(v))))
        self.memo[id(x)] = (x, v)
        return v

    # -- helpers
    def shape(self, x: Expr) -> tuple[int, int]:
        if self.shapes is None:
            raise EvalError(f"size of {type(x).__name__} unknown without a shape callback")
        try:
            r, c = self.shapes(x)
        except (KeyError, TypeError, ValueError) as e:
            raise EvalError(f"size of {type(x).__name__} unknown") from e
        return int(r), int(c)

    def idx(self, name: str, limit: int) -> int:
        if name.isdigit():
            k = int(name) - 1
        elif name in self.index:
            k = int(self.index[name])
        else:
            raise EvalError(f"no value for index {name}")
        if not 0 <= k < limit:
            raise EvalError(f"index {name} = {k} out of range {limit}")
        return k

    # -- leaves
    def e_Sym(self, x: ir.Sym) -> Array:
        if x.name not in self.values:
            raise EvalError(f"no value for {x.name}")
        return as2d(self.values[x.name])

    def e_Num(self, x: ir.Num) -> Array:
        v = float(x.value)
        if self.shapes is not None:
            try:
                r, c = self.shapes(x)
            except (KeyError, TypeError, ValueError):
                r, c = 1, 1
            if (int(r), int(c)) != (1, 1):  # `(X \odot A)1`: a lone 1 used as the ones vector
                return np.full((int(r), int(c)), v)
        return np.array([[v]])

    def e_Entry(self, x: ir.Entry) -> Array:
        a = self.go(x.of)
        if x.j is None:
            if a.shape[1] == 1:
                return a[self.idx(x.i, a.shape[0]), 0].reshape(1, 1)
            if a.shape[0] == 1:
                return a[0, self.idx(x.i, a.shape[1])].reshape(1, 1)
            raise EvalError("single index into a matrix")
        return a[self.idx(x.i, a.shape[0]), self.idx(x.j, a.shape[1])].reshape(1, 1)

    def e_Basis(self, x: ir.Basis) -> Array:
        r, c = self.shape(x)
        out = np.zeros((r, c))
        out[self.idx(x.i, r), self.idx(x.j, c)] = 1.0
        return out

    def e_UnitVec(self, x: ir.UnitVec) -> Array:
        r, c = self.shape(x)
        out = np.zeros((r, c))
        if c == 1:
            out[self.idx(x.i, r), 0] = 1.0
        else:
            out[0, self.idx(x.i, c)] = 1.0
        return out

    def e_Ones(self, x: ir.Ones) -> Array:
        return np.ones(self.shape(x))

    def e_Identity(self, x: ir.Identity) -> Array:
        r, c = self.shape(x)
        if r != c:
            raise EvalError("non-square identity")
        return np.eye(r)

    def e_Zero(self, x: ir.Zero) -> Array:
        return np.zeros(self.shape(x))

    def e_Differential(self, x: ir.Differential) -> Array:
        if isinstance(x.of, ir.Sym) and diff_key(x.of.name) in self.values:
            return as2d(self.values[diff_key(x.of.name)])
        if isinstance(x.of, ir.Transpose):  # `dX^\top` as written: d(Xᵀ) = (dX)ᵀ
            return self.go(ir.Differential(x.of.x)).T
        raise EvalError("no value for a differential")

    # -- sums and products
    def e_Add(self, x: ir.Add) -> Array:
        acc: Array | None = None
        for t in x.terms:
            v = self.go(t)
            if acc is None:
                acc = v.copy()
            elif acc.shape != v.shape:
                raise EvalError(f"adding {acc.shape} and {v.shape}")
            else:
                acc = acc + v
        if acc is None:
            raise EvalError("empty sum")
        return acc

    def e_Neg(self, x: ir.Neg) -> Array:
        return -self.go(x.x)

    def e_Mul(self, x: ir.Mul) -> Array:
        acc: Array | None = None
        for f in x.factors:
            v = self.go(f)
            if acc is None:
                acc = v
            elif acc.shape == (1, 1) or v.shape == (1, 1):
                acc = acc * v  # a scalar scales
            elif acc.shape[1] != v.shape[0]:
                raise EvalError(f"multiplying {acc.shape} by {v.shape}")
            else:
                acc = acc @ v
        if acc is None:
            raise EvalError("empty product")
        return acc

    def e_Div(self, x: ir.Div) -> Array:
        d = self.go(x.den)
        if d.shape != (1, 1):
            raise EvalError("division by a non-scalar")
        return self.go(x.num) / d[0, 0]

    def e_Transpose(self, x: ir.Transpose) -> Array:
        return self.go(x.x).T

    def e_Inverse(self, x: ir.Inverse) -> Array:
        a = self.go(x.x)
        if a.shape == (1, 1):
            return 1.0 / a
        if a.shape[0] != a.shape[1]:
            raise EvalError("inverse of a non-square matrix")
        return np.linalg.inv(a)

    def e_Power(self, x: ir.Power) -> Array:
        a = self.go(x.base)
        k = self.go(x.exp)
        if k.shape != (1, 1):
            raise EvalError("non-scalar exponent")
        p = float(k[0, 0])
        if a.shape == (1, 1) or a.shape[0] != a.shape[1]:
            return a**p  # scalar, or element-wise power of a non-square f(X)
        if p == int(p):
            return np.linalg.matrix_power(a, int(p))
        if np.allclose(a, a.T):  # W^{1/2} of a symmetric positive definite W
            lam, v = np.linalg.eigh((a + a.T) / 2)
            if np.all(lam > 0):
                return (v * lam**p) @ v.T
        raise EvalError("non-integer power of a matrix that is not symmetric positive definite")

    def _same(self, x: Expr, a: Array, b: Array) -> None:
        if a.shape != b.shape and a.shape != (1, 1) and b.shape != (1, 1):
            raise EvalError(f"{type(x).__name__} of {a.shape} and {b.shape}")

    def e_Hadamard(self, x: ir.Hadamard) -> Array:
        a, b = self.go(x.a), self.go(x.b)
        self._same(x, a, b)
        return a * b

    def e_HadamardDiv(self, x: ir.HadamardDiv) -> Array:
        a, b = self.go(x.a), self.go(x.b)
        self._same(x, a, b)
        return a / b

    def e_Kron(self, x: ir.Kron) -> Array:
        return np.kron(self.go(x.a), self.go(x.b))

    def e_Frob(self, x: ir.Frob) -> Array:
        a, b = self.go(x.a), self.go(x.b)
        if a.shape != b.shape:
            raise EvalError(f"Frobenius product of {a.shape} and {b.shape}")
        return np.array([[float(np.sum(a * b))]])

    # -- functions
    def e_Func(self, x: ir.Func) -> Array:
        a = self.go(x.arg)
        n = x.name
        square = a.shape[0] == a.shape[1]
        if n == "tr":
            if not square:
                raise EvalError("trace of a non-square matrix")
            return np.array([[float(np.trace(a))]])
        if n == "det":
            if not square:
                raise EvalError("determinant of a non-square matrix")
            return np.array([[float(np.linalg.det(a))]])
        if n == "logdet":
            if not square:
                raise EvalError("log det of a non-square matrix")
            sign, logabs = np.linalg.slogdet(a)
            if sign == 0:
                raise EvalError("log det of a singular matrix")
            return np.array([[float(logabs)]])  # log|det X|, as the Cookbook writes it
        if n == "abs" and square and a.shape != (1, 1) and self._abs_is_det(x):
            return np.array([[float(np.linalg.det(a))]])  # |X| of a square matrix is det X
        if n == "diag":
            if a.shape[1] == 1 and a.shape[0] > 1:
                return np.diag(a[:, 0])
            if not square:
                raise EvalError("diag of a non-square matrix")
            return np.diag(a).reshape(-1, 1).copy()
        if n == "Diag":
            if a.shape[1] != 1:
                raise EvalError("Diag of a non-vector")
            return np.diag(a[:, 0])
        if n == "vec":
            return a.reshape(-1, 1, order="F")
        f = elementwise(n)
        if f is None:
            raise EvalError(f"unknown function {n}")
        return np.asarray(f(a), dtype=float)

    def _abs_is_det(self, x: ir.Func) -> bool:
        if self.shapes is not None:
            try:
                return tuple(map(int, self.shapes(x))) == (1, 1)
            except (KeyError, TypeError, ValueError, EvalError):
                pass
        return True

    def e_Norm(self, x: ir.Norm) -> Array:
        a = self.go(x.x)
        vec = a.shape[1] == 1 or a.shape[0] == 1
        k = x.kind
        if k in (None, "2") and vec or k == "F" or (k is None and not vec):
            v = float(np.sqrt(np.sum(a * a)))
        elif k == "2":
            v = float(np.linalg.norm(a, 2))
        elif k == "1":
            v = float(np.sum(np.abs(a))) if vec else float(np.linalg.norm(a, 1))
        elif k in ("\\infty", "inf", "∞"):
            v = float(np.max(np.abs(a))) if vec else float(np.linalg.norm(a, np.inf))
        else:
            raise EvalError(f"unknown norm {k}")
        return np.array([[v]])


# ---------------------------------------------------------------- random instances


def size_values(symbols: Iterable[Any], order: int = 0) -> dict[Any, int]:
    """Distinct small primes for the given size symbols, deterministic. ``order`` 1 and 2
    permute which size gets which prime (a paper may need m ≥ n, as least squares does)."""
    named = sorted((s for s in set(symbols) if not str(s).startswith("_u")), key=str)
    unknown = sorted((s for s in set(symbols) if str(s).startswith("_u")), key=str)
    if order == 1:
        named.reverse()
    elif order == 2 and named:
        named = named[1:] + named[:1]
    out: dict[Any, int] = {}
    for k, s in enumerate(named + unknown):
        out[s] = PRIMES[k] if k < len(PRIMES) else 53 + 2 * k
    return out


class NumericShapes:
    """Symbolic shapes (sympy, from a shape result) -> integers, by a fixed size assignment."""

    def __init__(self, source: Any, sizes: dict[Any, int]):
        self.source = source  # anything with .get(node) -> Shape | None
        self.sizes = sizes
        self._cache: dict[Any, int] = {}

    def size(self, e: Any) -> int:
        if isinstance(e, int):
            return e
        hit = self._cache.get(e)
        if hit is not None:
            return hit
        free = getattr(e, "free_symbols", set())
        for f in sorted((f for f in free if f not in self.sizes), key=str):
            used = set(self.sizes.values())  # sizes nobody pinned down still get distinct primes
            self.sizes[f] = next((p for p in PRIMES if p not in used), 53 + 2 * len(used))
        v = int(e.subs({f: self.sizes[f] for f in free})) if free else int(e)
        if v < 1:
            raise EvalError(f"size {e} = {v}")
        self._cache[e] = v
        return v

    def __call__(self, x: Expr) -> tuple[int, int]:
        s = self.source.get(x)
        if s is None:
            raise KeyError(f"no shape for {type(x).__name__}")
        return self.size(s.rows), self.size(s.cols)


def instantiate(
    scope: Any,
    checker_result: Any,
    assumptions: Mapping[str, set[str]] | None,
    rng: np.random.Generator,
    trees: Iterable[Expr] = (),
    order: int = 0,
) -> tuple[dict[str, Any], NumericShapes]:
    """Random values for every declared symbol (and every symbol in ``trees``) plus a
    numeric shape function. ``checker_result`` is anything with ``.get(node) -> Shape``
    (a ``ShapeResult`` or a calculus ``ShapeTable``)."""
    trees = tuple(trees)
    shapes: dict[str, Any] = {n: (d.rows, d.cols) for n, d in scope.decls.items()}
    for t in trees:
        for node in t.walk():
            if isinstance(node, ir.Sym) and node.name not in shapes:
                s = checker_result.get(node)
                if s is not None:
                    shapes[node.name] = (s.rows, s.cols)
    resolve = getattr(getattr(scope, "sizes", None), "resolve", lambda e: e)
    shapes = {n: (resolve(r), resolve(c)) for n, (r, c) in shapes.items()}
    symbols = set(scope.size_names) if hasattr(scope, "size_names") else set()
    symbols = {s for s in symbols if not isinstance(s, str)}
    for r, c in shapes.values():
        symbols |= set(getattr(r, "free_symbols", ())) | set(getattr(c, "free_symbols", ()))
    num = NumericShapes(checker_result, size_values(symbols, order))

    need = _needs(trees)
    # Only the symbols the trees use: a paper declares many, and one with an absurd
    # size (a typo such as `n mes n`) must not make every check build a huge matrix.
    used = {n.name for t in trees for n in t.walk() if isinstance(n, ir.Sym)} if trees else None
    values: dict[str, Any] = {}
    for name, (r, c) in sorted(shapes.items()):
        if used is not None and name not in used:
            continue
        kinds = set(scope.assumptions_of(name)) if hasattr(scope, "assumptions_of") else set()
        kinds |= set((assumptions or {}).get(name, ()))
        kinds |= need.get(name, set())
        try:
            rows, cols = num.size(r), num.size(c)
        except (TypeError, ValueError, EvalError):
            continue
        if rows * cols > MAX_ENTRIES:
            raise EvalError(f"{name} would be {rows}×{cols}: too large to check numerically")
        values[name] = random_value(rows, cols, kinds, rng)
    for t in trees:  # dX in a claimed differential: a random direction
        for node in t.walk():
            if isinstance(node, ir.Differential):
                of = node.of
                while isinstance(of, ir.Transpose):
                    of = of.x
                if isinstance(of, ir.Sym) and of.name in values:
                    values.setdefault(diff_key(of.name), rng.standard_normal(np.shape(values[of.name])))
    return values, num


def random_value(rows: int, cols: int, kinds: set[str], rng: np.random.Generator) -> Array:
    """A random matrix honouring ``kinds`` (symmetric, spd, invertible, orthogonal, diagonal, positive)."""
    if rows == 1 and cols == 1:
        return np.array([[rng.uniform(0.5, 2.0)]])  # positive: safe under log, sqrt and as a denominator
    if "positive" in kinds and rows != cols:
        return rng.uniform(0.5, 2.0, (rows, cols))
    if rows != cols:
        return rng.standard_normal((rows, cols))
    n = rows
    if "spd" in kinds:
        b = rng.standard_normal((n, n))
        return b @ b.T + n * np.eye(n)
    if "orthogonal" in kinds:
        q, r = np.linalg.qr(rng.standard_normal((n, n)))
        q = q * np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        return q
    if "diagonal" in kinds:
        return np.diag(rng.uniform(0.5, 2.0, n))
    if "positive" in kinds:
        return rng.uniform(0.5, 2.0, (n, n)) + n * np.eye(n)
    if "symmetric" in kinds:
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        lam = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
        if np.prod(np.sign(lam)) < 0:
            lam[0] = -lam[0]  # det > 0: log det stays defined
        return (q * lam) @ q.T
    # Any square matrix: well-conditioned (singular values in [1, 3]) with det > 0,
    # so inverses, determinants and logs are safe, yet nothing is symmetric.
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    m = (u * rng.uniform(1.0, 3.0, n)) @ v.T
    if np.linalg.det(m) < 0:
        m[:, 0] = -m[:, 0]
    return m


def _needs(trees: tuple[Expr, ...]) -> dict[str, set[str]]:
    """Symbols the trees use under ``log``/``sqrt``, as element-wise divisors or with
    fractional powers must be positive."""
    out: dict[str, set[str]] = {}

    def mark(e: Expr) -> None:
        if isinstance(e, ir.Sym):
            out.setdefault(e.name, set()).add("positive")
        elif isinstance(e, ir.Transpose):
            mark(e.x)

    for t in trees:
        for node in t.walk():
            if isinstance(node, ir.Func) and node.name.rstrip("'") in ("log", "sqrt"):
                mark(node.arg)
            elif isinstance(node, ir.HadamardDiv):
                mark(node.b)
            elif isinstance(node, ir.Power) and not (isinstance(node.exp, ir.Num) and node.exp.value.denominator == 1):
                mark(node.base)
                if isinstance(node.base, ir.Sym):
                    out[node.base.name].add("spd")  # a square matrix to a fractional power: SPD
    return out
