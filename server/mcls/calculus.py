"""Matrix calculus on resolved IR: structural recursion, one rule per node.

- ``differential``: forward mode, Magnus–Neudecker rules; the result has
  ``Differential(X)`` leaves (``d(AXB) = A\\,dX\\,B``).
- ``gradient``: reverse mode for a scalar f: walk the tree from the root
  carrying an adjoint of each node's shape (``Y = A X B ⇒ X̄ += Aᵀ Ȳ Bᵀ``);
  the result G has X's shape and ``df = G : dX`` (denominator layout).
- ``component``: ``∂F/∂X_{ij} = dF[dX := E_{ij}]`` (the seeds' method).
- ``jacobian``: ``∂ vec F / ∂ (vec X)ᵀ`` by ``vec(A dX B) = (Bᵀ ⊗ A) vec dX``.
- ``hessian``: the Jacobian of the gradient; ``second_differential``: d²f.

Everything takes an explicit shape function (``shapes_for`` builds one) and
raises :class:`NotDifferentiable` for what has no closed form in the IR.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Iterable

from . import ir
from .ir import Expr
from .shapes import Shape, ShapeChecker
from .simplify import ShapeTable, as_table, simplify, size_text
from .sizes import sp


class NotDifferentiable(ValueError):
    """No closed form in matrix notation for this derivative (the message says why)."""


# ---------------------------------------------------------------- shapes


def isolated(scope: Any) -> Any:
    """A copy of the scope whose unknown-size bindings do not leak back."""
    s = scope.copy()
    sizes = type(scope.sizes).__new__(type(scope.sizes))
    sizes.__dict__.update({k: (dict(v) if isinstance(v, dict) else v) for k, v in scope.sizes.__dict__.items()})
    s.sizes = sizes
    return s


def shapes_for(tree: Expr, scope: Any, *more: Expr, same: Iterable[tuple[Expr, Any]] = ()) -> ShapeTable:
    """Shape-check ``tree`` (and ``more``) in a private copy of ``scope``; ``same``
    pairs (node, node-or-Shape) that must have equal shapes (a gradient and its
    variable). The table also answers for nodes made later from these."""
    sc = isolated(scope)
    chk = ShapeChecker(sc)
    for t in (tree, *more):
        chk.check(t)
    for a, b in same:
        sa = chk.res.get(a) or chk.check(a)
        sb = b if isinstance(b, Shape) else (chk.res.get(b) or chk.check(b))
        chk.unify_shape(sa, sb)
    names: dict[str, Shape] = {n: Shape(d.rows, d.cols) for n, d in sc.decls.items()}
    for t in (tree, *more):
        for node in t.walk():
            if isinstance(node, ir.Sym) and node.name not in names:
                s = chk.res.get(node)
                if s is not None:
                    names[node.name] = s
    symmetric = {n for n in names if {"symmetric", "spd"} & set(sc.assumptions_of(n))}
    return ShapeTable(chk.res.get, names, sc.sizes, symmetric, scope=sc, problems=tuple(chk.res.problems))


def _scalar_shape() -> Shape:
    one = sp().Integer(1)
    return Shape(one, one)


def _is_square_matrix(s: Shape) -> bool:
    return s.rows == s.cols and s.rows != 1


# ---------------------------------------------------------------- shared helpers


_ONE = ir.Num(Fraction(1))


class _Base:
    def __init__(self, st: ShapeTable):
        self.st = st
        self._dep: dict[int, tuple[Expr, bool]] = {}

    def depends(self, x: Expr) -> bool:
        hit = self._dep.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        if isinstance(x, ir.Differential):
            v = False  # dX is a constant direction (second differentials)
        elif isinstance(x, ir.Sym):
            v = self.is_var(x)
        else:
            v = any(self.depends(c) for c in x.children())
        self._dep[id(x)] = (x, v)
        return v

    def is_var(self, x: ir.Sym) -> bool:
        raise NotImplementedError

    def shape(self, x: Expr) -> Shape:
        s = self.st.get(x)
        if s is None:
            raise NotDifferentiable(f"the shape of {_show(x)} is unknown")
        return s

    def scalar(self, x: Expr) -> bool:
        s = self.shape(x)
        return s.rows == 1 and s.cols == 1

    def put(self, x: Expr, s: Shape) -> Expr:
        return self.st.put(x, s)

    def ident(self, n: Any) -> Expr:
        return self.put(ir.Identity(None), Shape(n, n))

    # element-wise helpers: a scalar argument multiplies, a matrix one is Hadamard
    def had(self, z: Expr, a: Expr, b: Expr) -> Expr:
        return ir.Mul((a, b)) if self.scalar(z) else ir.Hadamard(a, b)

    def hdiv(self, z: Expr, a: Expr, b: Expr) -> Expr:
        return ir.Div(a, b) if self.scalar(z) else ir.HadamardDiv(a, b)

    def inner(self, z: Expr, v: Expr) -> Expr:
        """⟨z, v⟩ as a paper writes it: zᵀv for columns, z : v otherwise."""
        if self.scalar(z):
            return ir.Mul((z, v))
        if self.st.is_vector(z):
            return ir.Mul((ir.Transpose(z), v))
        return ir.Frob(z, v)

    def ew_apply(self, f: ir.Func, v: Expr) -> Expr:
        """f'(Z) ⊙ v for an element-wise f = f(Z): the forward rule (v = dZ) and the
        reverse rule (v = Ȳ) are the same because the Jacobian is diagonal."""
        z, n = f.arg, f.name
        if n == "exp":
            return self.had(z, f, v)
        if n == "log":
            return self.hdiv(z, v, z)
        if n == "sqrt":
            return self.hdiv(z, v, ir.Mul((ir.Num(Fraction(2)), f)))
        if n == "sin":
            return self.had(z, ir.Func("cos", z), v)
        if n == "cos":
            return ir.Neg(self.had(z, ir.Func("sin", z), v))
        if n == "softplus":
            return self.had(z, ir.Func("sigma", z), v)
        if n == "sigma" and self.scalar(z):  # σ' = σ(1 - σ), so log σ(z) differentiates to 1 - σ(z)
            return ir.Mul((f, ir.Add((ir.Num(Fraction(1)), ir.Neg(f))), v))
        if n == "tanh" and self.scalar(z):
            return ir.Mul((ir.Add((ir.Num(Fraction(1)), ir.Neg(ir.Power(f, ir.Num(Fraction(2)))))), v))
        base = n.rstrip("'")
        if base in ir.ELEMENTWISE_FUNCS or base == "abs":
            return self.had(z, ir.Func(n + "'", z, style=f.style), v)
        raise NotDifferentiable(f"unknown function {n}")

    def abs_is_det(self, x: ir.Func) -> bool:
        """|X| of a square matrix is its determinant (Cookbook notation)."""
        return x.name == "abs" and self.scalar(x) and not self.scalar(x.arg)

    def det_matrix(self, z: Expr) -> Expr | None:
        """The matrix M when z is det M or |det M| (so log z = log|det M|)."""
        if isinstance(z, ir.Func):
            if z.name == "det" and not self.scalar(z.arg):
                return z.arg
            if self.abs_is_det(z):
                return z.arg
            if z.name == "abs" and self.scalar(z.arg):
                return self.det_matrix(z.arg)
        return None

    def int_exponent(self, e: Expr) -> int | None:
        if isinstance(e, ir.Num) and e.value.denominator == 1:
            return int(e.value)
        if isinstance(e, ir.Neg):
            k = self.int_exponent(e.x)
            return -k if k is not None else None
        return None

    def pow_minus(self, b: Expr, e: Expr, k: int) -> Expr:
        """b^(e-k), folded when e is a number."""
        if isinstance(e, ir.Num):
            v = e.value - k
            if v == 1:
                return b
            return ir.Power(b, ir.Num(Fraction(v)))
        return ir.Power(b, ir.Add((e, ir.Num(Fraction(-k)))))

    def norm_kind(self, x: ir.Norm) -> str:
        """'2' (vector 2-norm or Frobenius: both are sqrt(z:z)), '1', or 'other'."""
        vec = self.st.is_vector(x.x) or self.scalar(x.x) or self.shape(x.x).rows == 1
        if x.kind == "F" or x.kind is None or (x.kind == "2" and vec):
            return "2"
        if x.kind == "1" and vec:
            return "1"
        return "other"


def _show(x: Expr) -> str:
    try:
        from .render.latex import to_latex

        s = to_latex(x)
    except Exception:  # noqa: BLE001 - a message must never fail
        s = type(x).__name__
    return s if len(s) <= 60 else s[:57] + "…"


def _sum(terms: list[Expr]) -> Expr | None:
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else ir.Add(tuple(terms))


def _mul(*fs: Expr | None) -> Expr:
    facs = tuple(f for f in fs if f is not None and f is not _ONE)
    if not facs:
        return _ONE
    return facs[0] if len(facs) == 1 else ir.Mul(facs)


def _prepare(x: Expr, st: ShapeTable) -> Expr:
    """A lone ``1`` the shape stage read as the ones vector becomes ``Ones``."""
    if not any(isinstance(n, ir.Num) and not st.is_scalar(n) and st.get(n) is not None for n in x.walk()):
        return x

    def go(e: Expr) -> Expr:
        if isinstance(e, ir.Num):
            s = st.get(e)
            if s is not None and not (s.rows == 1 and s.cols == 1):
                return st.put(ir.Ones(None, span=e.span), s)
            return e
        return ir.rebuild(e, go)

    return go(x)


def substitute(x: Expr, rule: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild ``x`` replacing every node for which ``rule`` returns a node."""
    memo: dict[int, tuple[Expr, Expr]] = {}

    def go(e: Expr) -> Expr:
        hit = memo.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        r = rule(e)
        out = r if r is not None else ir.rebuild(e, go)
        memo[id(e)] = (e, out)
        return out

    return go(x)


