"""Shape of every node; mismatches become Problems.

Sizes are symbolic (``mcls.sizes``). Errors only where a mismatch is certain
(two sizes known to differ); anything involving an unknown size constrains
it instead. After the first error inside an expression its result is unknown,
so one mistake gives one diagnostic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from . import ir
from .ir import Expr
from .problems import Problem, Related, Severity
from .scope import Decl, Scope, family_shape, is_expectation, resolve, split_index, symbol_name
from .sizes import Sizes, canonical_size_name, is_unknown_symbol, parse_size, sp


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
        self.soft_scalars: set = set()  # unknown sizes that are presumed 1 (see ShapeChecker.soft_scalar)

    def is_soft_scalar(self, s: Shape) -> bool:
        r, c = self.sizes.resolve(s.rows), self.sizes.resolve(s.cols)
        return r in self.soft_scalars and c in self.soft_scalars

    def set(self, x: Expr, s: Shape) -> Shape:
        self._by_id[id(x)] = (x, s)
        return s

    def get(self, x: Expr) -> Shape | None:
        hit = self._by_id.get(id(x))
        if hit is None:
            return None
        s = hit[1]
        if self.is_soft_scalar(s):  # readers (hover, calculus, numeric) see the presumed scalar
            return Shape(sp().Integer(1), sp().Integer(1))
        return Shape(self.sizes.resolve(s.rows), self.sizes.resolve(s.cols))

    def __call__(self, x: Expr) -> Shape:
        s = self.get(x)
        if s is None:
            raise KeyError(f"no shape for {x!r}")
        return s

    def show(self, s: Shape) -> str:
        if s is None:
            return "?"
        if self.is_soft_scalar(s):
            return "scalar"
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
        self.rebound: dict[str, Shape] = {}  # `M = …` re-defining a name defined earlier
        self.undeclared: dict[str, tuple[int, int]] = {}  # first use of names inferred from use

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
        """Unify two sizes. False only for a *certain* mismatch: both sizes come from the
        document's declarations. A size that started unknown (an undeclared name, an opaque
        construct, `I` without subscript) was bound by guessing; a later clash with it means the
        guess was wrong (the name was a scalar, or a function), not that the math is."""
        if self.sizes.resolve(a) in self.res.soft_scalars:
            a, b = b, a  # bind the other unknown to the presumed 1, not the reverse
        r = self.sizes.unify(a, b)
        if r is False and (_soft(a) or _soft(b)):
            return None
        return r

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
        if x.name in self.rebound:
            return self.rebound[x.name]
        d = self.scope.decls.get(x.name)
        if d is not None and d.kind == "defined" and d.rows == 1 and d.cols == 1:
            return self.soft_scalar()  # `\hat\mu = \frac1N \sum_n x_n`: scalar only if x_n was
        if d is not None and d.kind != "ambiguous":
            return Shape(d.rows, d.cols)
        if x.name in self.local:
            return self.local[x.name]
        if _is_size_name(x.name, self.scope.size_names):
            return self.scalar()
        fam = family_shape(self.scope, x.name)
        if fam is not None:
            return Shape(*fam)
        if _looks_scalar(x.name):
            s = self.soft_scalar()
        else:
            s = self.fresh()
            if x.span is not None:
                self.undeclared.setdefault(x.name, x.span)
        self.local[x.name] = s
        return s

    def s_Num(self, x: ir.Num) -> Shape:
        return self.scalar()

    def s_Entry(self, x: ir.Entry) -> Shape:
        d = self.go(x.of)
        if x.j is not None and re.fullmatch(r"[a-z]", x.i) and re.fullmatch(r"[a-z]", x.j) and is_known(self.sizes.resolve(d.rows)):
            return self.scalar()  # X_{ij} of a declared matrix
        # x_i may be the i-th sample (a vector), \Sigma_{12} a block: a scalar by guess only
        return self.soft_scalar()

    def _scalar_of(self, shapes: list[Shape]) -> Shape:
        """A scalar combined from scalars: certain only when every part is."""
        if any(self.res.is_soft_scalar(s) for s in shapes if self._is_scalar(s)):
            return self.soft_scalar()
        return self.scalar()

    def soft_copy(self, s: Shape) -> Shape:
        """The same sizes, by guess: a clash with them is not reported."""
        out = self.fresh()
        self.sizes.unify(out.rows, s.rows)
        self.sizes.unify(out.cols, s.cols)
        return out

    def soft_scalar(self) -> Shape:
        """1×1 by guess (`\\lambda`, `x_i`): a scalar in products and sums, but its sizes stay
        unknown, so a clash with it is never reported and it never defines a name's shape."""
        s = self.fresh()
        self.res.soft_scalars.update((s.rows, s.cols))
        return s

    def s_Indexed(self, x: ir.Indexed) -> Shape:
        # what the resolver left indexed has no name: `(AB)_{ij}`, `[\nabla f]_i`, `D^{ij}_{kl}`
        b = self.go(x.base)
        idx = split_index(x.index)
        if len(idx) == 2 and ":" not in idx:
            return self.scalar()
        if len(idx) == 1 and (_is_vec(self.sizes, b) or self.sizes.resolve(b.rows) == 1):
            return self.scalar()
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
        shapes = [self.go(a) for a in x.args]
        t = x.text
        if t == "matrix":
            return self._block(x)
        if not shapes:
            return self.fresh()
        if t == "pinv":
            return Shape(shapes[0].cols, shapes[0].rows)
        if _ARG_OPT.search(t):  # \arg\min_x f(x): the shape of x
            return shapes[1] if len(shapes) == 2 else self.fresh()
        if _BIGOP_BODY.match(t) and not isinstance(x.args[0], ir.Tuple):
            return shapes[0]  # \sum_i x_i x_i^\top, \max_x f(x), \lim_{t\to 0} …: the body's shape
        if _SCALAR_VALUED.search(t):
            return self.scalar()  # rank(A), cond(A)
        if _COVARIANCE.search(t) and len(shapes) == 1:
            if self._is_scalar(shapes[0]):
                return shapes[0]
            if _is_vec(self.sizes, shapes[0]):
                return Shape(shapes[0].rows, shapes[0].rows)  # Var(x) of a vector: its covariance matrix
            return self.fresh()
        if is_expectation(t) and len(shapes) == 1:
            return shapes[0]
        if t in ("\\nabla", "\\nabla^2"):
            return self._nabla(x, shapes)
        if t == "hessian" and len(shapes) == 3:
            return self._hessian(shapes)
        if t == "column":
            return Shape(shapes[0].rows, self.one)
        if t == "row":
            return Shape(self.one, shapes[0].cols)
        if _SHAPE_KEEPING.search(t) and len(shapes) == 1:
            return shapes[0]  # softmax(z), sign(x): element-wise
        return self.fresh()

    def _nabla(self, x: ir.Opaque, shapes: list[Shape]) -> Shape:
        body = x.args[0]
        if len(x.args) == 2:
            w = shapes[1]
        elif isinstance(body, ir.Opaque) and len(body.args) == 1 and not is_expectation(body.text):
            w = self.res.get(body.args[0]) or self.fresh()  # \nabla f(x): with respect to x
        else:
            return self.fresh()
        if x.text == "\\nabla":
            return w
        if _is_vec(self.sizes, w):
            return Shape(w.rows, w.rows)
        return self.fresh()

    def _hessian(self, shapes: list[Shape]) -> Shape:
        f, a, b = shapes
        if not self._is_scalar(f) and not self._free(f):
            return self.fresh()
        if self._is_scalar(a) and self._is_scalar(b):
            return self.scalar()
        if _is_vec(self.sizes, a) and self.sizes.resolve(b.rows) == 1:
            return Shape(a.rows, b.cols)  # ∂x ∂x^T
        if _is_vec(self.sizes, a) and _is_vec(self.sizes, b):
            return Shape(a.rows, b.rows)
        return self.fresh()

    def _block(self, x: ir.Opaque) -> Shape:
        """``\\begin{bmatrix} A & B \\\\ C & D \\end{bmatrix}``: scalar entries or blocks."""
        grid = getattr(x, "_cells", None)
        env = getattr(x, "_env", "")
        if env in ("vmatrix", "Vmatrix"):
            return self.scalar()  # a determinant / norm
        if not grid or len({len(r) for r in grid}) != 1:
            return self.fresh()
        cells = [[None if c is None else resolve(c, self.scope) for c in row] for row in grid]
        if any(c is not None and any(_is_dots(n) for n in c.walk()) for row in cells for c in row):
            return self.fresh()  # x_{11} & \cdots & x_{1p}: size left symbolic
        shapes = [[None if c is None else self.go(c) for c in row] for row in cells]
        if all(s is not None and self._is_scalar(s) for row in shapes for s in row):
            if any(self.res.is_soft_scalar(s) for row in shapes for s in row):
                return self.fresh()  # [x_1, x_2]: entries, or columns?
            return Shape(sp().Integer(len(cells)), sp().Integer(len(cells[0])))
        heights = []
        for row, srow in zip(cells, shapes):
            h = None
            for c, s in zip(row, srow):
                if s is None or _is_zero(c) or isinstance(c, ir.Zero):
                    continue  # an empty or zero block takes its size from its neighbours
                if h is None:
                    h = s.rows
                elif self.eq(h, s.rows) is False:
                    return self.fresh()
            heights.append(h if h is not None else self.sizes.fresh())
        widths = []
        for j in range(len(cells[0])):
            w = None
            for row, srow in zip(cells, shapes):
                c, s = row[j], srow[j]
                if s is None or _is_zero(c) or isinstance(c, ir.Zero):
                    continue
                if w is None:
                    w = s.cols
                elif self.eq(w, s.cols) is False:
                    return self.fresh()
            widths.append(w if w is not None else self.sizes.fresh())
        return Shape(sum(heights[1:], heights[0]), sum(widths[1:], widths[0]))

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
        scalars: list[Shape] = []
        for t, s in zip(x.terms, shapes):
            if _is_zero(t):
                continue
            if self._is_scalar(s):
                scalars.append(s)  # `1 - \sigma(z)`, `x - \mu`: a scalar term is broadcast
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
        if acc is None:
            return self._scalar_of(scalars) if scalars else self.fresh()
        return acc

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
        soft_before = soft_after = False  # a guessed scalar (`x_0`, `\\lambda`) at an end may be a vector
        for f, s in zip(factors, shapes):
            if self._is_scalar(s):
                if self.res.is_soft_scalar(s):
                    soft_before = soft_before or scale_only
                    soft_after = True
                continue
            soft_after = False
            scale_only = False
            if acc is None:
                acc, left = s, f
                continue
            ok = self.eq(acc.cols, s.rows)
            if ok is False:
                joined = getattr(f, "_joined", None)
                if joined == "\\cdot" and self._conflict(acc, s) is False and acc.cols == s.cols == 1:
                    acc, left = self.scalar(), f  # a \cdot b of two vectors: the dot product
                    continue
                if joined in ("\\times", "*"):
                    # a \times b (cross product), a * b (convolution, element-wise): not a product
                    acc, left = (s if self._conflict(acc, s) is False else self.fresh()), f
                    continue
                if _maybe_application(left, f, self.scope):
                    return self.fresh()
                self.problem(
                    "shape/matmul",
                    f"cannot multiply {self.src(left)} ({self.res.show(acc)}) by {self.src(f)} ({self.res.show(s)}): inner sizes {self.sizes.show(acc.cols)} and {self.sizes.show(s.rows)} differ",
                    self.span2(left, f), left, f,
                )
                return self.fresh()
            acc = Shape(acc.rows, s.cols)
            left = f
        if scale_only or acc is None:
            return self._scalar_of(shapes)
        if soft_before or soft_after:
            return Shape(self.sizes.fresh() if soft_before else acc.rows, self.sizes.fresh() if soft_after else acc.cols)
        return acc

    def _conflict(self, a: Shape, b: Shape) -> bool:
        """Known to differ, without binding anything."""
        def differ(x, y):
            x, y = self.sizes.resolve(x), self.sizes.resolve(y)
            return is_known(x) and is_known(y) and sp().expand(x - y) != 0
        return differ(a.rows, b.rows) or differ(a.cols, b.cols)

    def _free(self, s: Shape) -> bool:
        """Nothing is known about this shape (it could even be a scalar)."""
        return not is_known(self.sizes.resolve(s.rows)) and not is_known(self.sizes.resolve(s.cols))

    def _is_scalar(self, s: Shape) -> bool:
        r, c = self.sizes.resolve(s.rows), self.sizes.resolve(s.cols)
        return (r == 1 and c == 1) or (r in self.res.soft_scalars and c in self.res.soft_scalars)

    def s_Div(self, x: ir.Div) -> Shape:
        a = self.go(x.num)
        b = self.go(x.den)
        if self._is_scalar(b):
            return a
        if isinstance(x.num, ir.Differential) and isinstance(x.den, ir.Differential):
            return self._derivative(self.res.get(x.num.of) or a, self.res.get(x.den.of) or b, x.den.of)  # ∂L / ∂z
        if any(isinstance(n, ir.Differential) for n in x.den.walk()):
            return self.fresh()  # df/dx written with a slash
        if self._free(b):
            # `\frac{1}{N}`: a lone undeclared name below the bar is a scalar; anything else
            # unknown may be element-wise (`\frac{1}{1 + e^{-z}}`)
            if isinstance(x.den, ir.Sym) or not self._is_scalar(a):
                return a
            return b
        if self._is_scalar(a):
            return b  # element-wise reciprocal
        if self.unify_shape(a, b) is not False:
            return a  # element-wise division (`\frac{m_t}{\sqrt{v_t} + \epsilon}`)
        if getattr(x, "_slash", False):
            return self.fresh()  # `M/A`: the Schur complement notation
        self.problem("shape/divide", f"cannot divide {self.src(x.num)} ({self.res.show(a)}) by {self.src(x.den)} ({self.res.show(b)}): the denominator must be a scalar or of the same shape",
                     x.span, x.num, x.den)
        return self.fresh()

    def s_Transpose(self, x: ir.Transpose) -> Shape:
        s = self.go(x.x)
        return Shape(s.cols, s.rows)

    def _square(self, x: Expr, s: Shape, what: str, whole: Expr) -> bool:
        base = x
        while isinstance(base, (ir.Transpose, ir.Inverse)):
            base = base.x
        name = symbol_name(base) if isinstance(base, ir.Sym) else None
        if name and self.scope.assumptions_of(name) & _SQUARE_KINDS:
            # the text says it is square ("where $A$ is invertible"): here its sizes are equal
            if self.eq(s.rows, s.cols) is False:
                self.sizes.merge_symbols(s.rows, s.cols)
            return True
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
        if isinstance(x.base, ir.Sym) and x.base.name in ("e", "\\mathrm{e}") and x.base.name not in self.scope.decls:
            return e  # e^{x}: element-wise exponential
        if self._is_scalar(s):
            return s
        if isinstance(x.base, ir.Norm) or isinstance(x.base, ir.Func):
            return s
        if not _numeric(x.exp):
            # x^{k+1}, W^{t}, D^{ij}: an iteration label (or a power of a square matrix)
            if getattr(x, "_iter", False) and self.eq(s.rows, s.cols) is False:
                return self.fresh()  # `X^t` is a transpose in some traditions
            return s
        if _is_vec(self.sizes, s) or self.sizes.resolve(s.rows) == 1:
            return s  # g_t^2: element-wise power of a vector
        if not self._square(x.base, s, "a matrix power", x):
            return self.fresh()
        return s

    def _same(self, code: str, opname: str, x: Expr, a: Expr, b: Expr) -> Shape | None:
        sa, sb = self.go(a), self.go(b)
        if self._is_scalar(sa) and code == "shape/hadamard":
            return sb
        if self._is_scalar(sb) and code == "shape/hadamard":
            return sa
        ok = self.unify_shape(sa, sb)
        if ok is False:
            self.problem(code, f"{opname} needs equal shapes, but {self.src(a)} is {self.res.show(sa)} and {self.src(b)} is {self.res.show(sb)}", self.span2(a, b), a, b)
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
        if _is_vec(self.sizes, a) and _is_vec(self.sizes, b):
            return self.fresh()  # x \otimes y: a Kronecker column or the outer product x y^T
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
        if n in ("diag", "Diag"):
            if isinstance(x.arg, ir.Tuple):  # diag(λ_1, …, λ_n)
                k = len(x.arg.items)
                if any(_is_dots(i) for i in x.arg.items):
                    u = _last_index_size(x.arg.items[-1]) or self.sizes.fresh()
                    return Shape(u, u)
                return Shape(sp().Integer(k), sp().Integer(k))
            if _is_vec(self.sizes, s):
                return Shape(s.rows, s.rows)
            if self._is_scalar(s) or n == "Diag":  # diag(p_n (1 - p_n)): a diagonal matrix
                u = self.sizes.fresh()
                return Shape(u, u)
            r, c = self.sizes.resolve(s.rows), self.sizes.resolve(s.cols)
            if is_known(r) and r == c:
                return Shape(s.rows, self.one)  # the diagonal of a square matrix, as a vector
            return self.fresh()  # unknown argument: a vector (-> matrix) or a matrix (-> vector)
        if n == "vec":
            return Shape(s.rows * s.cols, self.one)
        return s  # element-wise functions keep the shape

    def s_Norm(self, x: ir.Norm) -> Shape:
        self.go(x.x)
        return self.scalar()

    def s_Derivative(self, x: ir.Derivative) -> Shape:
        return self._derivative(self.go(x.f), self.go(x.wrt), x.wrt, bool(getattr(x, "_nabla", False)))

    def _is_matrix(self, s: Shape) -> bool:
        r, c = self.sizes.resolve(s.rows), self.sizes.resolve(s.cols)
        return is_known(r) and is_known(c) and r != 1 and c != 1

    def _derivative(self, f: Shape, w: Shape, wrt: Expr, gradient: bool = False) -> Shape:
        if isinstance(wrt, ir.Entry):
            return f
        if self._is_scalar(f):
            return w  # the gradient has the shape of the variable
        if self._free(f) and gradient:
            return w  # ∇_x f: a gradient, f is a scalar
        if self._free(f) and self._is_matrix(w):
            return self.soft_copy(w)  # ∂f/∂X for a matrix X: f is a scalar by convention (presumed)
        if self._is_scalar(w):
            return f
        if _is_vec(self.sizes, f) and self.sizes.resolve(w.rows) == 1 and is_known(self.sizes.resolve(w.cols)):
            return Shape(f.rows, w.cols)  # ∂y/∂x^T: the Jacobian
        return self.fresh()

    # -- statements
    def s_Chain(self, x: ir.Chain) -> Shape:
        shapes = [self.go(p) for p in x.parts]
        if x.ops and x.ops[0] in ("=", ":=") and isinstance(x.parts[0], ir.Sym) and len(shapes) > 1:
            name, rhs = x.parts[0].name, shapes[1]
            if name not in self.scope.decls and not _soft(rhs.rows) and not _soft(rhs.cols):
                # `P^- = F P F^\top + Q`: a definition from declared shapes is as certain as a
                # declaration for the rest of the region
                self.local[name] = rhs
        for k, op in enumerate(x.ops):
            a, b = x.parts[k], x.parts[k + 1]
            if op == "\\in":
                continue
            if op in ("=", ":=", "\\approx", "\\succ", "\\succeq", "\\prec", "\\preceq", "=:"):
                if _is_zero(a) or _is_zero(b) or _is_placeholder(a) or _is_placeholder(b):
                    continue
                if k == 0 and op in ("=", ":=") and isinstance(a, ir.Sym):
                    d = self.scope.decls.get(a.name)
                    if d is not None and d.kind == "defined" and self._conflict(shapes[0], shapes[1]):
                        self.rebound[a.name] = shapes[1]  # a new definition of the name, not a claim
                        continue
                sa, sb = shapes[k], shapes[k + 1]
                ok = self.unify_shape(sa, sb)
                if ok is False:
                    self.problem("shape/equation", f"the two sides differ in shape: {self.src(a)} is {self.res.show(sa)} but {self.src(b)} is {self.res.show(sb)}",
                                 self.span2(a, b), a, b)
        return shapes[0] if shapes else self.fresh()


