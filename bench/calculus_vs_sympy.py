"""mcls's symbolic derivatives next to sympy's matrix calculus (issue 5).

    python bench/calculus_vs_sympy.py            # full: 15 timed repeats, 3 numeric trials
    python bench/calculus_vs_sympy.py --quick    # 3 repeats, 2 trials (under a minute)
    python bench/calculus_vs_sympy.py --json out.json --only "tr(AXB)"

For every Matrix Cookbook identity of ``tests/test_cookbook.py`` (its LaTeX,
declarations and assumptions are read from there, so the two never drift):

* **mcls**: ``shapes_for`` + ``gradient`` (``component`` for ∂/∂X_ij) on the
  resolved expression, exactly as the test calls them. One warm-up call, then the
  median of N timed calls, each on a fresh shape table.
* **sympy**: the same expression translated from mcls's IR to sympy matrix
  expressions (``MatrixSymbol`` with symbolic sizes; Mul→MatMul, Transpose,
  Inverse, MatPow, Trace, Determinant, log/exp, HadamardProduct,
  KroneckerProduct; see ``to_sympy``), then ``f.diff(X)`` (``F.diff(X[i, j])``
  for entries) with one warm-up and the median of N calls. sympy runs in a
  worker process; every call has a timeout (the worker is killed and restarted
  when it hangs). An unevaluated ``Derivative`` in sympy's answer gets one
  ``.doit()`` inside the timed call.
* **correctness** of both answers: evaluated on random instances (mcls's own
  ``numeric.instantiate``: sizes distinct small primes, matrices honouring the
  assumptions) and compared entry by entry with a full central-difference
  gradient of the function, evaluated by mcls's numpy evaluator. sympy's
  answer is evaluated by ``sympy.lambdify`` (numpy), or, if lambdify cannot
  print it, by substituting explicit matrices and ``.doit()``. The translated
  sympy function is evaluated too and must equal mcls's value of f (otherwise
  the row says the translation is at fault, not sympy). Anything that raises,
  times out, stays unevaluated or disagrees with finite differences is "not ok".

The ratio is sympy time / mcls time per identity; the summary gives its median
over the identities both answered correctly (and over all where sympy returned
something in time). Output: a table on stdout and ``bench/calculus_vs_sympy.json``.
``bench/run.py`` imports this file and calls ``run(quick)`` (summary rows).
"""

# No ``from __future__ import annotations``: bench/run.py loads this file without
# registering it in sys.modules, and dataclasses then cannot resolve string annotations.
import argparse
import importlib.util
import json
import os
import pickle
import platform
import select
import statistics
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from provenance import git_commit  # noqa: E402

DEFAULT_JSON = HERE / "calculus_vs_sympy.json"

TOL = 1e-5  # relative error against central differences (mcls's verify.TOL)
STEP = 1e-6


@dataclass
class Mode:
    repeats: int  # timed calls after the warm-up (median reported)
    trials: int  # random instances for the numeric check
    timeout: float  # seconds per sympy call
    alt: bool  # also try Derivative(f, X).doit() (correctness only)
    clear_cache: bool = False  # clear sympy's cache before every timed call (both tools)


QUICK = Mode(repeats=3, trials=2, timeout=4.0, alt=False)
FULL = Mode(repeats=15, trials=3, timeout=10.0, alt=True)


# ================================================================ the sympy worker
#
# A separate process so that a hanging sympy call can be killed. Messages are
# pickles framed by an 8-byte length, over the worker's stdin/stdout.