# ---------------------------------------------------------------- forward mode


class _Forward(_Base):
    def __init__(self, wrt: set[str], st: ShapeTable):
        super().__init__(st)
        self.wrt = wrt
        self.memo: dict[int, tuple[Expr, Expr | None]] = {}

    def is_var(self, x: ir.Sym) -> bool:
        return x.name in self.wrt

    def d(self, x: Expr) -> Expr | None:
        """dx, or None when x is constant."""
        if not self.depends(x):
            return None
        hit = self.memo.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        m = getattr(self, "d_" + type(x).__name__, None)
        if m is None:
            raise NotDifferentiable(f"cannot differentiate {_show(x)} ({type(x).__name__})")
        v = m(x)
        self.memo[id(x)] = (x, v)
        return v

    def d_Sym(self, x: ir.Sym) -> Expr:
        return ir.Differential(x)

    def d_Entry(self, x: ir.Entry) -> Expr:
        return ir.Entry(self.d(x.of), x.i, x.j)

    def d_Add(self, x: ir.Add) -> Expr | None:
        return _sum([self.d(t) for t in x.terms])

    def d_Neg(self, x: ir.Neg) -> Expr:
        return ir.Neg(self.d(x.x))

    def d_Mul(self, x: ir.Mul) -> Expr | None:
        fs = x.factors
        out = []
        for k, f in enumerate(fs):
            df = self.d(f)
            if df is not None:
                out.append(ir.Mul(fs[:k] + (df,) + fs[k + 1 :]))
        return _sum(out)

    def d_Div(self, x: ir.Div) -> Expr | None:
        dn, dd = self.d(x.num), self.d(x.den)
        out = []
        if dn is not None:
            out.append(ir.Div(dn, x.den))
        if dd is not None:  # quotient rule
            out.append(ir.Neg(ir.Div(ir.Mul((x.num, dd)), ir.Power(x.den, ir.Num(Fraction(2))))))
        return _sum(out)

    def d_Transpose(self, x: ir.Transpose) -> Expr:
        return ir.Transpose(self.d(x.x))

    def d_Inverse(self, x: ir.Inverse) -> Expr:
        return ir.Neg(ir.Mul((x, self.d(x.x), x)))

    def d_Power(self, x: ir.Power) -> Expr | None:
        b, e = x.base, x.exp
        if self.depends(e):
            if not self.scalar(b):
                raise NotDifferentiable("a matrix raised to a variable power")
            db, de = self.d(b), self.d(e)  # d(b^e) = b^e (log b de + e/b db)
            return _sum([
                ir.Mul((x, ir.Func("log", b), de)) if de is not None else None,
                ir.Mul((e, self.pow_minus(b, e, 1), db)) if db is not None else None,
            ])
        if isinstance(b, ir.Norm) and self.norm_kind(b) == "2":
            db = self.d(b.x)  # d‖z‖^c = c ‖z‖^{c-2} ⟨z, dz⟩
            if isinstance(e, ir.Num) and e.value == 2:
                return ir.Mul((ir.Num(Fraction(2)), self.inner(b.x, db)))
            return ir.Mul((e, self.pow_minus(b, e, 2), self.inner(b.x, db)))
        db = self.d(b)
        s = self.shape(b)
        if s.rows == 1 and s.cols == 1:
            if isinstance(e, ir.Num) and e.value == 1:
                return db
            if isinstance(e, ir.Num) and e.value == 2:
                return ir.Mul((ir.Num(Fraction(2)), b, db))
            return ir.Mul((e, self.pow_minus(b, e, 1), db))
        if s.rows != s.cols:  # element-wise power of a non-square f(X)
            return ir.Hadamard(ir.Mul((e, self.pow_minus(b, e, 1))), db)
        k = self.int_exponent(e)
        if k is None or abs(k) > 16:
            raise NotDifferentiable("a matrix power needs a small integer exponent")
        if k == 0:
            return None
        if k < 0:
            return self.d(ir.Power(ir.Inverse(b), ir.Num(Fraction(-k))))
        return _sum([ir.Mul(tuple(f for f in (_mpow(b, r), db, _mpow(b, k - 1 - r)) if f is not None)) for r in range(k)])

    def d_Hadamard(self, x: ir.Hadamard) -> Expr | None:
        da, db = self.d(x.a), self.d(x.b)
        return _sum([ir.Hadamard(da, x.b) if da is not None else None, ir.Hadamard(x.a, db) if db is not None else None])

    def d_HadamardDiv(self, x: ir.HadamardDiv) -> Expr | None:
        da, db = self.d(x.a), self.d(x.b)
        out = [ir.HadamardDiv(da, x.b) if da is not None else None]
        if db is not None:
            out.append(ir.Neg(ir.HadamardDiv(ir.Hadamard(x.a, db), ir.Hadamard(x.b, x.b))))
        return _sum(out)

    def d_Kron(self, x: ir.Kron) -> Expr | None:
        da, db = self.d(x.a), self.d(x.b)
        return _sum([ir.Kron(da, x.b) if da is not None else None, ir.Kron(x.a, db) if db is not None else None])

    def d_Frob(self, x: ir.Frob) -> Expr | None:
        da, db = self.d(x.a), self.d(x.b)
        return _sum([ir.Frob(da, x.b) if da is not None else None, ir.Frob(x.a, db) if db is not None else None])

    def d_Norm(self, x: ir.Norm) -> Expr:
        k = self.norm_kind(x)
        dz = self.d(x.x)
        if k == "2":
            return ir.Div(self.inner(x.x, dz), x)
        if k == "1":
            return self.inner(ir.Func("abs'", x.x), dz)
        raise NotDifferentiable(f"the {x.kind}-norm of a matrix has no closed-form differential here")

    def d_Func(self, x: ir.Func) -> Expr | None:
        z, n = x.arg, x.name
        dz = self.d(z)
        if n in ("tr", "diag", "Diag", "vec"):
            return dz if self.scalar(z) and n != "Diag" else ir.Func(n, dz, style=x.style)
        if n == "det" or self.abs_is_det(x):
            if self.scalar(z):
                return dz
            return ir.Mul((x, ir.Func("tr", ir.Mul((ir.Inverse(z), dz)))))
        if n == "logdet":
            if self.scalar(z):
                return ir.Div(dz, z)
            return ir.Func("tr", ir.Mul((ir.Inverse(z), dz)))
        if n == "log":
            m = self.det_matrix(z)
            if m is not None:  # d log|det M| = tr(M^{-1} dM)
                return ir.Func("tr", ir.Mul((ir.Inverse(m), self.d(m))))
        return self.ew_apply(x, dz)

    def d_Opaque(self, x: ir.Opaque) -> Expr:
        raise NotDifferentiable(f"mcls does not model {x.text}")


