"""Numerical checks: symbolic results against central finite differences.

Each check draws random instances (sizes distinct small primes, matrices
honouring the scope's assumptions; see ``numeric.instantiate``), evaluates the
symbolic result and compares it with a central difference of the function
along random directions (step 1e-6 relative, float64). It fails closed: any
exception, NaN or shape mismatch gives ``ok=False`` with a reason; nothing here
raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from . import ir
from .calculus import expand_differentials, shapes_for
from .ir import Expr
from .simplify import ShapeTable
from .numeric import NumericShapes, diff_key, evaluate_peak, instantiate

TOL = 1e-5  # first derivatives (central differences: error ~1e-9 relative here)
TOL_IDENTITY = 1e-8
TOL_SECOND = 1e-4  # second differences are noisier
STEP = 1e-6
STEP_SECOND = 1e-4


@dataclass(frozen=True)
class Verified:
    ok: bool
    max_rel_error: float
    trials: int
    reason: str | None = None


class _Fail(Exception):
    def __init__(self, reason: str, err: float = float("inf")):
        super().__init__(reason)
        self.err = err


class _Setup:
    """Shapes and random instances shared by the trees of one check."""

    def __init__(self, scope: Any, trees: tuple[Expr, ...], same: Iterable[tuple[Expr, Any]] = (), shapes: ShapeTable | None = None):
        self.trees = trees
        self.st = shapes if shapes is not None else shapes_for(trees[0], scope, *trees[1:], same=same)
        self.scope = self.st.scope if self.st.scope is not None else scope
        self.peak = 0.0  # largest magnitude met while evaluating the function
        self.order: int | None = None  # which size gets which prime

    def instance(self, seed: int, trial: int) -> tuple[dict[str, Any], NumericShapes]:
        if self.order is None:
            self.order = self.pick_order(seed)
        rng = np.random.default_rng([seed, trial])
        return instantiate(self.scope, self.st, None, rng, self.trees, self.order)

    def pick_order(self, seed: int) -> int:
        """The first size assignment under which every tree evaluates to moderate finite
        values: with m < n, AᵀA (A m×n) is singular, with m > n it is not."""
        for order in (0, 1, 2):
            try:
                values, num = instantiate(self.scope, self.st, None, np.random.default_rng([seed, 99]), self.trees, order)
                ix = self.indices(num, np.random.default_rng([seed, 98]))
                peak = 0.0
                with np.errstate(all="ignore"):
                    for t in self.trees:
                        v, p = evaluate_peak(t, values, num, ix)
                        if not np.all(np.isfinite(v)):
                            raise ValueError("not finite")
                        peak = max(peak, p)
                if peak < 1e8:
                    return order
            except Exception:  # noqa: BLE001 - this ordering does not work; try the next
                continue
        return 0

    def value(self, x: Expr, values: dict[str, Any], num: NumericShapes, index: dict[str, int] | None = None) -> np.ndarray:
        with np.errstate(all="ignore"):
            v, peak = evaluate_peak(x, values, num, index)
        if not np.all(np.isfinite(v)) or not np.isfinite(peak):
            raise _Fail("the value is not finite (NaN or overflow)")
        self.peak = max(self.peak, peak)
        return v

    def noise(self) -> float:
        """Floor of a derivative's scale: central differences lose ~eps·peak/h to rounding."""
        return 1e-3 * max(1.0, self.peak)

    def index_ranges(self, num: NumericShapes) -> dict[str, int]:
        """Upper bound of each index name from the nodes that use it."""
        out: dict[str, int] = {}

        def bound(name: str | None, n: int) -> None:
            if name is not None and not name.isdigit():
                out[name] = min(out.get(name, n), n)

        for t in self.trees:
            for node in t.walk():
                try:
                    if isinstance(node, ir.Basis):
                        r, c = num(node)
                        bound(node.i, r)
                        bound(node.j, c)
                    elif isinstance(node, ir.UnitVec):
                        r, c = num(node)
                        bound(node.i, max(r, c))
                    elif isinstance(node, ir.Entry):
                        r, c = num(node.of) if not isinstance(node.of, ir.Sym) else self.sym_shape(node.of, num)
                        if node.j is None:
                            bound(node.i, max(r, c))
                        else:
                            bound(node.i, r)
                            bound(node.j, c)
                except (KeyError, ValueError, TypeError):
                    continue
        return out

    def indices(self, num: NumericShapes, rng: np.random.Generator) -> dict[str, int]:
        """Random values of the free indices (``k`` in ``e_k^T (X ⊙ A) 1``)."""
        return {k: int(rng.integers(0, n)) for k, n in self.index_ranges(num).items()}

    def sym_shape(self, x: ir.Sym, num: NumericShapes) -> tuple[int, int]:
        s = self.st.get(x) or self.st.names[x.name]
        return num.size(s.rows), num.size(s.cols)