def _send(stream, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _recv_exact(stream, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _recv(stream) -> Any:
    (n,) = struct.unpack("<Q", _recv_exact(stream, 8))
    return pickle.loads(_recv_exact(stream, n))


def worker_main() -> None:
    """Serve requests from the parent: ``diff`` (time one derivative) and ``eval``."""
    import sympy
    from sympy.core.cache import clear_cache

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but replies on the pipe
    results: dict[str, Any] = {}
    while True:
        try:
            req = _recv(inp)
        except EOFError:
            return
        op = req["op"]
        try:
            if op == "diff":
                f, wrt, how = req["f"], req["wrt"], req["how"]
                if req.get("clear_cache"):
                    clear_cache()
                t0 = time.perf_counter()
                if how == "diff":
                    r = f.diff(wrt)
                    if r.has(sympy.Derivative):
                        r = r.doit()
                else:  # "alt": the scalar route
                    r = sympy.Derivative(f, wrt).doit()
                dt = time.perf_counter() - t0
                results[how] = r
                _send(out, {"ok": True, "time": dt, "result": str(r), "unevaluated": bool(r.has(sympy.Derivative)),
                            "type": type(r).__name__})
            elif op == "eval":
                expr = req["f"] if req["what"] == "f" else results[req["what"]]
                v = _sympy_numeric(expr, req["values"], req["sizes"], req["index"])
                _send(out, {"ok": True, "value": v})
            else:
                _send(out, {"ok": False, "error": f"unknown op {op}"})
        except Exception as e:  # noqa: BLE001 - report, keep serving
            _send(out, {"ok": False, "error": f"{type(e).__name__}: {e}"[:500]})


def _sympy_numeric(expr: Any, values: dict, sizes: dict, index: dict):
    """A sympy (matrix) expression at numpy values: lambdify, else explicit matrices."""
    import numpy as np
    import sympy

    rep = {}
    for s in expr.atoms(sympy.Symbol):
        if s.name in sizes:
            rep[s] = sizes[s.name]
        elif s.name in index:
            rep[s] = index[s.name]
    e = expr.subs(rep) if rep else expr
    mats = sorted(e.atoms(sympy.MatrixSymbol), key=lambda m: m.name)
    scal = sorted((s for s in e.free_symbols if isinstance(s, sympy.Symbol)), key=lambda s: s.name)
    missing = [m.name for m in mats if m.name not in values] + [s.name for s in scal if s.name not in values]
    if missing:
        raise ValueError(f"no value for {missing}")
    errors = []
    try:
        fn = sympy.lambdify(mats + scal, e, modules="numpy")
        with np.errstate(all="ignore"):
            v = fn(*[values[m.name] for m in mats], *[float(np.asarray(values[s.name]).reshape(-1)[0]) for s in scal])
        a = np.asarray(v, dtype=float)
        if np.all(np.isfinite(a)):
            return _as2d(a, e)
        errors.append("lambdify: not finite")
    except Exception as ex:  # noqa: BLE001 - try the explicit route
        errors.append(f"lambdify: {type(ex).__name__}: {ex}"[:200])
    try:
        sub = {m: sympy.ImmutableMatrix(values[m.name]) for m in mats}
        sub.update({s: sympy.Float(float(np.asarray(values[s.name]).reshape(-1)[0])) for s in scal})
        r = e.xreplace(sub).doit()
        if isinstance(r, sympy.MatrixBase) or getattr(r, "is_Matrix", False):
            r = sympy.Matrix(r).evalf()
            a = np.array(r.tolist(), dtype=float)
        else:
            a = np.array(float(sympy.N(r)), dtype=float)
        return _as2d(a, e)
    except Exception as ex:  # noqa: BLE001
        errors.append(f"explicit: {type(ex).__name__}: {ex}"[:200])
    raise ValueError("; ".join(errors))


def _as2d(a, e):
    import numpy as np

    if a.ndim == 0:
        shape = getattr(e, "shape", None)
        if shape is not None and tuple(shape) != (1, 1):
            if float(a) == 0.0:
                return np.zeros(tuple(int(s) for s in shape))
            raise ValueError(f"a scalar for a {shape} matrix")
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(-1, 1)
    return a


class Worker:
    """The sympy process, restarted after a timeout or a crash."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def start(self) -> None:
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(ROOT),
        )

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is None:
            return
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=2)
        except subprocess.TimeoutExpired:
            p.kill()  # our own child, by its handle
            p.wait()

    def kill(self) -> None:
        p, self.proc = self.proc, None
        if p is not None:
            p.kill()
            p.wait()
            self.restarts += 1

    def call(self, req: dict, timeout: float) -> dict:
        """The reply, or ``{"ok": False, "timeout": True}`` after ``timeout`` seconds of the call itself."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc and self.proc.stdin and self.proc.stdout
        try:
            _send(self.proc.stdin, req)
        except (BrokenPipeError, OSError) as e:
            self.kill()
            return {"ok": False, "error": f"worker died: {e}"}
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        need = 8
        header = True
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return {"ok": False, "timeout": True, "error": f"timeout after {timeout:g} s"}
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, max(need - len(buf), 1 << 16) if header else need - len(buf))
            if not chunk:
                self.kill()
                return {"ok": False, "error": "worker died"}
            buf += chunk
            if header and len(buf) >= 8:
                (n,) = struct.unpack("<Q", buf[:8])
                buf = buf[8:]
                need, header = n, False
            if not header and len(buf) >= need:
                return pickle.loads(buf[:need])


# ================================================================ mcls IR -> sympy


class NotRepresentable(Exception):
    """sympy's matrix expressions have no counterpart (reported as n/a)."""


class ToSympy:
    """Translate resolved mcls IR to sympy matrix expressions, using mcls's shapes.

    Vectors and matrices become ``MatrixSymbol``s with mcls's symbolic sizes.
    A 1×1 product stays a 1×1 matrix expression (``a.T*X*b``, as one writes it
    in sympy) until it is used as a scalar: as a factor scaling a matrix, in a
    sum with scalars, or under log/exp/σ, where it is wrapped in ``Trace``.
    ``|X|`` of a square matrix is its determinant (the Cookbook's notation),
    ``log det X`` is ``log(Determinant(X))``, ``‖v‖₂`` is ``sqrt(v.T*v)``,
    ``‖X‖_F`` is ``sqrt(Trace(X.T*X))``, ``σ(t)`` is ``1/(1+exp(-t))``,
    ``⟨A, X⟩`` is ``Trace(A.T*X)``."""

    def __init__(self, st: Any):
        import sympy

        self.s = sympy
        self.st = st
        self.names: dict[str, str] = {}  # mcls name -> sympy name
        self.syms: dict[str, Any] = {}  # mcls name -> sympy symbol
        self.dims: set[Any] = set()  # size expressions used

    # ---- helpers
    def shape(self, x: Any) -> tuple[Any, Any]:
        sh = self.st.get(x)
        if sh is None and hasattr(x, "name"):
            sh = self.st.names.get(x.name)
        if sh is None:
            raise NotRepresentable(f"no shape for {type(x).__name__}")
        return sh.rows, sh.cols

    def is_mat(self, e: Any) -> bool:
        return isinstance(e, self.s.MatrixExpr)

    def scalar(self, e: Any) -> Any:
        if self.is_mat(e):
            if tuple(e.shape) != (1, 1):
                raise NotRepresentable(f"a {e.shape} matrix used as a scalar")
            return self.s.Trace(e)
        return e

    def sym_name(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        base = "".join(ch for ch in name.replace("\\mathbf", "").replace("\\boldsymbol", "") if ch.isalnum() or ch == "_") or "v"
        cand, k = base, 1
        while cand in self.names.values():
            k += 1
            cand = f"{base}{k}"
        self.names[name] = cand
        return cand

    # ---- translation
    def __call__(self, x: Any) -> Any:
        m = getattr(self, "t_" + type(x).__name__, None)
        if m is None:
            raise NotRepresentable(f"{type(x).__name__} has no sympy matrix-expression counterpart")
        return m(x)

    def t_Sym(self, x):
        if x.name in self.syms:
            return self.syms[x.name]
        r, c = self.shape(x)
        if r == 1 and c == 1:
            v = self.s.Symbol(self.sym_name(x.name), real=True)
        else:
            self.dims |= {r, c}
            v = self.s.MatrixSymbol(self.sym_name(x.name), r, c)
        self.syms[x.name] = v
        return v

    def t_Num(self, x):
        return self.s.Rational(x.value.numerator, x.value.denominator)

    def t_Neg(self, x):
        return -self(x.x)

    def t_Add(self, x):
        parts = [self(t) for t in x.terms]
        mats = [p for p in parts if self.is_mat(p)]
        if mats and len(mats) < len(parts):  # 1×1 products next to scalars: all scalars
            parts = [self.scalar(p) for p in parts]
        if all(self.is_mat(p) for p in parts):
            return self.s.MatAdd(*parts).doit(deep=False) if len(parts) > 1 else parts[0]
        return self.s.Add(*parts)

    def t_Mul(self, x):
        coef = self.s.Integer(1)
        chain: list[Any] = []
        for f in x.factors:
            t = self(f)
            if not self.is_mat(t):
                coef = coef * t
                continue
            if not chain or chain[-1].shape[1] == t.shape[0]:
                chain.append(t)
            elif tuple(t.shape) == (1, 1):
                coef = coef * self.s.Trace(t)
            elif self._prod_shape(chain) == (1, 1):
                coef = coef * self.s.Trace(self._prod(chain))
                chain = [t]
            else:
                raise NotRepresentable(f"product of {chain[-1].shape} and {t.shape}")
        if not chain:
            return coef
        prod = self._prod(chain)
        return prod if coef == 1 else coef * prod

    def _prod(self, chain):
        return chain[0] if len(chain) == 1 else self.s.MatMul(*chain).doit(deep=False)

    def _prod_shape(self, chain):
        return (chain[0].shape[0], chain[-1].shape[1])

    def t_Div(self, x):
        num, den = self(x.num), self.scalar(self(x.den))
        return num * (1 / den) if self.is_mat(num) else num / den

    def t_Transpose(self, x):
        t = self(x.x)
        return t.T if self.is_mat(t) else t

    def t_Inverse(self, x):
        t = self(x.x)
        return self.s.Inverse(t) if self.is_mat(t) else 1 / t

    def t_Power(self, x):
        from mcls import ir

        if not isinstance(x.exp, ir.Num):
            e = self.scalar(self(x.exp))
        else:
            e = self(x.exp)
        b = self(x.base)
        if self.is_mat(b):
            if b.shape[0] != b.shape[1]:
                raise NotRepresentable("power of a non-square matrix")
            return b**e  # MatPow
        return b**e

    def t_Hadamard(self, x):
        a, b = self(x.a), self(x.b)
        if not (self.is_mat(a) and self.is_mat(b)):
            return a * b
        return self.s.HadamardProduct(a, b)

    def t_HadamardDiv(self, x):
        a, b = self(x.a), self(x.b)
        if not (self.is_mat(a) and self.is_mat(b)):
            return a / b
        return self.s.HadamardProduct(a, self.s.HadamardPower(b, -1))

    def t_Kron(self, x):
        a, b = self(x.a), self(x.b)
        if not (self.is_mat(a) and self.is_mat(b)):
            return a * b
        return self.s.KroneckerProduct(a, b)

    def t_Frob(self, x):
        a, b = self(x.a), self(x.b)
        if not (self.is_mat(a) and self.is_mat(b)):
            return a * b
        return self.s.Trace(a.T * b)

    def t_Identity(self, x):
        r, _ = self.shape(x)
        self.dims.add(r)
        return self.s.Identity(r)

    def t_Zero(self, x):
        r, c = self.shape(x)
        self.dims |= {r, c}
        return self.s.ZeroMatrix(r, c)

    def t_Ones(self, x):
        r, c = self.shape(x)
        self.dims |= {r, c}
        return self.s.OneMatrix(r, c)

    def t_Norm(self, x):
        v = self(x.x)
        if not self.is_mat(v):
            return self.s.Abs(v)
        r, c = v.shape
        vec = r == 1 or c == 1
        if x.kind == "F" or (x.kind in (None, "2") and vec):
            if vec:
                return self.s.sqrt(v.T * v) if c == 1 else self.s.sqrt(v * v.T)
            return self.s.sqrt(self.s.Trace(v.T * v))
        raise NotRepresentable(f"norm {x.kind} of a matrix")

    def t_Func(self, x):
        s = self.s
        n = x.name
        a = self(x.arg)
        mat = self.is_mat(a) and tuple(a.shape) != (1, 1)
        if n == "tr":
            return s.Trace(a) if self.is_mat(a) else a
        if n == "det":
            return s.Determinant(a) if self.is_mat(a) else a
        if n == "logdet":
            return s.log(s.Determinant(a)) if self.is_mat(a) else s.log(a)
        if n == "abs":
            if mat and a.shape[0] == a.shape[1]:
                return s.Determinant(a)  # |X| of a square matrix: det X
            if mat:
                raise NotRepresentable("element-wise |.| of a matrix")
            return s.Abs(self.scalar(a))
        if mat:
            raise NotRepresentable(f"element-wise {n} of a matrix")
        t = self.scalar(a)
        table = {
            "log": s.log,
            "exp": s.exp,
            "sqrt": s.sqrt,
            "tanh": s.tanh,
            "sin": s.sin,
            "cos": s.cos,
            "sigma": lambda u: 1 / (1 + s.exp(-u)),
            "softplus": lambda u: s.log(1 + s.exp(u)),
        }
        if n not in table:
            raise NotRepresentable(f"function {n}")
        return table[n](t)


# ================================================================ the identities


def load_cases() -> tuple[list[tuple], Any]:
    """``CASES`` and ``_scope`` of tests/test_cookbook.py (the single source of the identities)."""
    path = ROOT / "tests" / "test_cookbook.py"
    spec = importlib.util.spec_from_file_location("_mcls_test_cookbook", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.CASES), mod._scope


@dataclass
class Problem:
    name: str
    latex: str
    scope: Any
    f: Any  # mcls IR of the function
    x: Any  # ir.Sym
    entry: tuple[str | None, str | None] | None  # (i, j) for ∂/∂X_ij


def problems(only: str | None = None) -> list[Problem]:
    from mcls.calculus import as_derivative
    from mcls import ir
    from mcls.parse import parse_expr
    from mcls.scope import resolve

    cases, make_scope = load_cases()
    out = []
    for name, decls, identity, assume in cases:
        if only and only.lower() not in name.lower():
            continue
        sc = make_scope(decls, assume)
        chain = resolve(parse_expr(identity), sc)
        d = as_derivative(chain.parts[0])
        if isinstance(d.wrt, ir.Entry):
            out.append(Problem(name, identity, sc, d.f, d.wrt.of, (d.wrt.i, d.wrt.j)))
        else:
            out.append(Problem(name, identity, sc, d.f, d.wrt, None))
    return out


# ================================================================ timing and checking


def mcls_derivative(p: Problem) -> tuple[Any, float, float]:
    """(result, seconds for shapes_for + derivative, seconds for the derivative alone)."""
    from mcls.calculus import component, gradient, shapes_for

    t0 = time.perf_counter()
    st = shapes_for(p.f, p.scope)
    t1 = time.perf_counter()
    if p.entry is None:
        g = gradient(p.f, p.x, st)
    else:
        g = component(p.f, p.x, p.entry[0], p.entry[1], st)
    t2 = time.perf_counter()
    return g, t2 - t0, t2 - t1


@dataclass
class Row:
    name: str
    latex: str
    kind: str  # "gradient" or "component"
    mcls_ms: float = float("nan")
    mcls_deriv_ms: float = float("nan")
    mcls_times_ms: list[float] = field(default_factory=list)
    mcls_result: str = ""
    mcls_ok: bool = False
    mcls_err: float | None = None
    mcls_note: str = ""
    sympy_f: str = ""
    sympy_ms: float = float("nan")
    sympy_times_ms: list[float] = field(default_factory=list)
    sympy_result: str = ""
    sympy_status: str = ""  # ok | wrong | error | unevaluated | timeout | n/a | unevaluable | translation
    sympy_ok: bool = False
    sympy_err: float | None = None
    sympy_note: str = ""
    sympy_alt_status: str | None = None  # Derivative(f, X).doit(), full mode
    sympy_alt_result: str | None = None
    sympy_alt_note: str = ""
    ratio: float | None = None


def _fd_reference(p: Problem, su: Any, values: dict, num: Any, ix: dict, rng: Any) -> tuple[Any, dict]:
    """Central differences of f: the full gradient, or ∂F/∂X_ab at a random (a, b)."""
    import numpy as np

    x0 = np.asarray(values[p.x.name], dtype=float)
    h = STEP * max(1.0, float(np.max(np.abs(x0))))

    def f_at(xv):
        vv = dict(values)
        vv[p.x.name] = xv
        return su.value(p.f, vv, num, ix)

    if p.entry is None:
        g = np.zeros_like(x0)
        for k in np.ndindex(*x0.shape):
            e = np.zeros_like(x0)
            e[k] = h
            g[k] = (f_at(x0 + e) - f_at(x0 - e))[0, 0] / (2 * h)
        return g, ix
    r, c = x0.shape
    a, b = int(rng.integers(0, r)), int(rng.integers(0, c))
    i, j = p.entry
    ix = dict(ix)
    if r > 1 and c > 1:
        ix.update({k: v for k, v in ((i, a), (j, b)) if k is not None})
    elif r > 1 and i is not None:
        ix[i] = a
    elif c > 1 and (j or i) is not None:
        ix[j or i] = b
    e = np.zeros_like(x0)
    e[a, b] = h
    return (f_at(x0 + e) - f_at(x0 - e)) / (2 * h), ix


def _same_value(reply: dict, f0: Any) -> bool:
    """Does the translated sympy function evaluate to mcls's value of f?"""
    import numpy as np

    if not reply.get("ok"):
        return False
    v = np.asarray(reply["value"], dtype=float)
    if v.size != f0.size:
        return False
    return bool(np.allclose(v.reshape(f0.shape), f0, rtol=1e-8, atol=1e-10))


def _rel_err(g: Any, ref: Any, noise: float) -> float:
    import numpy as np

    scale = max(float(np.linalg.norm(ref)), float(np.linalg.norm(g)), noise)
    return float(np.linalg.norm(g - ref)) / scale


def _fit(g: Any, ref: Any, vector: bool) -> Any:
    """Accepted layouts, same numbers: a vector's gradient as a row, and sympy's
    rank-4 array for the derivative of a 1×1 matrix (shape (n, m, 1, 1))."""
    if g.shape == ref.shape:
        return g
    if g.ndim > 2 and tuple(d for d in g.shape if d != 1) == tuple(d for d in ref.shape if d != 1) and g.size == ref.size:
        return g.reshape(ref.shape)
    if vector and g.size == ref.size and 1 in g.shape:
        return g.reshape(ref.shape)
    raise ValueError(f"shape {g.shape}, expected {ref.shape}")


def bench_one(p: Problem, mode: Mode, worker: Worker, seed: int = 0) -> Row:
    import numpy as np

    from mcls.sizes import sp
    from mcls.verify import _Setup
    from sympy.core.cache import clear_cache

    row = Row(p.name, p.latex, "gradient" if p.entry is None else "component")

    # ---------------- mcls: warm-up, then N timed calls
    g = None
    try:
        g, _, _ = mcls_derivative(p)
        tot, der = [], []
        for _ in range(mode.repeats):
            if mode.clear_cache:
                clear_cache()
            g, a, b = mcls_derivative(p)
            tot.append(a)
            der.append(b)
        row.mcls_times_ms = [t * 1e3 for t in tot]
        row.mcls_ms = statistics.median(tot) * 1e3
        row.mcls_deriv_ms = statistics.median(der) * 1e3
        row.mcls_result = _render(g)
    except Exception as e:  # noqa: BLE001
        row.mcls_note = f"{type(e).__name__}: {e}"[:300]
        g = None

    # ---------------- sympy: translate (n/a if impossible), warm-up, N timed calls
    sf = swrt = None
    tr: ToSympy | None = None
    try:
        from mcls.calculus import shapes_for

        tr = ToSympy(shapes_for(p.f, p.scope))
        sf = tr(p.f)
        xs = tr(p.x)
        if p.entry is None:
            swrt = xs
        else:
            s = sp()
            i = s.Symbol(p.entry[0] or "i", integer=True)
            j = s.Symbol(p.entry[1] or "j", integer=True)
            r, c = xs.shape
            swrt = xs[i, j] if r != 1 and c != 1 else (xs[i, 0] if c == 1 else xs[0, j])
        row.sympy_f = str(sf)
    except NotRepresentable as e:
        row.sympy_status, row.sympy_note = "n/a", str(e)
    except Exception as e:  # noqa: BLE001 - a translator failure is n/a too, with the reason
        row.sympy_status, row.sympy_note = "n/a", f"translation: {type(e).__name__}: {e}"[:300]

    if sf is not None:
        req = {"op": "diff", "f": sf, "wrt": swrt, "how": "diff"}
        rep = worker.call(req, mode.timeout)  # warm-up
        req["clear_cache"] = mode.clear_cache
        times = []
        if rep.get("ok"):
            for _ in range(mode.repeats):
                r2 = worker.call(req, mode.timeout)
                if not r2.get("ok"):
                    rep = r2
                    break
                times.append(r2["time"])
                rep = r2
        if rep.get("timeout"):
            row.sympy_status, row.sympy_note = "timeout", rep["error"]
            row.sympy_ms = mode.timeout * 1e3  # a lower bound
        elif not rep.get("ok"):
            row.sympy_status, row.sympy_note = "error", rep.get("error", "?")
        else:
            row.sympy_times_ms = [t * 1e3 for t in times]
            row.sympy_ms = statistics.median(times) * 1e3 if times else rep["time"] * 1e3
            row.sympy_result = rep["result"]
            if rep["unevaluated"]:
                row.sympy_status = "unevaluated"
        if mode.alt:
            ra = worker.call({"op": "diff", "f": sf, "wrt": swrt, "how": "alt"}, mode.timeout)
            if ra.get("timeout"):
                row.sympy_alt_status = "timeout"
            elif not ra.get("ok"):
                row.sympy_alt_status = "error"
                row.sympy_alt_note = ra.get("error", "?")
            else:
                row.sympy_alt_result = ra["result"]
                row.sympy_alt_status = "unevaluated" if ra["unevaluated"] else "?"

    # ---------------- numbers: both answers against central differences of f
    trees = (p.f, g, p.x) if g is not None else (p.f, p.x)
    same = [(g, p.x if p.entry is None else p.f)] if g is not None else []
    try:
        su = _Setup(p.scope, trees, same)
    except Exception as e:  # noqa: BLE001
        su = None
        row.mcls_note = row.mcls_note or f"setup: {type(e).__name__}: {e}"
    worst_m = worst_s = worst_a = 0.0
    m_fail = s_fail = a_fail = None
    check_sympy = row.sympy_status == "" and sf is not None
    check_alt = row.sympy_alt_status == "?"
    vector = False
    for t in range(mode.trials if su is not None else 0):
        try:
            values, num = su.instance(seed, t)
            rng = np.random.default_rng([seed, t, 7])
            ix = su.indices(num, rng)
            x0 = np.asarray(values[p.x.name], dtype=float)
            vector = 1 in x0.shape
            with np.errstate(all="ignore"):
                ref, ix = _fd_reference(p, su, values, num, ix, rng)
                f0 = su.value(p.f, values, num, ix)
        except Exception as e:  # noqa: BLE001 - no reference: nobody can be checked
            m_fail = m_fail or f"reference: {type(e).__name__}: {e}"
            s_fail = s_fail or m_fail
            break
        noise = su.noise()  # floor of the scale: rounding of central differences (mcls's verify)
        # mcls
        if g is not None and m_fail is None:
            try:
                with np.errstate(all="ignore"):
                    gm = su.value(g, values, num, ix)
                worst_m = max(worst_m, _rel_err(_fit(gm, ref, False), ref, noise))
            except Exception as e:  # noqa: BLE001
                m_fail = f"{type(e).__name__}: {e}"
        # sympy
        if check_sympy or check_alt:
            sizes = {}
            try:
                for d in tr.dims:
                    for s in getattr(d, "free_symbols", ()):
                        sizes[s.name] = num.size(s)
            except Exception as e:  # noqa: BLE001
                s_fail = s_fail or f"sizes: {e}"
            svals = {tr.names[k]: np.asarray(v, dtype=float) for k, v in values.items() if k in tr.names}
            base = {"op": "eval", "f": sf, "values": svals, "sizes": sizes, "index": {k: int(v) for k, v in ix.items()}}
            fv = worker.call({**base, "what": "f"}, mode.timeout)
            if not _same_value(fv, f0):
                row.sympy_status = "translation"
                row.sympy_note = f"the translated function does not evaluate to mcls's value: {fv.get('error') or fv.get('value')}"
                check_sympy = check_alt = False
                if row.sympy_alt_status == "?":
                    row.sympy_alt_status = "translation"
            for what, live in (("diff", check_sympy), ("alt", check_alt)):
                if not live:
                    continue
                rv = worker.call({**base, "what": what}, mode.timeout)
                try:
                    if not rv.get("ok"):
                        raise ValueError(rv.get("error", "?"))
                    val = np.asarray(rv["value"], dtype=float)
                    err = _rel_err(_fit(val, ref, vector), ref, noise)
                    if val.ndim > 2 and what == "diff":
                        row.sympy_note = f"a rank-{val.ndim} array {val.shape} (accepted: same numbers as the gradient)"
                    if what == "diff":
                        worst_s = max(worst_s, err)
                    else:
                        worst_a = max(worst_a, err)
                except Exception as e:  # noqa: BLE001
                    msg = f"{e}"[:300]
                    if what == "diff":
                        s_fail = s_fail or msg
                        check_sympy = False
                    else:
                        a_fail = a_fail or msg
                        check_alt = False
                        row.sympy_alt_note = msg

    if g is not None and su is not None:
        row.mcls_err = worst_m if m_fail is None else None
        row.mcls_ok = m_fail is None and worst_m <= TOL
        if not row.mcls_ok:
            row.mcls_note = row.mcls_note or (m_fail or f"relative error {worst_m:.1e}")
    if row.sympy_status == "":
        if s_fail is not None:
            row.sympy_status, row.sympy_note = "unevaluable", s_fail
        elif worst_s <= TOL:
            row.sympy_status, row.sympy_ok, row.sympy_err = "ok", True, worst_s
        else:
            row.sympy_status, row.sympy_err = "wrong", worst_s
            row.sympy_note = f"relative error {worst_s:.1e} against finite differences"
    if row.sympy_alt_status == "?":
        if a_fail is not None:
            row.sympy_alt_status = "unevaluable"
        else:
            row.sympy_alt_status = "ok" if worst_a <= TOL else "wrong"
            row.sympy_alt_note = f"relative error {worst_a:.1e}"
    if row.mcls_ms == row.mcls_ms and row.sympy_ms == row.sympy_ms and row.sympy_status not in ("n/a", "timeout", "translation"):
        row.ratio = row.sympy_ms / row.mcls_ms
    return row


def _render(g: Any) -> str:
    try:
        from mcls.render.latex import to_latex  # type: ignore

        return to_latex(g)
    except Exception:  # noqa: BLE001
        return repr(g)[:300]


# ================================================================ driver


def summarize(rows: list[Row]) -> dict:
    n = len(rows)
    both = [r.ratio for r in rows if r.ratio is not None and r.mcls_ok and r.sympy_ok]
    answered = [r.ratio for r in rows if r.ratio is not None]
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r.sympy_status] = by_status.get(r.sympy_status, 0) + 1
    mt = [r.mcls_ms for r in rows if r.mcls_ms == r.mcls_ms]
    dt = [r.mcls_deriv_ms for r in rows if r.mcls_deriv_ms == r.mcls_deriv_ms]
    stimes = [r.sympy_ms for r in rows if r.sympy_ms == r.sympy_ms and r.sympy_status not in ("n/a", "timeout", "translation")]
    out = {
        "identities": n,
        "mcls_correct": sum(r.mcls_ok for r in rows),
        "sympy_correct": sum(r.sympy_ok for r in rows),
        "sympy_status_counts": by_status,
        "median_ratio_both_correct": statistics.median(both) if both else None,
        "n_both_correct": len(both),
        "median_ratio_sympy_answered": statistics.median(answered) if answered else None,
        "n_sympy_answered": len(answered),
        "min_ratio_both_correct": min(both) if both else None,
        "median_mcls_ms": statistics.median(mt) if mt else None,
        "median_mcls_derivative_only_ms": statistics.median(dt) if dt else None,
        "median_sympy_ms": statistics.median(stimes) if stimes else None,
        "target": {"mcls_all_correct": True, "median_ratio": 10.0},
    }
    if any(r.sympy_alt_status is not None for r in rows):
        out["sympy_alt_correct"] = sum(r.sympy_alt_status == "ok" for r in rows)
        out["sympy_correct_either"] = sum(r.sympy_ok or r.sympy_alt_status == "ok" for r in rows)
    out["met"] = bool(out["mcls_correct"] == n and (out["median_ratio_both_correct"] or 0) >= 10.0)
    return out


def print_table(rows: list[Row], summary: dict, file=None) -> None:
    file = file or sys.stdout
    w = max(len(r.name) for r in rows)
    head = f"{'identity':<{w}}  {'mcls ms':>8}  {'sympy ms':>9}  {'ratio':>7}  {'mcls ok':>7}  {'sympy ok':>11}"
    alt = any(r.sympy_alt_status is not None for r in rows)
    if alt:
        head += f"  {'sympy alt':>11}"
    print(head, file=file)
    print("-" * len(head), file=file)
    for r in rows:
        sm = "n/a" if r.sympy_status == "n/a" else (f">{r.sympy_ms:.0f}" if r.sympy_status == "timeout" else f"{r.sympy_ms:.2f}")
        ratio = f"{r.ratio:.1f}x" if r.ratio is not None else "-"
        sok = "yes" if r.sympy_ok else r.sympy_status.upper() if r.sympy_status in ("wrong",) else r.sympy_status
        line = f"{r.name:<{w}}  {r.mcls_ms:>8.2f}  {sm:>9}  {ratio:>7}  {'yes' if r.mcls_ok else 'NO':>7}  {sok:>11}"
        if alt:
            line += f"  {r.sympy_alt_status or '-':>11}"
        print(line, file=file)
    s = summary
    print(file=file)
    print(f"identities: {s['identities']}", file=file)
    print(f"mcls correct: {s['mcls_correct']}/{s['identities']}", file=file)
    counts = ", ".join(f"{k or '?'} {v}" for k, v in sorted(s["sympy_status_counts"].items()))
    print(f"sympy .diff correct: {s['sympy_correct']}/{s['identities']}  ({counts})", file=file)
    if "sympy_alt_correct" in s:
        print(f"sympy Derivative(f, X).doit() correct: {s['sympy_alt_correct']}/{s['identities']}; either way: {s['sympy_correct_either']}", file=file)
    fmt = lambda v: "-" if v is None else f"{v:.1f}x"  # noqa: E731
    print(f"median ratio sympy/mcls, both correct ({s['n_both_correct']}): {fmt(s['median_ratio_both_correct'])} (min {fmt(s['min_ratio_both_correct'])})", file=file)
    print(f"median ratio sympy/mcls, sympy answered in time ({s['n_sympy_answered']}): {fmt(s['median_ratio_sympy_answered'])}", file=file)
    mm, ms = s["median_mcls_ms"], s["median_sympy_ms"]
    md = s["median_mcls_derivative_only_ms"]
    if mm is not None and ms is not None:
        print(f"median time: mcls {mm:.2f} ms (shapes_for + derivative; the derivative alone {md:.2f} ms), sympy {ms:.2f} ms", file=file)
    print(f"target (every identity correct for mcls, >= 10x at the median): {'met' if s['met'] else 'NOT met'}", file=file)


def bench(quick: bool, only: str | None = None, json_path: Path | None = DEFAULT_JSON, verbose: bool = True,
          clear_cache: bool = False, **overrides: Any) -> dict:
    import sympy

    mode = replace(QUICK if quick else FULL, clear_cache=clear_cache, **overrides)
    t_start = time.perf_counter()
    ps = problems(only)
    worker = Worker()
    rows: list[Row] = []
    try:
        for k, p in enumerate(ps):
            r = bench_one(p, mode, worker)
            rows.append(r)
            if verbose:
                print(f"[{k + 1}/{len(ps)}] {p.name}: mcls {r.mcls_ms:.2f} ms {'ok' if r.mcls_ok else 'NOT OK'}; "
                      f"sympy {r.sympy_ms:.2f} ms {r.sympy_status}", file=sys.stderr)
    finally:
        worker.stop()
    summary = summarize(rows)
    result = {
        "meta": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "python": sys.version.split()[0],
            "sympy": sympy.__version__,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "quick": quick,
            "mode": mode.__dict__,
            "worker_restarts": worker.restarts,
            "wall_seconds": round(time.perf_counter() - t_start, 1),
        },
        "summary": summary,
        "rows": [r.__dict__ for r in rows],
    }
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    return result