def _mpow(b: Expr, r: int) -> Expr | None:
    if r == 0:
        return None
    if r == 1:
        return b
    return ir.Power(b, ir.Num(Fraction(r)))


def differential(expr: Expr, wrt: set[str] | Iterable[str], shape_fn: Any, simplified: bool = True) -> Expr:
    """dF: forward-mode differential w.r.t. the named symbols (``Differential(Sym)`` leaves)."""
    st = as_table(shape_fn)
    expr = _prepare(expr, st)
    fw = _Forward(set(wrt), st)
    try:
        out = fw.d(expr)
    except RecursionError as e:
        raise NotDifferentiable("expression too deep") from e
    if out is None:
        return st.put(ir.Zero(), fw.shape(expr)) if not fw.scalar(expr) else ir.Num(Fraction(0))
    return simplify(out, st) if simplified else out


# ---------------------------------------------------------------- reverse mode


class _Reverse(_Base):
    def __init__(self, wrt: str, st: ShapeTable):
        super().__init__(st)
        self.wrt = wrt
        self.out: list[Expr] = []

    def is_var(self, x: ir.Sym) -> bool:
        return x.name == self.wrt

    def back(self, x: Expr, ybar: Expr) -> None:
        """Accumulate into the gradient the contribution of x with adjoint ybar."""
        if not self.depends(x):
            return
        m = getattr(self, "b_" + type(x).__name__, None)
        if m is None:
            raise NotDifferentiable(f"cannot differentiate {_show(x)} ({type(x).__name__})")
        m(x, ybar)

    def b_Sym(self, x: ir.Sym, ybar: Expr) -> None:
        self.out.append(ybar)

    def b_Entry(self, x: ir.Entry, ybar: Expr) -> None:
        s = self.shape(x.of)  # Z_ij = e_iᵀ Z e_j  ⇒  Z̄ += ȳ E_ij
        one = sp().Integer(1)
        if x.j is None:
            if s.cols == 1:
                e = self.put(ir.UnitVec(x.i), s)
            else:
                e = ir.Transpose(self.put(ir.UnitVec(x.i), Shape(s.cols, one)))
        else:
            e = self.put(ir.Basis(x.i, x.j), s)
        self.back(x.of, _mul(ybar, e))

    def b_Add(self, x: ir.Add, ybar: Expr) -> None:
        for t in x.terms:
            self.back(t, ybar)

    def b_Neg(self, x: ir.Neg, ybar: Expr) -> None:
        self.back(x.x, ir.Neg(ybar))

    def b_Transpose(self, x: ir.Transpose, ybar: Expr) -> None:
        self.back(x.x, ir.Transpose(ybar))

    def b_Mul(self, x: ir.Mul, ybar: Expr) -> None:
        fs = x.factors
        sc = [self.scalar(f) for f in fs]
        chain = [k for k in range(len(fs)) if not sc[k]]
        y_scalar = self.scalar(x)
        for k, f in enumerate(fs):
            if not self.depends(f):
                continue
            if sc[k]:
                others = _mul(*(fs[m] for m in range(len(fs)) if m != k))
                self.back(f, _mul(ybar, others) if y_scalar else ir.Frob(ybar, others))
                continue
            pos = chain.index(k)  # Y = s · L F R  ⇒  F̄ += s Lᵀ Ȳ Rᵀ
            left = [fs[m] for m in chain[:pos]]
            right = [fs[m] for m in chain[pos + 1 :]]
            scal = [fs[m] for m in range(len(fs)) if sc[m]]
            lt = ir.Transpose(_mul(*left)) if left else None
            rt = ir.Transpose(_mul(*right)) if right else None
            self.back(f, _mul(*scal, lt, ybar, rt))

    def b_Div(self, x: ir.Div, ybar: Expr) -> None:
        self.back(x.num, ir.Div(ybar, x.den))
        if self.depends(x.den):
            prod = _mul(ybar, x.num) if self.scalar(x) else ir.Frob(ybar, x.num)
            self.back(x.den, ir.Neg(ir.Div(prod, ir.Power(x.den, ir.Num(Fraction(2))))))

    def b_Inverse(self, x: ir.Inverse, ybar: Expr) -> None:
        yt = ir.Transpose(x)  # Y = Z^{-1}  ⇒  Z̄ += -Yᵀ Ȳ Yᵀ
        self.back(x.x, ir.Neg(_mul(yt, ybar, yt)))

    def b_Power(self, x: ir.Power, ybar: Expr) -> None:
        b, e = x.base, x.exp
        if self.depends(e):
            if not self.scalar(b):
                raise NotDifferentiable("a matrix raised to a variable power")
            self.back(e, _mul(ybar, x, ir.Func("log", b)))
            self.back(b, _mul(ybar, e, self.pow_minus(b, e, 1)))
            return
        if isinstance(b, ir.Norm) and self.norm_kind(b) == "2":
            z = b.x  # ‖z‖^c  ⇒  z̄ += ȳ c ‖z‖^{c-2} z
            if isinstance(e, ir.Num) and e.value == 2:
                self.back(z, _mul(ybar, ir.Num(Fraction(2)), z))
            else:
                self.back(z, _mul(ybar, e, self.pow_minus(b, e, 2), z))
            return
        s = self.shape(b)
        if s.rows == 1 and s.cols == 1:
            if isinstance(e, ir.Num) and e.value == 2:
                self.back(b, _mul(ybar, ir.Num(Fraction(2)), b))
            else:
                self.back(b, _mul(ybar, e, self.pow_minus(b, e, 1)))
            return
        if s.rows != s.cols:
            self.back(b, ir.Hadamard(_mul(e, self.pow_minus(b, e, 1)), ybar))
            return
        k = self.int_exponent(e)
        if k is None or abs(k) > 16:
            raise NotDifferentiable("a matrix power needs a small integer exponent")
        if k == 0:
            return
        if k < 0:
            self.back(ir.Power(ir.Inverse(b), ir.Num(Fraction(-k))), ybar)
            return
        terms = []
        for r in range(k):  # Y = B^k  ⇒  B̄ += Σ_r (B^r)ᵀ Ȳ (B^{k-1-r})ᵀ
            lt, rt = _mpow(b, r), _mpow(b, k - 1 - r)
            terms.append(_mul(ir.Transpose(lt) if lt is not None else None, ybar, ir.Transpose(rt) if rt is not None else None))
        self.back(b, _sum(terms))

    def b_Hadamard(self, x: ir.Hadamard, ybar: Expr) -> None:
        a, b = x.a, x.b
        sa, sb = self.scalar(a), self.scalar(b)
        if sa and not sb:
            self.back(a, ir.Frob(ybar, b))
            self.back(b, _mul(a, ybar))
        elif sb and not sa:
            self.back(a, _mul(b, ybar))
            self.back(b, ir.Frob(ybar, a))
        else:
            self.back(a, ir.Hadamard(ybar, b))
            self.back(b, ir.Hadamard(ybar, a))

    def b_HadamardDiv(self, x: ir.HadamardDiv, ybar: Expr) -> None:
        a, b = x.a, x.b
        if self.scalar(b) and not self.scalar(a):  # A ⊘ s = A / s
            self.back(a, ir.Div(ybar, b))
            if self.depends(b):
                self.back(b, ir.Neg(ir.Div(ir.Frob(ybar, a), ir.Power(b, ir.Num(Fraction(2))))))
            return
        if self.scalar(a) and not self.scalar(b):
            raise NotDifferentiable("a scalar divided element-wise by a matrix")
        self.back(a, ir.HadamardDiv(ybar, b))
        if self.depends(b):
            self.back(b, ir.Neg(ir.HadamardDiv(ir.Hadamard(ybar, a), ir.Hadamard(b, b))))

    def b_Kron(self, x: ir.Kron, ybar: Expr) -> None:
        a, b = x.a, x.b
        if self.scalar(a) or self.scalar(b):
            s, m = (a, b) if self.scalar(a) else (b, a)
            self.back(s, ir.Frob(ybar, m))
            self.back(m, _mul(s, ybar))
            return
        coef, core = _scaled(ybar)
        sa, sb = self.shape(a), self.shape(b)
        if isinstance(core, ir.Identity) and _is_square_matrix(sa) and _is_square_matrix(sb):
            # Ȳ = c I  ⇒  Ā = c tr(B) I, B̄ = c tr(A) I
            self.back(a, _mul(*coef, ir.Func("tr", b), self.ident(sa.rows)))
            self.back(b, _mul(*coef, ir.Func("tr", a), self.ident(sb.rows)))
            return
        if isinstance(core, ir.Kron) and self.st.get(core.a) == sa and self.st.get(core.b) == sb:
            # Ȳ = c P ⊗ Q  ⇒  Ā = c (Q : B) P, B̄ = c (P : A) Q
            self.back(a, _mul(*coef, ir.Frob(core.b, b), core.a))
            self.back(b, _mul(*coef, ir.Frob(core.a, a), core.b))
            return
        raise NotDifferentiable("the gradient through A ⊗ B needs a reshaping that matrix notation cannot write")

    def b_Frob(self, x: ir.Frob, ybar: Expr) -> None:
        self.back(x.a, _mul(ybar, x.b))
        self.back(x.b, _mul(ybar, x.a))

    def b_Norm(self, x: ir.Norm, ybar: Expr) -> None:
        k = self.norm_kind(x)
        if k == "2":
            self.back(x.x, ir.Div(_mul(ybar, x.x), x))
        elif k == "1":
            self.back(x.x, _mul(ybar, ir.Func("abs'", x.x)))
        else:
            raise NotDifferentiable(f"the {x.kind}-norm of a matrix has no closed-form gradient here")

    def b_Func(self, x: ir.Func, ybar: Expr) -> None:
        z, n = x.arg, x.name
        if self.scalar(z) and n in ("tr", "diag", "vec", "det"):
            self.back(z, ybar)
            return
        if n == "tr":
            self.back(z, _mul(ybar, self.ident(self.shape(z).rows)))
        elif n == "diag":
            self.back(z, ir.Func("diag" if self.st.is_vector(z) else "Diag", ybar))
        elif n == "Diag":
            self.back(z, ir.Func("diag", ybar))
        elif n == "vec":
            s = self.shape(z)
            if s.cols == 1:
                self.back(z, ybar)
            elif s.rows == 1:
                self.back(z, ir.Transpose(ybar))
            else:
                raise NotDifferentiable("the gradient through vec(X) is unvec(·), which matrix notation cannot write")
        elif n == "det" or self.abs_is_det(x):
            self.back(z, _mul(ybar, x, ir.Inverse(ir.Transpose(z))))
        elif n == "logdet":
            if self.scalar(z):
                self.back(z, ir.Div(ybar, z))
            else:
                self.back(z, _mul(ybar, ir.Inverse(ir.Transpose(z))))
        elif n == "log" and self.det_matrix(z) is not None:
            m = self.det_matrix(z)
            self.back(m, _mul(ybar, ir.Inverse(ir.Transpose(m))))
        else:
            self.back(z, self.ew_apply(x, ybar))

    def b_Opaque(self, x: ir.Opaque, ybar: Expr) -> None:
        raise NotDifferentiable(f"mcls does not model {x.text}")