def _guard(trials: int, body: Callable[[], float]) -> Verified:
    try:
        err = body()
    except _Fail as e:
        return Verified(False, e.err, trials, str(e))
    except Exception as e:  # noqa: BLE001 - fail closed on anything numeric or structural
        return Verified(False, float("inf"), trials, f"{type(e).__name__}: {e}")
    if not np.isfinite(err):
        return Verified(False, float("inf"), trials, "the error is not finite")
    return Verified(True, float(err), trials, None)


def _check(err: float, tol: float, what: str) -> None:
    if not err <= tol:
        raise _Fail(f"{what} differs from finite differences (relative error {err:.2e})", err)


def _mismatch(a: np.ndarray, b: np.ndarray, floor: float, what: str, against: str) -> float:
    """max |a - b| relative to the larger of the two (and ``floor``, the noise level), after
    checking that the shapes agree (``what`` is a, ``against`` b, for the message)."""
    if a.shape != b.shape:
        raise _Fail(f"{what} is {a.shape[0]}×{a.shape[1]} but {against} is {b.shape[0]}×{b.shape[1]}")
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), floor)
    return float(np.max(np.abs(a - b))) / scale


def _step(x: np.ndarray, base: float = STEP) -> float:
    return base * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)


def _shifted(values: dict[str, Any], name: str, delta: np.ndarray) -> dict[str, Any]:
    out = dict(values)
    out[name] = np.asarray(values[name], dtype=float) + delta
    return out


# ---------------------------------------------------------------- checks


def verify_gradient(f: Expr, wrt: ir.Sym, G: Expr, scope: Any, trials: int = 3, layout: str = "denominator", seed: int = 0, shapes: ShapeTable | None = None) -> Verified:
    """Is G = ∂f/∂X (df = G : dX; ``layout="numerator"``: G is the transpose)?"""
    same = [(G, wrt)] if layout == "denominator" else []

    def body() -> float:
        su = _Setup(scope, (f, G, wrt), same, shapes)
        worst = 0.0
        for t in range(trials):
            values, num = su.instance(seed, t)
            x0 = np.asarray(values[wrt.name], dtype=float)
            rng = np.random.default_rng([seed, t, 1])
            ix = su.indices(num, rng)
            g = su.value(G, values, num, ix)
            if layout == "numerator":
                g = g.T
            if g.shape != x0.shape:
                raise _Fail(f"the gradient is {g.shape[0]}×{g.shape[1]} but {wrt.name} is {x0.shape[0]}×{x0.shape[1]}")
            f0 = su.value(f, values, num, ix)
            if f0.shape != (1, 1):
                raise _Fail("the function is not scalar")
            for _ in range(2):
                v = rng.standard_normal(x0.shape)
                h = _step(x0)
                fd = (su.value(f, _shifted(values, wrt.name, h * v), num, ix) - su.value(f, _shifted(values, wrt.name, -h * v), num, ix))[0, 0] / (2 * h)
                sym = float(np.sum(g * v))
                scale = max(float(np.linalg.norm(g) * np.linalg.norm(v)), abs(fd), su.noise())
                worst = max(worst, abs(sym - fd) / scale)
        _check(worst, TOL, "the gradient")
        return worst

    return _guard(trials, body)


