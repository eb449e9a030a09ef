"""Shape of every node; mismatches become Problems.

Sizes are symbolic (``mcls.sizes``). Errors only where a mismatch is certain
(two sizes known to differ); anything involving an unknown size constrains
it instead. After the first error inside an expression its result is unknown,
so one mistake gives one diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import ir
from .ir import Expr
from .problems import Problem, Related, Severity
from .scope import Decl, Scope, symbol_name
from .sizes import Sizes, is_unknown_symbol, parse_size, sp


@dataclass(frozen=True)
class Shape:
    rows: Any
    cols: Any

    @property
    def is_scalar(self) -> bool:
        return self.rows == 1 and self.cols == 1

    @property
    def is_vector(self) -> bool:
        return self.cols == 1 and self.rows != 1


class ShapeResult:
    """Shapes of the nodes of one expression tree (keyed by node identity)."""

    def __init__(self, sizes: Sizes):
        self.sizes = sizes
        self._by_id: dict[int, tuple[Expr, Shape]] = {}
        self.problems: list[Problem] = []

    def set(self, x: Expr, s: Shape) -> Shape:
        self._by_id[id(x)] = (x, s)
        return s

    def get(self, x: Expr) -> Shape | None:
        hit = self._by_id.get(id(x))
        if hit is None:
            return None
        s = hit[1]
        return Shape(self.sizes.resolve(s.rows), self.sizes.resolve(s.cols))

    def __call__(self, x: Expr) -> Shape:
        s = self.get(x)
        if s is None:
            raise KeyError(f"no shape for {x!r}")
        return s

    def show(self, s: Shape) -> str:
        if s is None:
            return "?"
        r, c = self.sizes.show(s.rows), self.sizes.show(s.cols)
        if r == "1" and c == "1":
            return "scalar"
        if c == "1":
            return f"{r}-vector" if r != "?" else "vector"
        return f"{r}×{c}"


def is_known(x) -> bool:
    fs = getattr(x, "free_symbols", None)
    if fs is None:
        return True
    return not any(is_unknown_symbol(f) for f in fs)


class ShapeChecker:
    def __init__(self, scope: Scope, text: str = "", local: dict[str, Shape] | None = None, path: str | None = None):
        self.scope = scope
        self.sizes = scope.sizes
        self.text = text
        self.local: dict[str, Shape] = local if local is not None else {}
        self.res = ShapeResult(self.sizes)
        self.path = path
        self.one = sp().Integer(1)

    # -- helpers
    def fresh(self) -> Shape:
        return Shape(self.sizes.fresh(), self.sizes.fresh())

    def scalar(self) -> Shape:
        return Shape(self.one, self.one)

    def src(self, x: Expr) -> str:
        if x.span and self.text:
            s = " ".join(self.text[x.span[0] : x.span[1]].split())
            if s:
                return s if len(s) <= 40 else s[:37] + "…"
        try:
            from .render.latex import to_latex  # local import: keeps shapes free of rendering
        except ImportError:
            return type(x).__name__
        return to_latex(x)

    def related(self, *xs: Expr) -> tuple[Related, ...]:
        out: list[Related] = []
        seen: set[str] = set()
        for x in xs:
            for node in x.walk():
                name = symbol_name(node) if isinstance(node, (ir.Sym, ir.Indexed)) else None
                if name and name not in seen:
                    d = self.scope.decls.get(name)
                    if d is not None:
                        seen.add(name)
                        out.append(Related(d.span, f"{name} declared here as {self._decl_shape(d)}", d.path))
        return tuple(out[:4])

    def _decl_shape(self, d: Decl) -> str:
        return self.res.show(Shape(d.rows, d.cols))

    def problem(self, code: str, msg: str, span, *operands: Expr, severity=Severity.ERROR) -> None:
        if span is None:
            return
        self.res.problems.append(Problem(code, msg, span, severity, self.related(*operands)))

    def span2(self, a: Expr, b: Expr):
        if a.span and b.span:
            return (min(a.span[0], b.span[0]), max(a.span[1], b.span[1]))
        return a.span or b.span

    def eq(self, a, b) -> bool | None:
        return self.sizes.unify(a, b)

    def unify_shape(self, a: Shape, b: Shape) -> bool | None:
        r = self.eq(a.rows, b.rows)
        c = self.eq(a.cols, b.cols)
        if r is False or c is False:
            return False
        if r is None or c is None:
            return None
        return True

    # -- entry point
    def check(self, x: Expr) -> Shape:
        try:
            return self.go(x)
        except RecursionError:
            return self.fresh()

    def go(self, x: Expr) -> Shape:
        m: Callable[[Any], Shape] | None = getattr(self, "s_" + type(x).__name__, None)
        s = m(x) if m is not None else self.fresh()
        return self.res.set(x, s)

    # -- leaves
    def s_Sym(self, x: ir.Sym) -> Shape:
        d = self.scope.decls.get(x.name)
        if d is not None:
            return Shape(d.rows, d.cols)
        if x.name in self.local:
            return self.local[x.name]
        if x.name in self.scope.size_names:
            return self.scalar()
        if _looks_scalar(x.name):
            s = self.scalar()
        else:
            s = self.fresh()
        self.local[x.name] = s
        return s

    def s_Num(self, x: ir.Num) -> Shape:
        return self.scalar()

    def s_Entry(self, x: ir.Entry) -> Shape:
        self.go(x.of)
        return self.scalar()

    def s_Indexed(self, x: ir.Indexed) -> Shape:
        self.go(x.base)
        return self.fresh()

    def s_Basis(self, x: ir.Basis) -> Shape:
        return self.fresh()

    def s_UnitVec(self, x: ir.UnitVec) -> Shape:
        return Shape(self.sizes.fresh(), self.one)

    def s_Ones(self, x: ir.Ones) -> Shape:
        if x.size:
            n = parse_size(x.size)
            if n is not None:
                return Shape(n, self.one)
        return Shape(self.sizes.fresh(), self.one)

    def s_Identity(self, x: ir.Identity) -> Shape:
        if x.size:
            n = parse_size(x.size)
            if n is not None:
                return Shape(n, n)
        u = self.sizes.fresh()
        return Shape(u, u)

    def s_Zero(self, x: ir.Zero) -> Shape:
        return self.fresh()

    def s_Differential(self, x: ir.Differential) -> Shape:
        return self.go(x.of)

    def s_Opaque(self, x: ir.Opaque) -> Shape:
        for a in x.args:
            self.go(a)
        if x.text == "\\mathbb{E}" and x.args:
            return self.res.get(x.args[0]) or self.fresh()
        if x.text in ("pinv",) and x.args:
            s = self.res.get(x.args[0])
            if s:
                return Shape(s.cols, s.rows)
        return self.fresh()

    def s_Space(self, x: ir.Space) -> Shape:
        return self.fresh()

    def s_Tuple(self, x: ir.Tuple) -> Shape:
        for a in x.items:
            self.go(a)
        return self.fresh()

    # -- sums
    def s_Add(self, x: ir.Add) -> Shape:
        shapes = [self.go(t) for t in x.terms]
        acc: Shape | None = None
        acc_term: Expr | None = None
        for t, s in zip(x.terms, shapes):
            if _is_zero(t):
                continue
            if acc is None:
                acc, acc_term = s, t
                continue
            ok = self.unify_shape(acc, s)
            if ok is False:
                code = "shape/add"
                what = "add" if not isinstance(t, ir.Neg) else "subtract"
                self.problem(code, f"cannot {what} {self.src(acc_term)} ({self.res.show(acc)}) and {self.src(t)} ({self.res.show(s)}): shapes differ",
                             self.span2(acc_term, t), acc_term, t)
                return self.fresh()
            acc_term = t
        return acc if acc is not None else self.fresh()

    def s_Neg(self, x: ir.Neg) -> Shape:
        return self.go(x.x)

    # -- products
    def s_Mul(self, x: ir.Mul) -> Shape:
        shapes = [self.go(f) for f in x.factors]
        factors = list(x.factors)
        # A lone `1` next to a matrix is the ones vector (`(X \odot A)1`), as the seeds write it.
        for k, f in enumerate(factors):
            if isinstance(f, ir.Num) and f.value == 1 and k > 0 and not self._is_scalar(shapes[k - 1]):
                shapes[k] = self.res.set(f, Shape(shapes[k - 1].cols, self.one))
        acc: Shape | None = None
        left: Expr | None = None
        scale_only = True
        for f, s in zip(factors, shapes):
            if self._is_scalar(s):
                continue
            scale_only = False
            if acc is None:
                acc, left = s, f
                continue
            ok = self.eq(acc.cols, s.rows)
            if ok is False:
                # row·column of the same length is a scalar, never a mismatch
                self.problem(
                    "shape/matmul",
                    f"cannot multiply {self.src(left)} ({self.res.show(acc)}) by {self.src(f)} ({self.res.show(s)}): inner sizes {self.sizes.show(acc.cols)} and {self.sizes.show(s.rows)} differ",
                    self.span2(left, f), left, f,
                )
                return self.fresh()
            acc = Shape(acc.rows, s.cols)
            left = f
        if scale_only or acc is None:
            return self.scalar()
        return acc

    def _is_scalar(self, s: Shape) -> bool:
        r, c = self.sizes.resolve(s.rows), self.sizes.resolve(s.cols)
        return r == 1 and c == 1

    def s_Div(self, x: ir.Div) -> Shape:
        a = self.go(x.num)
        b = self.go(x.den)
        if not self._is_scalar(b):
            if is_known(self.sizes.resolve(b.rows)) and is_known(self.sizes.resolve(b.cols)):
                self.problem("shape/divide", f"cannot divide by {self.src(x.den)} ({self.res.show(b)}): the denominator must be a scalar", x.span, x.den)
                return self.fresh()
            self.unify_shape(b, self.scalar())
        return a

    def s_Transpose(self, x: ir.Transpose) -> Shape:
        s = self.go(x.x)
        return Shape(s.cols, s.rows)

    def _square(self, x: Expr, s: Shape, what: str, whole: Expr) -> bool:
        ok = self.eq(s.rows, s.cols)
        if ok is False:
            self.problem("shape/square", f"{what} needs a square matrix, but {self.src(x)} is {self.res.show(s)}", whole.span, x)
            return False
        return True

    def s_Inverse(self, x: ir.Inverse) -> Shape:
        s = self.go(x.x)
        if self._is_scalar(s):
            return s
        if not self._square(x.x, s, "the inverse", x):
            return self.fresh()
        return s

    def s_Power(self, x: ir.Power) -> Shape:
        s = self.go(x.base)
        e = self.go(x.exp)
        if self._is_scalar(s):
            return s
        if isinstance(x.base, ir.Norm) or isinstance(x.base, ir.Func):
            return s
        if not self._square(x.base, s, "a matrix power", x):
            return self.fresh()
        del e
        return s

    def _same(self, code: str, opname: str, x: Expr, a: Expr, b: Expr) -> Shape | None:
        sa, sb = self.go(a), self.go(b)
        if self._is_scalar(sa) and code == "shape/hadamard":
            return sb
        if self._is_scalar(sb) and code == "shape/hadamard":
            return sa
        ok = self.unify_shape(sa, sb)
        if ok is False:
            self.problem(code, f"{opname} needs equal shapes, but {self.src(a)} is {self.res.show(sa)} and {self.src(b)} is {self.res.show(sb)}", x.span, a, b)
            return None
        return sa

    def s_Hadamard(self, x: ir.Hadamard) -> Shape:
        return self._same("shape/hadamard", "the Hadamard product", x, x.a, x.b) or self.fresh()

    def s_HadamardDiv(self, x: ir.HadamardDiv) -> Shape:
        return self._same("shape/hadamard", "element-wise division", x, x.a, x.b) or self.fresh()

    def s_Frob(self, x: ir.Frob) -> Shape:
        if isinstance(x.a, (ir.Space, ir.Opaque)) or isinstance(x.b, (ir.Space, ir.Opaque)):
            return self.fresh()  # `f : \mathbb{R}^n \to \mathbb{R}` is a signature, not a product
        self._same("shape/frobenius", "the Frobenius product", x, x.a, x.b)
        return self.scalar()

    def s_Kron(self, x: ir.Kron) -> Shape:
        a, b = self.go(x.a), self.go(x.b)
        return Shape(a.rows * b.rows, a.cols * b.cols)

    def s_Func(self, x: ir.Func) -> Shape:
        s = self.go(x.arg)
        n = x.name
        if n in ("tr", "det", "logdet"):
            if self._is_scalar(s):
                return self.scalar()
            self._square(x.arg, s, {"tr": "the trace", "det": "the determinant", "logdet": "log det"}[n], x)
            return self.scalar()
        if n == "abs":
            if self._is_scalar(s) or s.cols == 1:
                return s
            if self.eq(s.rows, s.cols) is True and not _is_vec(self.sizes, s):
                return self.scalar()  # |X| = det X
            return s
        if n == "diag":
            if _is_vec(self.sizes, s):
                return Shape(s.rows, s.rows)
            if self._is_scalar(s):
                return s
            self._square(x.arg, s, "diag", x)
            return Shape(s.rows, self.one)
        if n == "Diag":
            return Shape(s.rows, s.rows)
        if n == "vec":
            return Shape(s.rows * s.cols, self.one)
        return s  # element-wise functions keep the shape

    def s_Norm(self, x: ir.Norm) -> Shape:
        self.go(x.x)
        return self.scalar()

    def s_Derivative(self, x: ir.Derivative) -> Shape:
        f = self.go(x.f)
        w = self.go(x.wrt)
        if isinstance(x.wrt, ir.Entry):
            return f
        if self._is_scalar(f):
            return w
        if self._is_scalar(w):
            return f
        return self.fresh()

    # -- statements
    def s_Chain(self, x: ir.Chain) -> Shape:
        shapes = [self.go(p) for p in x.parts]
        for k, op in enumerate(x.ops):
            a, b = x.parts[k], x.parts[k + 1]
            if op == "\\in":
                continue
            if op in ("=", ":=", "\\approx", "\\succ", "\\succeq", "\\prec", "\\preceq", "=:"):
                if _is_zero(a) or _is_zero(b) or isinstance(a, ir.Opaque) or isinstance(b, ir.Opaque):
                    continue
                sa, sb = shapes[k], shapes[k + 1]
                ok = self.unify_shape(sa, sb)
                if ok is False:
                    self.problem("shape/equation", f"the two sides differ in shape: {self.src(a)} is {self.res.show(sa)} but {self.src(b)} is {self.res.show(sb)}",
                                 self.span2(a, b), a, b)
        return shapes[0] if shapes else self.fresh()


def _is_zero(x: Expr) -> bool:
    return isinstance(x, ir.Zero) or (isinstance(x, ir.Num) and x.value == 0)


def _is_vec(sizes: Sizes, s: Shape) -> bool:
    return sizes.resolve(s.cols) == 1 and sizes.resolve(s.rows) != 1


_SCALAR_GREEK = {"\\alpha", "\\beta", "\\gamma", "\\delta", "\\epsilon", "\\varepsilon", "\\eta", "\\lambda",
                 "\\mu", "\\nu", "\\rho", "\\sigma", "\\tau", "\\kappa", "\\xi", "\\zeta", "\\omega", "\\phi",
                 "\\varphi", "\\psi", "\\ell", "\\theta", "\\pi"}


def _looks_scalar(name: str) -> bool:
    """Undeclared names that papers use for scalars: Greek lowercase, `f`, `t`, indices."""
    base = name.split("_", 1)[0].split("^", 1)[0]
    return base in _SCALAR_GREEK or base in {"f", "g", "h", "t", "L", "J", "\\mathcal{L}", "\\ell"}