def _scaled(e: Expr) -> tuple[list[Expr], Expr]:
    """Ȳ = (scalar factors) · core, looking through products and negation."""
    if isinstance(e, ir.Neg):
        c, core = _scaled(e.x)
        return [ir.Num(Fraction(-1))] + c, core
    if isinstance(e, ir.Mul) and len(e.factors) > 1:
        *head, last = e.factors
        c, core = _scaled(last)
        return list(head) + c, core
    return [], e


def gradient(f: Expr, wrt: ir.Sym, shape_fn: Any, layout: str = "denominator", simplified: bool = True) -> Expr:
    """∂f/∂X for scalar f: G with X's shape and df = G : dX ("numerator" gives Gᵀ)."""
    st = as_table(shape_fn)
    f = _prepare(f, st)
    rv = _Reverse(wrt.name, st)
    if not rv.scalar(f):
        raise NotDifferentiable("the gradient needs a scalar function; use the component-wise derivative or the Jacobian")
    xs = st.get(wrt) or st.names.get(wrt.name)
    if xs is None:
        raise NotDifferentiable(f"the shape of {wrt.name} is unknown")
    try:
        rv.back(f, _ONE)
    except RecursionError as e:
        raise NotDifferentiable("expression too deep") from e
    g = _sum(rv.out)
    if g is None:
        g = st.put(ir.Zero(), xs) if not (xs.rows == 1 and xs.cols == 1) else ir.Num(Fraction(0))
    st.put(g, xs)
    if layout == "numerator":
        g = st.put(ir.Transpose(g), Shape(xs.cols, xs.rows))
    return simplify(g, st) if simplified else g