def verify_component(F: Expr, wrt: ir.Sym, D: Expr, scope: Any, i: str | None = "i", j: str | None = "j", trials: int = 3, seed: int = 0, shapes: ShapeTable | None = None) -> Verified:
    """Is D = ∂F/∂X_{ij} (D shaped like F, indices i, j free in D)?"""

    def body() -> float:
        su = _Setup(scope, (F, D, wrt), [(D, F)], shapes)
        worst = 0.0
        for t in range(trials):
            values, num = su.instance(seed, t)
            x0 = np.asarray(values[wrt.name], dtype=float)
            rng = np.random.default_rng([seed, t, 2])
            for _ in range(3):
                index = su.indices(num, rng)
                r, c = x0.shape
                a, b = int(rng.integers(0, r)), int(rng.integers(0, c))
                if r > 1 and c > 1:
                    index.update({k: v for k, v in ((i, a), (j, b)) if k is not None})
                elif r > 1 and i is not None:  # column vector: e_i
                    index[i] = a
                elif c > 1 and (j or i) is not None:  # row vector: e_jᵀ
                    index[j or i] = b
                e = np.zeros_like(x0)
                e[a, b] = 1.0
                h = _step(x0)
                fp = su.value(F, _shifted(values, wrt.name, h * e), num, index)
                fm = su.value(F, _shifted(values, wrt.name, -h * e), num, index)
                fd = (fp - fm) / (2 * h)
                d = su.value(D, values, num, index)
                worst = max(worst, _mismatch(d, fd, su.noise(), "the derivative", "the function"))
        _check(worst, TOL, "the component-wise derivative")
        return worst

    return _guard(trials, body)


def verify_identity(lhs: Expr, rhs: Expr, scope: Any, trials: int = 3, seed: int = 0, shapes: ShapeTable | None = None) -> Verified:
    """Does lhs = rhs on random instances (free indices drawn at random)? A differential of
    a compound expression (``d(K^{-1})``) is expanded first; ``dX`` is a random direction."""

    def body() -> float:
        su = _Setup(scope, (lhs, rhs), [(lhs, rhs)], shapes)
        if any(isinstance(n, ir.Differential) and not isinstance(n.of, ir.Sym) for t in (lhs, rhs) for n in t.walk()):
            a, b = expand_differentials(lhs, su.st), expand_differentials(rhs, su.st)
            su = _Setup(scope, (a, b), (), su.st)  # the table knows the new nodes
        else:
            a, b = lhs, rhs
        return _identity(su, a, b, trials, seed)

    return _guard(trials, body)


def _identity(su: _Setup, lhs: Expr, rhs: Expr, trials: int, seed: int) -> float:
    worst = 0.0
    for t in range(trials):
        values, num = su.instance(seed, t)
        index = su.indices(num, np.random.default_rng([seed, t, 3]))
        a, b = su.value(lhs, values, num, index), su.value(rhs, values, num, index)
        worst = max(worst, _mismatch(a, b, max(1e-6 * su.peak, 1e-300), "the left side", "the right side"))
    if not worst <= TOL_IDENTITY:
        raise _Fail(f"the two sides differ (relative error {worst:.2e})", worst)
    return worst


def verify_differential(F: Expr, wrt: Iterable[ir.Sym | str], dF: Expr, scope: Any, trials: int = 3, seed: int = 0, shapes: ShapeTable | None = None) -> Verified:
    """Is dF the differential of F (``Differential(X)`` leaves, all ``wrt`` varying together)?"""
    names = [w.name if isinstance(w, ir.Sym) else w for w in wrt]

    def body() -> float:
        su = _Setup(scope, (F, dF), [(dF, F)], shapes)
        worst = 0.0
        for t in range(trials):
            values, num = su.instance(seed, t)
            rng = np.random.default_rng([seed, t, 4])
            ix = su.indices(num, rng)
            for _ in range(2):
                plus, minus, vals = dict(values), dict(values), dict(values)
                h = _step(np.concatenate([np.ravel(values[n]) for n in names])) if names else STEP
                for n in names:
                    x0 = np.asarray(values[n], dtype=float)
                    v = rng.standard_normal(x0.shape) if x0.ndim else rng.standard_normal()
                    vals[diff_key(n)] = v
                    plus[n], minus[n] = x0 + h * v, x0 - h * v
                fp, fm = su.value(F, plus, num, ix), su.value(F, minus, num, ix)
                fd = (fp - fm) / (2 * h)
                d = su.value(dF, vals, num, ix)
                worst = max(worst, _mismatch(d, fd, su.noise(), "the differential", "the function"))
        _check(worst, TOL, "the differential")
        return worst

    return _guard(trials, body)