_SQUARE_KINDS = {"square", "invertible", "symmetric", "spd", "psd", "orthogonal", "diagonal"}
_BIGOP_BODY = re.compile(r"\\(?:sum|prod|max|min|sup|inf|lim|limsup|liminf)(?![A-Za-z])")
_ARG_OPT = re.compile(r"arg\s*(?:\\[,;!: ]\s*|~\s*)?\\?(?:min|max)")
_SCALAR_VALUED = re.compile(r"(?:^|[{\\])(?:rank|Rank|nnz|card|cond|dim|KL|Pr)\}?$")
_COVARIANCE = re.compile(r"(?:^|[{\\])(?:Var|var|Cov|cov|mathbb\{V\})\}?$")
_SHAPE_KEEPING = re.compile(r"(?:^|[{\\])(?:softmax|softplus|sign|sgn|GELU|gelu|ELU|elu|erf|swish|SiLU|silu|clip|round|floor|ceil|Softmax|LeakyReLU|logsumexp_rows)\}?$")


def _soft(x) -> bool:
    return any(is_unknown_symbol(f) for f in getattr(x, "free_symbols", ()))


def _last_index_size(x: Expr):
    """``\\lambda_p`` closing ``\\lambda_1, \\dots, \\lambda_p``: the count p."""
    name = symbol_name(x) if isinstance(x, (ir.Sym, ir.Indexed)) else None
    m = re.fullmatch(r".+?_(?:\{([^{}]+)\}|(.))", name or "")
    if not m:
        return None
    n = parse_size(m.group(1) or m.group(2))
    return n if n is not None and n.free_symbols else None