# ---------------------------------------------------------------- component-wise, Jacobian, Hessian


def direction(wrt: ir.Sym, i: str | None, j: str | None, st: ShapeTable) -> Expr:
    """E_ij (e_i for a vector, e_iᵀ for a row, 1 for a scalar) shaped like X."""
    s = st.get(wrt) or st.names.get(wrt.name)
    if s is None:
        raise NotDifferentiable(f"the shape of {wrt.name} is unknown")
    one = sp().Integer(1)
    if s.rows == 1 and s.cols == 1:
        return ir.Num(Fraction(1))
    if s.cols == 1:
        return st.put(ir.UnitVec(i or "i"), s)
    if s.rows == 1:
        return ir.Transpose(st.put(ir.UnitVec(j or i or "j"), Shape(s.cols, one)))
    return st.put(ir.Basis(i or "i", j or "j"), s)


def component(F: Expr, wrt: ir.Sym, i: str | None, j: str | None, shape_fn: Any, simplified: bool = True) -> Expr:
    """∂F/∂X_{ij} = dF[dX := E_ij], shaped like F."""
    st = as_table(shape_fn)
    given = {id(n) for n in F.walk() if isinstance(n, ir.Differential)}  # a dX already in F is a constant
    dF = differential(F, {wrt.name}, st, simplified=False)
    e = direction(wrt, i, j, st)

    def rule(n: Expr) -> Expr | None:
        if isinstance(n, ir.Differential) and id(n) not in given and isinstance(n.of, ir.Sym) and n.of.name == wrt.name:
            return e
        return None

    out = substitute(dF, rule)
    return simplify(out, st) if simplified else out