def run(quick: bool = False) -> list[dict]:
    """Hook for bench/run.py: summary rows (details in bench/calculus_vs_sympy.json)."""
    res = bench(quick, verbose=False)
    s = res["summary"]
    n = s["identities"]
    rows = []
    if s["median_mcls_ms"] is not None:
        rows.append({"name": "mcls derivative p50 (Cookbook)", "value": s["median_mcls_ms"] / 1e3, "unit": "s",
                     "note": f"{n} identities, shapes_for + gradient"})
    if s["median_sympy_ms"] is not None:
        rows.append({"name": "sympy .diff p50 (Cookbook)", "value": s["median_sympy_ms"] / 1e3, "unit": "s",
                     "note": f"{s['n_sympy_answered']} answered in time"})
    if s["median_ratio_both_correct"] is not None:
        rows.append({"name": "speed-up over sympy p50", "value": s["median_ratio_both_correct"], "unit": "x",
                     "target": 10.0, "ok": s["median_ratio_both_correct"] >= 10.0,
                     "note": f"median of per-identity sympy/mcls, {s['n_both_correct']} both correct"})
    rows.append({"name": "mcls correct", "value": float(s["mcls_correct"]), "unit": f"of {n}", "target": float(n),
                 "ok": s["mcls_correct"] == n, "note": "central differences"})
    rows.append({"name": "sympy correct", "value": float(s["sympy_correct"]), "unit": f"of {n}",
                 "note": ", ".join(f"{k} {v}" for k, v in sorted(s["sympy_status_counts"].items()))})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="mcls vs sympy on the Matrix Cookbook identities")
    ap.add_argument("--quick", action="store_true", help="3 repeats, 2 numeric trials, 4 s timeout (under a minute)")
    ap.add_argument("--only", help="identities whose name contains this")
    ap.add_argument("--json", default=str(DEFAULT_JSON), help="where to write the results ('' for nowhere)")
    ap.add_argument("--clear-cache", action="store_true", help="clear sympy's cache before every timed call (both tools)")
    ap.add_argument("--timeout", type=float, help="seconds per sympy call (default 4 quick, 10 full)")
    ap.add_argument("--repeats", type=int, help="timed calls per identity after the warm-up (default 3 quick, 15 full)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker_main()
        return 0
    over = {k: v for k, v in (("timeout", args.timeout), ("repeats", args.repeats)) if v is not None}
    res = bench(args.quick, args.only, Path(args.json) if args.json else None, clear_cache=args.clear_cache, **over)
    rows = [Row(**{k: v for k, v in r.items()}) for r in res["rows"]]
    print_table(rows, res["summary"])
    if args.json:
        print(f"\nwrote {args.json} ({res['meta']['wall_seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