def _numeric(x: Expr) -> bool:
    if isinstance(x, ir.Num):
        return True
    if isinstance(x, ir.Neg):
        return _numeric(x.x)
    if isinstance(x, (ir.Div, ir.Add, ir.Mul)):
        return all(_numeric(c) for c in x.children())
    return False


def _is_dots(x: Expr) -> bool:
    return isinstance(x, ir.Opaque) and not x.args and x.text in ("\\dots", "\\ldots", "\\cdots", "\\vdots", "\\ddots")


def _is_placeholder(x: Expr) -> bool:
    return isinstance(x, ir.Opaque) and not x.args and (x.text in ("&", "·", "\\cdot") or _is_dots(x))


def _maybe_application(left: Expr | None, f: Expr, scope: Scope) -> bool:
    """`M(X + tY)` where M was *defined* (not declared) earlier: M may be a function of X."""
    if not isinstance(left, ir.Sym) or not getattr(f, "_paren", False):
        return False
    d = scope.decls.get(left.name)
    return d is not None and d.kind == "defined"


def _is_zero(x: Expr) -> bool:
    return isinstance(x, ir.Zero) or (isinstance(x, ir.Num) and x.value == 0)


def _is_vec(sizes: Sizes, s: Shape) -> bool:
    return sizes.resolve(s.cols) == 1 and sizes.resolve(s.rows) != 1


_SCALAR_GREEK = {"\\gamma", "\\eta", "\\lambda", "\\rho", "\\sigma", "\\tau", "\\kappa", "\\pi", "\\ell"}


def _is_size_name(name: str, size_names: set[str]) -> bool:
    """``n``, ``n_l``/``n_{l}``; and ``n_0`` when ``n_l`` is a size (a family of sizes)."""
    canon = canonical_size_name(name)
    if canon in size_names:
        return True
    m = re.fullmatch(r"([A-Za-z])_(?:\{[^{}]*\}|[A-Za-z0-9])", canon)
    return bool(m) and any(s.startswith(m.group(1) + "_") for s in size_names)


def _looks_scalar(name: str) -> bool:
    """Undeclared names that papers use for scalars. Only letters that are almost never
    vectors: `\\mu`, `\\theta`, `\\beta`, `\\alpha`, `\\epsilon`, `\\delta` (means, parameters,
    coefficients, dual variables, noise, errors) and `f`, `g`, `h`, `L`, `J` (vector-valued
    functions, hidden states, Cholesky factors, Jacobians) stay unknown."""
    base = name.split("_", 1)[0].split("^", 1)[0]
    return base in _SCALAR_GREEK or name in {"t", "\\mathcal{L}", "\\ell"}