class _Linear(_Base):
    """vec of a differential as J vec(dX), node by node."""

    def __init__(self, wrt: str, st: ShapeTable, n: Any, given: set[int]):
        super().__init__(st)
        self.wrt = wrt
        self.n = n  # number of entries of X
        self.given = given  # dX nodes that were in F: constants

    def depends(self, x: Expr) -> bool:
        if isinstance(x, ir.Differential):
            return id(x) not in self.given and isinstance(x.of, ir.Sym) and x.of.name == self.wrt
        return any(self.depends(c) for c in x.children())

    def numel(self, x: Expr) -> Any:
        s = self.shape(x)
        return s.rows * s.cols

    def vec(self, a: Expr) -> Expr:
        return a if self.st.is_vector(a) or self.scalar(a) else ir.Func("vec", a)

    def lin(self, x: Expr) -> Expr:
        m = getattr(self, "l_" + type(x).__name__, None)
        if m is None:
            raise NotDifferentiable(f"no Kronecker form for {_show(x)}")
        return m(x)

    def ident(self, n: Any) -> Expr:
        return self.put(ir.Identity(size_text(n)), Shape(n, n))  # inside ⊗ no context gives I its size

    def l_Differential(self, x: ir.Differential) -> Expr:
        return self.ident(self.n)

    def l_Neg(self, x: ir.Neg) -> Expr:
        return ir.Neg(self.lin(x.x))

    def l_Add(self, x: ir.Add) -> Expr:
        return _sum([self.lin(t) for t in x.terms if self.depends(t)])

    def l_Transpose(self, x: ir.Transpose) -> Expr:
        s = self.shape(x.x)
        if s.rows == 1 or s.cols == 1:
            return self.lin(x.x)  # vec(vᵀ) = vec(v)
        raise NotDifferentiable("this Jacobian needs the commutation matrix (a dXᵀ term)")

    def l_Mul(self, x: ir.Mul) -> Expr:
        fs = x.factors
        dep = [k for k, f in enumerate(fs) if self.depends(f)]
        if len(dep) != 1:
            raise NotDifferentiable("not linear in dX")
        k = dep[0]
        sc = [self.scalar(f) for f in fs]
        scal = [fs[m] for m in range(len(fs)) if sc[m] and m != k]
        if sc[k]:
            rest = [fs[m] for m in range(len(fs)) if m != k and not sc[m]]
            if not rest:
                return _mul(*scal, self.lin(fs[k]))
            return _mul(*scal, self.vec(_mul(*rest)), self.lin(fs[k]))
        chain = [m for m in range(len(fs)) if not sc[m]]
        pos = chain.index(k)
        left = [fs[m] for m in chain[:pos]]
        right = [fs[m] for m in chain[pos + 1 :]]
        sk = self.shape(fs[k])
        lm = _mul(*left) if left else self.ident(sk.rows)
        rm = ir.Transpose(_mul(*right)) if right else self.ident(sk.cols)
        return _mul(*scal, ir.Kron(rm, lm), self.lin(fs[k]))  # vec(L Z R) = (Rᵀ ⊗ L) vec Z

    def l_Div(self, x: ir.Div) -> Expr:
        if self.depends(x.den):
            raise NotDifferentiable("not linear in dX")
        return ir.Div(self.lin(x.num), x.den)

    def l_Hadamard(self, x: ir.Hadamard) -> Expr:
        c, v = (x.a, x.b) if self.depends(x.b) else (x.b, x.a)
        if self.depends(c):
            raise NotDifferentiable("not linear in dX")
        if self.scalar(c):
            return _mul(c, self.lin(v))
        if self.scalar(v):
            return _mul(self.vec(c), self.lin(v))
        return _mul(ir.Func("Diag", self.vec(c)), self.lin(v))  # vec(C ⊙ V) = Diag(vec C) vec V

    def l_HadamardDiv(self, x: ir.HadamardDiv) -> Expr:
        if self.depends(x.b):
            raise NotDifferentiable("not linear in dX")
        if self.scalar(x.b):
            return ir.Div(self.lin(x.a), x.b)
        return _mul(ir.Inverse(ir.Func("Diag", self.vec(x.b))), self.lin(x.a))

    def l_Frob(self, x: ir.Frob) -> Expr:
        c, v = (x.a, x.b) if self.depends(x.b) else (x.b, x.a)
        return _mul(ir.Transpose(self.vec(c)), self.lin(v))  # A : V = vec(A)ᵀ vec V

    def l_Func(self, x: ir.Func) -> Expr:
        z = x.arg
        if x.name == "vec" or self.scalar(z):
            return self.lin(z)
        if x.name == "tr":
            return _mul(ir.Transpose(ir.Func("vec", self.ident(self.shape(z).rows))), self.lin(z))
        raise NotDifferentiable(f"no Kronecker form through {x.name}")

    def l_Entry(self, x: ir.Entry) -> Expr:
        s = self.shape(x.of)
        one = sp().Integer(1)
        if x.j is None:
            e = self.put(ir.UnitVec(x.i), Shape(s.rows * s.cols, one))
            return _mul(ir.Transpose(e), self.lin(x.of))
        ei = self.put(ir.UnitVec(x.i), Shape(s.rows, one))
        ej = self.put(ir.UnitVec(x.j), Shape(s.cols, one))
        return _mul(ir.Transpose(ir.Kron(ej, ei)), self.lin(x.of))  # Z_ij = (e_j ⊗ e_i)ᵀ vec Z