def verify_jacobian(F: Expr, wrt: ir.Sym, J: Expr, scope: Any, trials: int = 3, seed: int = 0, shapes: ShapeTable | None = None) -> Verified:
    """Is J = ∂ vec F / ∂ (vec X)ᵀ (column-major vec)?"""

    def body() -> float:
        su = _Setup(scope, (F, J, wrt), (), shapes)
        worst = 0.0
        for t in range(trials):
            values, num = su.instance(seed, t)
            x0 = np.asarray(values[wrt.name], dtype=float)
            rng = np.random.default_rng([seed, t, 5])
            ix = su.indices(num, rng)
            jm = su.value(J, values, num, ix)
            f0 = su.value(F, values, num, ix)
            if jm.shape != (f0.size, x0.size):
                raise _Fail(f"the Jacobian is {jm.shape[0]}×{jm.shape[1]}, expected {f0.size}×{x0.size}")
            for _ in range(2):
                v = rng.standard_normal(x0.shape)
                h = _step(x0)
                fd = (su.value(F, _shifted(values, wrt.name, h * v), num, ix) - su.value(F, _shifted(values, wrt.name, -h * v), num, ix)) / (2 * h)
                sym = jm @ v.reshape(-1, 1, order="F")
                fdv = fd.reshape(-1, 1, order="F")
                scale = max(float(np.linalg.norm(jm) * np.linalg.norm(v)), float(np.max(np.abs(fdv))), su.noise())
                worst = max(worst, float(np.max(np.abs(sym - fdv))) / scale)
        _check(worst, TOL, "the Jacobian")
        return worst

    return _guard(trials, body)


def verify_hessian(f: Expr, wrt: ir.Sym, H: Expr, scope: Any, trials: int = 3, seed: int = 0, shapes: ShapeTable | None = None) -> Verified:
    """Is H = ∂²f / ∂ vec X ∂ (vec X)ᵀ? Compares v₂ᵀ H v₁ with a mixed second difference."""

    def body() -> float:
        su = _Setup(scope, (f, H, wrt), (), shapes)
        worst = 0.0
        for t in range(trials):
            values, num = su.instance(seed, t)
            x0 = np.asarray(values[wrt.name], dtype=float)
            rng = np.random.default_rng([seed, t, 6])
            ix = su.indices(num, rng)
            hm = su.value(H, values, num, ix)
            if hm.shape != (x0.size, x0.size):
                raise _Fail(f"the Hessian is {hm.shape[0]}×{hm.shape[1]}, expected {x0.size}×{x0.size}")
            f0 = su.value(f, values, num, ix)
            for _ in range(2):
                v1, v2 = rng.standard_normal(x0.shape), rng.standard_normal(x0.shape)
                h = _step(x0, STEP_SECOND)

                def at(a: float, b: float) -> float:
                    return float(su.value(f, _shifted(values, wrt.name, h * (a * v1 + b * v2)), num, ix)[0, 0])

                fd = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h)
                sym = (v2.reshape(1, -1, order="F") @ hm @ v1.reshape(-1, 1, order="F")).item()
                scale = max(float(np.linalg.norm(hm) * np.linalg.norm(v1) * np.linalg.norm(v2)), abs(fd), 1e-6 * max(1.0, abs(float(f0[0, 0]))))
                worst = max(worst, abs(sym - fd) / scale)
        _check(worst, TOL_SECOND, "the Hessian")
        return worst

    return _guard(trials, body)
