"""Canonical forms that read like a paper, and the shape table calculus shares.

``simplify`` rebuilds a tree bottom-up, each node by its own rule: sums and
products flattened, numbers folded into one leading coefficient, identities and
zeros dropped, transposes pushed to the leaves (``(AB)^\\top = B^\\top A^\\top``,
``(X^{-1})^\\top = X^{-\\top}``, ``E_{ij}^\\top = E_{ji}``, symmetric symbols lose
theirs), like terms collected (``A + A = 2A``, traces up to rotation), and a
common left/right factor taken out of a sum (``AEB + AFB = A(E+F)B``). A few
basis identities make component-wise results short: ``X \\odot E_{ij} = x_{ij}
E_{ij}``, ``E_{ij}\\mathbf 1 = e_i``, ``e_i e_j^\\top = E_{ij}``,
``(u\\mathbf 1^\\top)\\odot X = \\operatorname{Diag}(u) X``,
``\\operatorname{Diag}(e_k) = E_{kk}``. Every rule is local and shrinks or keeps
the tree, and passes are capped, so the cost stays linear-ish.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any, Callable

from . import ir
from .ir import Expr
from .shapes import Shape
from .sizes import parse_size, sp

MAX_NODES = 20000  # larger trees are returned unchanged
MAX_PASSES = 4


# ---------------------------------------------------------------- shapes of nodes old and new


class ShapeTable:
    """Shape of any node: nodes the engine made and registered (``put``), nodes a
    shape checker saw (``base``, by identity), symbols by name, and structural
    inference for everything else. Leaves whose size comes from context
    (``E_{ij}``, ``e_i``, ``0``, ``I``, ``\\mathbf 1``) must be registered or checked."""

    def __init__(
        self,
        base: Callable[[Expr], Any] | None = None,
        names: dict[str, Shape] | None = None,
        sizes: Any = None,
        symmetric: frozenset[str] | set[str] = frozenset(),
        scope: Any = None,
        problems: tuple = (),
    ):
        self.base = base
        self.names = dict(names or {})
        self.sizes = sizes
        self.symmetric = frozenset(symmetric)
        self.scope = scope
        self.problems = tuple(problems)
        self._made: dict[int, tuple[Expr, Shape]] = {}

    def without_symmetry(self) -> "ShapeTable":
        """The same table (shared entries) whose simplifier ignores symmetry assumptions."""
        t = ShapeTable(self.base, self.names, self.sizes, frozenset(), self.scope, self.problems)
        t._made = self._made
        return t

    def put(self, x: Expr, s: Shape) -> Expr:
        self._made[id(x)] = (x, s)
        return x

    def get(self, x: Expr) -> Shape | None:
        hit = self._made.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        s = None
        if self.base is not None:
            try:
                s = self.base(x)
            except (KeyError, TypeError, ValueError):
                s = None
        if s is None:
            try:
                s = self._infer(x)
            except (KeyError, RecursionError):
                return None
        s = self._resolve(s)
        self._made[id(x)] = (x, s)
        return s

    def __call__(self, x: Expr) -> Shape:
        s = self.get(x)
        if s is None:
            raise KeyError(f"no shape for {type(x).__name__}")
        return s

    def is_scalar(self, x: Expr) -> bool:
        s = self.get(x)
        return s is not None and s.rows == 1 and s.cols == 1

    def is_vector(self, x: Expr) -> bool:
        s = self.get(x)
        return s is not None and s.cols == 1 and s.rows != 1

    def _resolve(self, s: Shape) -> Shape:
        if self.sizes is None:
            return s
        return Shape(self.sizes.resolve(s.rows), self.sizes.resolve(s.cols))

    # structural inference for nodes nobody checked
    def _infer(self, x: Expr) -> Shape:
        one = sp().Integer(1)
        scalar = Shape(one, one)
        t = type(x)
        if t is ir.Sym:
            s = self.names.get(x.name)
            if s is None:
                raise KeyError(x.name)
            return s
        if t in (ir.Num, ir.Entry, ir.Frob, ir.Norm):
            return scalar
        if t is ir.Ones and x.size and parse_size(x.size) is not None:
            return Shape(parse_size(x.size), one)
        if t is ir.Identity and x.size and parse_size(x.size) is not None:
            n = parse_size(x.size)
            return Shape(n, n)
        if t in (ir.Differential, ir.Neg, ir.Inverse):
            return self(x.children()[0])
        if t is ir.Transpose:
            s = self(x.x)
            return Shape(s.cols, s.rows)
        if t is ir.Add:
            for term in x.terms:
                s = self.get(term)
                if s is not None:
                    return s
            raise KeyError("sum")
        if t is ir.Mul:
            chain = [s for s in (self(f) for f in x.factors) if not (s.rows == 1 and s.cols == 1)]
            return Shape(chain[0].rows, chain[-1].cols) if chain else scalar
        if t is ir.Div:
            return self(x.num)
        if t is ir.Power:
            return self(x.base)
        if t in (ir.Hadamard, ir.HadamardDiv):
            a = self(x.a)
            return self(x.b) if a.rows == 1 and a.cols == 1 else a
        if t is ir.Kron:
            a, b = self(x.a), self(x.b)
            return Shape(a.rows * b.rows, a.cols * b.cols)
        if t is ir.Func:
            s = self(x.arg)
            n = x.name
            if n in ("tr", "det", "logdet"):
                return scalar
            if n == "abs":
                vec = s.rows == 1 or s.cols == 1
                return scalar if (not vec and s.rows == s.cols) else s
            if n == "diag":
                if s.cols == 1 and s.rows != 1:
                    return Shape(s.rows, s.rows)
                return Shape(s.rows, one)
            if n == "Diag":
                return Shape(s.rows, s.rows)
            if n == "vec":
                return Shape(s.rows * s.cols, one)
            return s
        raise KeyError(t.__name__)


def size_text(n: Any) -> str | None:
    """``m*n`` -> ``m n``: a size as a subscript (``I_{m n}``), when it reads back as the same size."""
    from .shapes import is_known

    if not is_known(n):
        return None
    t = str(n).replace("**", "^").replace("*", " ")
    return t if "^" not in t and parse_size(t) == n else None


def as_table(shape_fn: Any) -> ShapeTable:
    """Wrap any ``node -> Shape`` callable (a ``ShapeResult.get``) as a table."""
    if isinstance(shape_fn, ShapeTable):
        return shape_fn
    return ShapeTable(base=shape_fn)


# ---------------------------------------------------------------- simplify


def simplify(expr: Expr, shape_fn: Any, symmetric: set[str] | frozenset[str] | None = None, factor: bool = True) -> Expr:
    """Canonical, paper-like form of ``expr`` (see the module doc). Never raises on
    large or deep input: it returns the input unchanged instead."""
    st = as_table(shape_fn)
    sym = frozenset(symmetric) if symmetric is not None else st.symmetric
    n = 0
    for _ in expr.walk():
        n += 1
        if n > MAX_NODES:
            return expr
    out = expr
    try:
        for _ in range(MAX_PASSES):
            new = _Simp(st, sym, factor).go(out)
            if new == out:
                return new
            out = new
    except (RecursionError, KeyError, ValueError, TypeError, ZeroDivisionError):
        return expr  # simplification is optional; the input is still right
    return out


ONE = Fraction(1)


def _num(v: Fraction) -> ir.Num:
    return ir.Num(Fraction(v))


class _Simp:
    def __init__(self, st: ShapeTable, symmetric: frozenset[str], factor: bool):
        self.st = st
        self.symmetric = symmetric
        self.factor = factor
        self.memo: dict[int, tuple[Expr, Expr]] = {}

    # -- plumbing
    def go(self, x: Expr) -> Expr:
        hit = self.memo.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        m = getattr(self, "s_" + type(x).__name__, None)
        y = m(x) if m is not None else self.rebuild(x)
        if self.st.get(y) is None and self.st.get(x) is not None:
            self.st.put(y, self.st(x))
        self.memo[id(x)] = (x, y)
        return y

    def rebuild(self, x: Expr) -> Expr:
        return ir.rebuild(x, self.go)

    def shape(self, x: Expr) -> Shape:
        return self.st(x)

    def scalar(self, x: Expr) -> bool:
        return self.st.is_scalar(x)

    def zero(self, s: Shape) -> Expr:
        if s.rows == 1 and s.cols == 1:
            return self.st.put(ir.Num(Fraction(0)), s)
        return self.st.put(ir.Zero(), s)

    def is_zero(self, x: Expr) -> bool:
        return isinstance(x, ir.Zero) or (isinstance(x, ir.Num) and x.value == 0)

    def ident(self, n: Any) -> Expr:
        return self.st.put(ir.Identity(None), Shape(n, n))

    # -- coefficients: every canonical term is c · core
    def coef(self, x: Expr) -> tuple[Fraction, Expr | None]:
        if isinstance(x, ir.Num) and self.scalar(x):
            return Fraction(x.value), None
        if isinstance(x, (ir.Identity, ir.Ones)) and self.scalar(x):
            return ONE, None  # I_1 and a length-1 ones vector are the number 1
        if isinstance(x, ir.Neg):
            c, core = self.coef(x.x)
            return -c, core
        if isinstance(x, ir.Mul) and x.factors and isinstance(x.factors[0], ir.Num) and self.scalar(x.factors[0]):
            rest = x.factors[1:]
            c = Fraction(x.factors[0].value)
            if not rest:
                return c, None
            core = rest[0] if len(rest) == 1 else self.st.put(ir.Mul(rest), self.shape(x))
            return c, core
        return ONE, x

    def scale(self, c: Fraction, core: Expr | None, s: Shape | None = None) -> Expr:
        if core is None:
            return _num(c)
        if c == 0:
            return self.zero(s if s is not None else self.shape(core))
        if c == 1:
            return core
        if c == -1:
            return ir.Neg(core)
        facs = core.factors if isinstance(core, ir.Mul) else (core,)
        return ir.Mul((_num(c),) + tuple(facs))

    # -- sums
    def s_Add(self, x: ir.Add) -> Expr:
        return self.add([self.go(t) for t in x.terms], self.shape(x))

    def add(self, terms: list[Expr], s: Shape) -> Expr:
        flat: list[tuple[Fraction, Expr | None]] = []
        work = [(ONE, t) for t in terms]
        while work:
            c0, t = work.pop(0)
            if self.is_zero(t):
                continue
            c, core = self.coef(t)
            c *= c0
            if isinstance(core, ir.Add):
                work[:0] = [(c, u) for u in core.terms]
                continue
            flat.append((c, core))
        groups: dict[Any, int] = {}
        acc: list[list] = []
        for c, core in flat:
            key = _key(core)
            k = groups.get(key)
            if k is None:
                groups[key] = len(acc)
                acc.append([c, core])
            else:
                acc[k][0] += c
        kept = [(c, core) for c, core in acc if c != 0]
        if not kept:
            return self.zero(s)
        if self.factor and len(kept) > 1:
            f = self.factor_out(kept, s)
            if f is not None:
                return f
        out = [self.scale(c, core, s) for c, core in kept]
        if len(out) == 1:
            return out[0]
        return self.st.put(ir.Add(tuple(out)), s)

    def split(self, core: Expr | None) -> tuple[list[Expr], list[Expr]]:
        """(scalar factors, matrix chain) of a canonical core."""
        if core is None:
            return [], []
        facs = list(core.factors) if isinstance(core, ir.Mul) else [core]
        sc = [f for f in facs if self.scalar(f)]
        ch = [f for f in facs if not self.scalar(f)]
        return sc, ch

    def factor_out(self, kept: list[tuple[Fraction, Expr | None]], s: Shape) -> Expr | None:
        parts = [(c, *self.split(core)) for c, core in kept]
        common: list[Expr] = []
        for f in parts[0][1]:  # multiset intersection of the scalar factors
            if all(sc.count(f) > common.count(f) for _, sc, _ in parts):
                common.append(f)
        if common:  # det(M) A + det(M) B = det(M) (A + B)
            inner_terms = []
            for c, sc, ch in parts:
                rest = list(sc)
                for f in common:
                    rest.remove(f)
                inner_terms.append(self.scale(c, self.mul_core(rest + ch), s))
            return self.mul(common + [self.add(inner_terms, s)], s)
        if any(not ch for _, _, ch in parts):
            return None
        shortest = min(len(ch) for _, _, ch in parts)
        p = 0
        while p < shortest - 1 and all(ch[p] == parts[0][2][p] for _, _, ch in parts):
            p += 1
        q = 0
        while p + q < shortest - 1 and all(ch[len(ch) - 1 - q] == parts[0][2][len(parts[0][2]) - 1 - q] for _, _, ch in parts):
            q += 1
        if p == 0 and q == 0:
            return None
        sign = -1 if all(c < 0 for c, _, _ in parts) else 1  # -A E B - A F B = -A(E + F)B
        inner_terms = []
        for c, sc, ch in parts:
            mid = ch[p : len(ch) - q]
            inner_terms.append(self.scale(sign * c, self.mul_core(sc + mid)))
        first_mid = parts[0][2][p : len(parts[0][2]) - q]
        mid_shape = Shape(self.shape(first_mid[0]).rows, self.shape(first_mid[-1]).cols)
        inner = self.add(inner_terms, mid_shape)
        prefix, suffix = parts[0][2][:p], parts[0][2][len(parts[0][2]) - q :]
        out = self.mul(prefix + [inner] + suffix, s)
        return self.scale(Fraction(sign), out, s) if sign < 0 else out

    def mul_core(self, facs: list[Expr]) -> Expr | None:
        if not facs:
            return None
        if len(facs) == 1:
            return facs[0]
        return ir.Mul(tuple(facs))

    # -- products
    def s_Neg(self, x: ir.Neg) -> Expr:
        y = self.go(x.x)
        c, core = self.coef(y)
        return self.scale(-c, core, self.shape(x))

    def s_Mul(self, x: ir.Mul) -> Expr:
        return self.mul([self.go(f) for f in x.factors], self.shape(x))

    def mul(self, factors: list[Expr], s: Shape) -> Expr:
        c = ONE
        scalars: list[Expr] = []
        chain: list[Expr] = []
        nonscalar = sum(1 for f in factors if not self.scalar(f))
        work = list(factors)
        while work:
            f = work.pop(0)
            if self.is_zero(f):
                return self.zero(s)
            k, core = self.coef(f)
            c *= k
            if core is None:
                continue
            if isinstance(core, ir.Mul):
                inner_scalar = self.scalar(core)
                loose = all(self.scalar(g) for g in core.factors)
                # `A (x^T y) B`: a scalar product of vectors stays grouped inside a matrix chain
                if not inner_scalar or loose or nonscalar == 0:
                    work[:0] = list(core.factors)
                    continue
            if self.scalar(core):
                scalars.append(core)
            else:
                chain.append(core)
        if c == 0:
            return self.zero(s)
        scalars, c = self.cancel(scalars, c)
        chain = self.chain(chain, s)
        facs = scalars + chain
        if not facs:
            return _num(c)
        core = facs[0] if len(facs) == 1 else self.st.put(ir.Mul(tuple(facs)), s)
        return self.scale(c, core, s)

    def cancel(self, scalars: list[Expr], c: Fraction) -> tuple[list[Expr], Fraction]:
        """(a / s) · s = a and s^{-1} · s = 1 among scalar factors."""
        k = 0
        while k < len(scalars):
            f = scalars[k]
            den = f.den if isinstance(f, ir.Div) else f.x if isinstance(f, ir.Inverse) else None
            hit = next((m for m, g in enumerate(scalars) if m != k and g == den), None) if den is not None else None
            if hit is None:
                k += 1
                continue
            num = f.num if isinstance(f, ir.Div) else None
            rest = [g for m, g in enumerate(scalars) if m not in (k, hit)]
            if num is not None:
                nc, ncore = self.coef(num)
                c *= nc
                if ncore is not None:
                    rest.insert(0, ncore)
            scalars, k = rest, 0
        return scalars, c

    def chain(self, ch: list[Expr], s: Shape) -> list[Expr]:
        changed = True
        while changed and len(ch) > 1:
            changed = False
            ids = [f for f in ch if not isinstance(f, ir.Identity)]
            if len(ids) < len(ch):
                ch = ids or ch[:1]
                changed = True
                continue
            for k in range(len(ch) - 1):
                a, b = ch[k], ch[k + 1]
                rep = self.pair(a, b)
                if rep is not None:
                    ch = ch[:k] + rep + ch[k + 2 :]
                    changed = True
                    break
            else:
                merged = self.merge_powers(ch)
                if merged is not None:
                    ch = merged
                    changed = True
        return ch

    def base_exp(self, f: Expr) -> tuple[Expr, int]:
        if isinstance(f, ir.Inverse):
            b, k = self.base_exp(f.x)
            return b, -k
        if isinstance(f, ir.Power) and isinstance(f.exp, ir.Num) and f.exp.value.denominator == 1 and self.square(f.base):
            b, k = self.base_exp(f.base)
            return b, k * int(f.exp.value)
        return f, 1

    def merge_powers(self, ch: list[Expr]) -> list[Expr] | None:
        """X X = X^2, X^{-1} X^2 = X, (X^\top)^{-1} X^\top = I: adjacent powers of one base."""
        runs: list[list] = []
        for f in ch:
            b, k = self.base_exp(f)
            if runs and runs[-1][0] == b:
                runs[-1][1] += k
                runs[-1][2] = True
            else:
                runs.append([b, k, False])
        if not any(r[2] for r in runs):
            return None
        out: list[Expr] = []
        for b, k, merged in runs:
            if k == 0:
                continue
            if k == 1:
                out.append(b)
            elif k == -1:
                out.append(ir.Inverse(b))
            else:
                out.append(ir.Power(b, _num(Fraction(k))))
        return out or [self.ident(self.shape(ch[0]).rows)]

    def pair(self, a: Expr, b: Expr) -> list[Expr] | None:
        """Adjacent factors that shorten: X^{-1}X = I, E_{ij}\\mathbf 1 = e_i, e_i e_j^\\top = E_{ij}."""
        if (isinstance(a, ir.Inverse) and a.x == b) or (isinstance(b, ir.Inverse) and b.x == a):
            return [self.ident(self.shape(a).rows)]
        if isinstance(a, ir.Basis) and isinstance(b, ir.Ones):
            return [self.st.put(ir.UnitVec(a.i), Shape(self.shape(a).rows, sp().Integer(1)))]
        if isinstance(a, ir.Transpose) and isinstance(a.x, ir.Ones) and isinstance(b, ir.Basis):
            e = self.st.put(ir.UnitVec(b.j), Shape(self.shape(b).cols, sp().Integer(1)))
            return [ir.Transpose(e)]
        if isinstance(a, ir.UnitVec) and isinstance(b, ir.Transpose) and isinstance(b.x, ir.UnitVec) and self.st.is_vector(a):
            return [self.st.put(ir.Basis(a.i, b.x.i), Shape(self.shape(a).rows, self.shape(b).cols))]
        return None

    def s_Div(self, x: ir.Div) -> Expr:
        num, den = self.go(x.num), self.go(x.den)
        s = self.shape(x)
        if self.is_zero(num):
            return self.zero(s)
        dc, dcore = self.coef(den)
        if dc == 0:
            return replace(x, num=num, den=den)
        nc, ncore = self.coef(num)
        c = nc / dc
        if dcore is None:
            return self.scale(c, ncore, s)
        if ncore is None:
            return ir.Div(_num(c), dcore)
        return self.scale(c, replace(x, num=ncore, den=dcore), s)

    # -- transposes, pushed to the leaves
    def s_Transpose(self, x: ir.Transpose) -> Expr:
        return self.transpose(self.go(x.x))

    def transpose(self, y: Expr) -> Expr:
        s = self.shape(y)
        ts = Shape(s.cols, s.rows)
        if s.rows == 1 and s.cols == 1:
            return y
        if isinstance(y, ir.Transpose):
            return y.x
        c, core = self.coef(y)
        if c != 1 and core is not None:
            return self.scale(c, self.transpose(core), ts)
        if isinstance(y, ir.Mul):
            return self.mul([self.transpose(f) for f in reversed(y.factors)], ts)
        if isinstance(y, ir.Add):
            # (x - μ)ᵀ stays; (B + Bᵀ)ᵀ and (XB + BX)ᵀ open up
            terms = [self.transpose(t) for t in y.terms]
            if all(isinstance(self.coef(t)[1], ir.Transpose) for t in terms):
                return ir.Transpose(y)
            return self.add(terms, ts)
        if isinstance(y, ir.Inverse):
            return self.inverse(self.transpose(y.x), ts)
        if isinstance(y, ir.Sym) and y.name in self.symmetric:
            return y
        if isinstance(y, ir.Identity):
            return y
        if isinstance(y, ir.Zero):
            return self.zero(ts)
        if isinstance(y, ir.Basis):
            return self.st.put(ir.Basis(y.j, y.i), ts)
        if isinstance(y, (ir.Hadamard, ir.HadamardDiv, ir.Kron)):
            return type(y)(self.transpose(y.a), self.transpose(y.b))
        if isinstance(y, ir.Div):
            return ir.Div(self.transpose(y.num), y.den)
        if isinstance(y, ir.Power) and s.rows == s.cols:
            return ir.Power(self.transpose(y.base), y.exp)
        if isinstance(y, ir.Func):
            if y.name == "Diag":
                return y
            if y.name.rstrip("'") in ir.ELEMENTWISE_FUNCS or y.name.rstrip("'") == "abs" and not self.scalar(y):
                return ir.Func(y.name, self.transpose(y.arg), style=y.style)
        return ir.Transpose(y)

    # -- other nodes
    def s_Inverse(self, x: ir.Inverse) -> Expr:
        y = self.go(x.x)
        out = self.inverse(y, self.shape(x))
        if isinstance(out, ir.Inverse) and out.x is x.x:
            return x
        return out

    def inverse(self, y: Expr, s: Shape) -> Expr:
        if isinstance(y, ir.Inverse):
            return y.x
        if isinstance(y, ir.Identity):
            return y
        c, core = self.coef(y)
        if core is None:
            return _num(1 / c) if c != 0 else ir.Inverse(y)
        if c != 1:
            return self.scale(1 / c, self.inverse(core, s), s)
        if isinstance(y, ir.Mul) and all(self.scalar(f) or self.square(f) for f in y.factors):
            # (ABC)^{-1} = C^{-1} B^{-1} A^{-1} when every factor is square
            return self.mul([self.inverse(f, self.shape(f)) for f in reversed(y.factors)], s)
        return ir.Inverse(y)

    def square(self, x: Expr) -> bool:
        s = self.shape(x)
        return s.rows == s.cols
    def s_Power(self, x: ir.Power) -> Expr:
        b, e = self.go(x.base), self.go(x.exp)
        if isinstance(e, ir.Num):
            if e.value == 1:
                return b
            if e.value == 0:
                return _num(ONE) if self.scalar(b) else self.ident(self.shape(b).rows)
            if isinstance(b, ir.Num) and e.value.denominator == 1:
                return _num(Fraction(b.value) ** int(e.value))
        if b is x.base and e is x.exp:
            return x
        return replace(x, base=b, exp=e)

    def s_Hadamard(self, x: ir.Hadamard) -> Expr:
        a, b = self.go(x.a), self.go(x.b)
        s = self.shape(x)
        if self.is_zero(a) or self.is_zero(b):
            return self.zero(s)
        if self.scalar(a) or self.scalar(b):
            return self.mul([a, b], s)
        ca, a = self.coef(a)
        cb, b = self.coef(b)
        core = self.hadamard(a, b, s)
        return self.scale(ca * cb, core, s)

    def hadamard(self, a: Expr, b: Expr, s: Shape) -> Expr:
        for m, e in ((a, b), (b, a)):
            if isinstance(e, ir.Basis):
                entry = _entry_of(m, e.i, e.j)
                if entry is not None:  # X ⊙ E_ij = x_ij E_ij
                    return self.mul([entry, e], s)
            d = self.outer_with_ones(e, m, s)
            if d is not None:
                return d
        return ir.Hadamard(a, b)

    def outer_with_ones(self, e: Expr, m: Expr, s: Shape) -> Expr | None:
        """(u 1^T) ⊙ M = Diag(u) M and (1 v^T) ⊙ M = M Diag(v)."""
        if not (isinstance(e, ir.Mul) and len(e.factors) == 2):
            return None
        u, w = e.factors
        if isinstance(w, ir.Transpose) and isinstance(w.x, ir.Ones) and self.st.is_vector(u):
            return self.mul([self.diag_of(u), m], s)
        if isinstance(u, ir.Ones) and isinstance(w, ir.Transpose) and self.st.is_vector(w.x):
            return self.mul([m, self.diag_of(w.x)], s)
        return None

    def diag_of(self, u: Expr) -> Expr:
        n = self.shape(u).rows
        if isinstance(u, ir.UnitVec):
            return self.st.put(ir.Basis(u.i, u.i), Shape(n, n))
        return self.st.put(ir.Func("Diag", u), Shape(n, n))

    def s_HadamardDiv(self, x: ir.HadamardDiv) -> Expr:
        a, b = self.go(x.a), self.go(x.b)
        if self.is_zero(a):
            return self.zero(self.shape(x))
        ca, a2 = self.coef(a)
        if a2 is not None and ca != 1:
            return self.scale(ca, ir.HadamardDiv(a2, b), self.shape(x))
        return replace(x, a=a, b=b) if (a is not x.a or b is not x.b) else x

    def s_Kron(self, x: ir.Kron) -> Expr:
        a, b = self.go(x.a), self.go(x.b)
        s = self.shape(x)
        if self.is_zero(a) or self.is_zero(b):
            return self.zero(s)
        if isinstance(a, ir.Identity) and isinstance(b, ir.Identity):  # I_m ⊗ I_n = I_{mn}
            size = size_text(s.rows) if a.size and b.size else None
            return self.st.put(ir.Identity(size), Shape(s.rows, s.rows))
        if self.scalar(a) or self.scalar(b):
            return self.mul([a, b], s)
        ca, a = self.coef(a)
        cb, b = self.coef(b)
        return self.scale(ca * cb, ir.Kron(a, b), s)

    def s_Frob(self, x: ir.Frob) -> Expr:
        a, b = self.go(x.a), self.go(x.b)
        s = self.shape(x)
        if self.is_zero(a) or self.is_zero(b):
            return self.zero(s)
        ca, a = self.coef(a)
        cb, b = self.coef(b)
        if a is None or b is None:  # a number: the product of 1×1 values
            return self.mul([_num(ca * cb)] + [f for f in (a, b) if f is not None], s)
        for m, e in ((a, b), (b, a)):
            if isinstance(e, ir.Basis):
                entry = _entry_of(m, e.i, e.j)
                if entry is not None:
                    return self.scale(ca * cb, entry, s)
        if self.scalar(a) and self.scalar(b):
            return self.mul([_num(ca * cb), a, b], s)
        if self.st.is_vector(a):
            return self.mul([_num(ca * cb), self.transpose(a), b], s)
        return self.scale(ca * cb, ir.Frob(a, b), s)

    def s_Func(self, x: ir.Func) -> Expr:
        arg = self.go(x.arg)
        s = self.shape(x)
        n = x.name
        if n in ("tr", "vec", "diag", "Diag"):
            if self.is_zero(arg):
                return self.zero(s)
            if n in ("tr", "vec", "diag") and self.scalar(arg):
                return arg
            c, core = self.coef(arg)
            if c != 1 and core is not None:
                inner = self.s_Func(ir.Func(n, core, style=x.style))
                return self.scale(c, inner, s)
            if n == "tr" and isinstance(arg, ir.Transpose):
                arg = arg.x
            if n == "Diag" and isinstance(arg, ir.UnitVec):
                return self.diag_of(arg)
        if arg is x.arg:
            return x
        return ir.Func(n, arg, style=x.style, span=x.span)

    def s_Differential(self, x: ir.Differential) -> Expr:
        if isinstance(x.of, ir.Transpose):  # d(Xᵀ) = (dX)ᵀ
            return self.transpose(ir.Differential(self.go(x.of.x)))
        return x

    def s_Entry(self, x: ir.Entry) -> Expr:
        of = self.go(x.of)
        if isinstance(of, ir.Transpose) and x.j is not None:
            return ir.Entry(of.x, x.j, x.i, span=x.span)
        if isinstance(of, ir.Basis) and (of.i, of.j) == (x.i, x.j):
            return _num(ONE)  # (E_ij)_ij = 1; other index pairs are a Kronecker delta, kept
        if isinstance(of, ir.UnitVec) and x.j is None and of.i == x.i:
            return _num(ONE)
        return x if of is x.of else replace(x, of=of)

    def s_Norm(self, x: ir.Norm) -> Expr:
        y = self.go(x.x)
        c, core = self.coef(y)
        if core is not None and c != 1:
            return self.scale(abs(c), replace(x, x=core), self.shape(x))
        return x if y is x.x else replace(x, x=y)


def _entry_of(m: Expr, i: str, j: str) -> Expr | None:
    if isinstance(m, ir.Sym):
        return ir.Entry(m, i, j)
    if isinstance(m, ir.Transpose) and isinstance(m.x, ir.Sym):
        return ir.Entry(m.x, j, i)
    return None


def _key(core: Expr | None) -> Any:
    """Grouping key for like terms: structural, with tr(ABC) = tr(BCA) and A:B = B:A."""
    if core is None:
        return None
    if isinstance(core, ir.Func) and core.name == "tr" and isinstance(core.arg, ir.Mul) and len(core.arg.factors) <= 8:
        fs = core.arg.factors
        rots = [fs[k:] + fs[:k] for k in range(len(fs))]
        return ("tr", min(rots, key=repr))
    if isinstance(core, ir.Frob):
        return ("frob", frozenset((core.a, core.b)))
    return core