def jacobian(F: Expr, wrt: ir.Sym, shape_fn: Any, simplified: bool = True) -> Expr:
    """∂ vec F / ∂ (vec X)ᵀ in Kronecker form: (rows·cols of F) × (rows·cols of X)."""
    st = as_table(shape_fn)
    xs = st.get(wrt) or st.names.get(wrt.name)
    if xs is None:
        raise NotDifferentiable(f"the shape of {wrt.name} is unknown")
    given = {id(n) for n in F.walk() if isinstance(n, ir.Differential)}
    dF = differential(F, {wrt.name}, st, simplified=True)
    lin = _Linear(wrt.name, st, xs.rows * xs.cols, given)
    fs = lin.shape(F if st.get(F) is not None else dF)
    js = Shape(fs.rows * fs.cols, xs.rows * xs.cols)
    if not lin.depends(dF):
        return st.put(ir.Zero(), js)
    try:
        j = lin.lin(dF)
    except RecursionError as e:
        raise NotDifferentiable("expression too deep") from e
    st.put(j, js)
    return simplify(j, st) if simplified else j


def hessian(f: Expr, wrt: ir.Sym, shape_fn: Any, simplified: bool = True) -> Expr:
    """∂² f / ∂ vec X ∂ (vec X)ᵀ: the Jacobian of the gradient (n×n for a vector x)."""
    st = as_table(shape_fn)
    g = gradient(f, wrt, st.without_symmetry())  # the gradient is differentiated again: keep it valid off the symmetric set
    return jacobian(g, wrt, st, simplified=simplified)


def second_differential(f: Expr, wrt: ir.Sym, shape_fn: Any, simplified: bool = True) -> Expr:
    """d²f: the differential of df with dX held constant."""
    st = as_table(shape_fn)
    d1 = differential(f, {wrt.name}, st, simplified=False)
    return differential(d1, {wrt.name}, st, simplified=simplified)


def expand_differentials(expr: Expr, shape_fn: Any, wrt: set[str] | None = None) -> Expr:
    """``d(K^{-1})`` as a paper writes it -> ``-K^{-1} dK K^{-1}``: every differential of a
    compound expression is expanded (w.r.t. ``wrt``; by default the symbols whose
    differentials appear in ``expr``, else all symbols under the ``d``)."""
    st = as_table(shape_fn)
    leaf = {n.of.name for n in expr.walk() if isinstance(n, ir.Differential) and isinstance(n.of, ir.Sym)}

    def rule(n: Expr) -> Expr | None:
        if not isinstance(n, ir.Differential) or isinstance(n.of, ir.Sym):
            return None
        if isinstance(n.of, ir.Transpose) and isinstance(n.of.x, ir.Sym):
            return ir.Transpose(ir.Differential(n.of.x))
        names = wrt if wrt is not None else (leaf or {s.name for s in n.of.walk() if isinstance(s, ir.Sym)})
        d = differential(n.of, names, st, simplified=False)
        if st.get(d) is None and st.get(n) is not None:
            st.put(d, st(n))
        return d

    return substitute(expr, rule)


# ---------------------------------------------------------------- what a paper asks for


def as_derivative(x: Expr) -> ir.Derivative | None:
    """A ``Derivative`` node, also from ``\\frac{\\partial a^\\top X b}{\\partial X}``, which the
    parser currently reads as Div(Mul(∂(a^\\top), X, b), ∂X) (adapter until parse.py does it)."""
    if isinstance(x, ir.Derivative):
        return x
    if isinstance(x, ir.Div) and isinstance(x.den, ir.Differential):
        num = x.num
        if isinstance(num, ir.Differential):
            return ir.Derivative(num.of, x.den.of, span=x.span)
        if isinstance(num, ir.Mul) and num.factors and isinstance(num.factors[0], ir.Differential):
            body = ir.Mul((num.factors[0].of,) + num.factors[1:], span=num.span)
            return ir.Derivative(body, x.den.of, span=x.span)
    return None


def derive(d: ir.Derivative, shape_fn: Any) -> Expr:
    """The derivative a paper writes: ``∂F/∂X_{ij}`` component-wise, ``∂f/∂X`` for scalar
    f (gradient), ``∂F/∂x`` for scalar x (entry-wise)."""
    st = as_table(shape_fn)
    wrt = d.wrt
    if isinstance(wrt, ir.Entry) and isinstance(wrt.of, ir.Sym):
        return component(d.f, wrt.of, wrt.i, wrt.j, st)
    if not isinstance(wrt, ir.Sym):
        raise NotDifferentiable("the derivative is taken with respect to something that is not a variable")
    if st.is_scalar(d.f):
        return gradient(d.f, wrt, st)
    if st.is_scalar(wrt) or (st.get(wrt) is None and st.names.get(wrt.name) == _scalar_shape()):
        return component(d.f, wrt, None, None, st)
    raise NotDifferentiable("a matrix-by-matrix derivative is a 4-index object: use ∂F/∂X_{ij} or the Jacobian ∂vec F/∂(vec X)ᵀ")
