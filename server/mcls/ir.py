"""The expression tree (IR): small frozen dataclasses.

Every node carries ``span``: (start, end) offsets in the *document* text (or
``None`` for nodes the engine synthesised). ``span`` is excluded from equality
and hashing, so two trees are equal when their structure is equal: results can
be cached by structure and compared in tests regardless of where they came from.

Scalars, vectors and matrices share one set of nodes; the shape stage tells them
apart. A vector is an n×1 matrix, a scalar is 1×1.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Iterator

Span = tuple[int, int]


@dataclass(frozen=True)
class Expr:
    span: Span | None = field(default=None, compare=False, repr=False, kw_only=True)

    def children(self) -> tuple["Expr", ...]:
        names = _FIELDS.get(type(self))
        if names is None:  # field names per class, computed once (this is a hot path)
            names = _FIELDS[type(self)] = tuple(k for k in self.__dataclass_fields__ if k != "span")
        out: list[Expr] = []
        for k in names:
            v = getattr(self, k)
            if isinstance(v, Expr):
                out.append(v)
            elif isinstance(v, tuple):
                out.extend(e for e in v if isinstance(e, Expr))
        return tuple(out)

    def walk(self) -> Iterator["Expr"]:
        """Pre-order traversal."""
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children()))

    def at(self, span: Span | None) -> "Expr":
        return replace(self, span=span)


_FIELDS: dict[type, tuple[str, ...]] = {}


def rebuild(x: Expr, go) -> Expr:
    """``x`` with ``go`` applied to each child; ``x`` itself when no child changed
    (the one structural map the resolver, the calculus and the simplifier share)."""
    changes = {}
    for k in x.__dataclass_fields__:
        if k == "span":
            continue
        v = getattr(x, k)
        if isinstance(v, Expr):
            nv = go(v)
            if nv is not v:
                changes[k] = nv
        elif isinstance(v, tuple) and v and all(isinstance(e, Expr) for e in v):
            nv = tuple(go(e) for e in v)
            if any(a is not b for a, b in zip(nv, v)):
                changes[k] = nv
    return replace(x, **changes) if changes else x


def _as_exprs(value) -> tuple[Expr, ...]:
    if isinstance(value, Expr):
        return (value,)
    if isinstance(value, tuple):
        return tuple(v for v in value if isinstance(v, Expr))
    return ()


# ---------------------------------------------------------------- leaves


@dataclass(frozen=True)
class Sym(Expr):
    """A named quantity. ``name`` is the canonical LaTeX, font included:
    ``X``, ``\\mathbf{X}``, ``\\Sigma``, ``W_{1}`` (subscripted names that the
    scope stage decided are names, not entries)."""

    name: str


@dataclass(frozen=True)
class Num(Expr):
    value: Fraction


@dataclass(frozen=True)
class Indexed(Expr):
    """``base_{index}`` as written, before the scope stage decides whether it is
    an entry (``X_{ij}``), a slice (``X_{:,j}``) or a name (``W_1``).
    ``index`` is the subscript's canonical text (``ij``, ``i,j``, ``1``)."""

    base: Expr
    index: str


@dataclass(frozen=True)
class Entry(Expr):
    """Entry ``X_{ij}`` (or ``x_i`` of a vector): a scalar."""

    of: Expr
    i: str
    j: str | None = None


@dataclass(frozen=True)
class Basis(Expr):
    """Single-entry matrix ``E_{ij}``; its shape comes from context."""

    i: str
    j: str


@dataclass(frozen=True)
class UnitVec(Expr):
    """Standard basis vector ``e_i``; its length comes from context."""

    i: str


@dataclass(frozen=True)
class Ones(Expr):
    """``\\mathbf{1}_p``: a column of ones; ``size`` None means from context."""

    size: str | None = None


@dataclass(frozen=True)
class Identity(Expr):
    size: str | None = None


@dataclass(frozen=True)
class Zero(Expr):
    """The zero matrix/vector/scalar, shape from context."""


@dataclass(frozen=True)
class Differential(Expr):
    """``dX``: the differential of ``of``."""

    of: Expr


@dataclass(frozen=True)
class Opaque(Expr):
    """Something we read but do not model (``\\mathbb{E}[...]``, unknown macro)."""

    text: str
    args: tuple[Expr, ...] = ()


# ---------------------------------------------------------------- operators


@dataclass(frozen=True)
class Add(Expr):
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Neg(Expr):
    x: Expr


@dataclass(frozen=True)
class Mul(Expr):
    """Juxtaposition / ``\\cdot``: matrix product, scalars scale."""

    factors: tuple[Expr, ...]


@dataclass(frozen=True)
class Div(Expr):
    """``\\frac{a}{b}`` or ``a/b`` with a scalar denominator."""

    num: Expr
    den: Expr


@dataclass(frozen=True)
class Transpose(Expr):
    x: Expr


@dataclass(frozen=True)
class Inverse(Expr):
    x: Expr


@dataclass(frozen=True)
class Power(Expr):
    """``x^k``: scalar power, or matrix power for a square matrix and integer k."""

    base: Expr
    exp: Expr


@dataclass(frozen=True)
class Hadamard(Expr):
    a: Expr
    b: Expr


@dataclass(frozen=True)
class HadamardDiv(Expr):
    """Element-wise division ``A \\oslash B``."""

    a: Expr
    b: Expr


@dataclass(frozen=True)
class Kron(Expr):
    a: Expr
    b: Expr


@dataclass(frozen=True)
class Frob(Expr):
    """Frobenius product ``A:B`` = ``\\langle A, B\\rangle`` = tr(AᵀB)."""

    a: Expr
    b: Expr


# Function names understood by shapes/calculus/render. ``Func.name`` is one of these.
MATRIX_FUNCS = {
    "tr",  # trace
    "det",
    "logdet",  # log det X, also written log|X|
    "diag",  # matrix -> vector of its diagonal
    "Diag",  # vector -> diagonal matrix
    "vec",
    "abs",  # |x| scalar, element-wise
}
ELEMENTWISE_FUNCS = {"exp", "log", "sigma", "tanh", "sin", "cos", "sqrt", "relu", "softplus"}


@dataclass(frozen=True)
class Func(Expr):
    """``\\operatorname{tr}(X)``, ``\\det X``, ``\\exp(X)`` (element-wise), ...
    ``style`` remembers how the author wrote it (``\\operatorname{Tr}``) for rendering."""

    name: str
    arg: Expr
    style: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Norm(Expr):
    """``\\|x\\|_2``, ``\\|X\\|_F``; kind ``"2"``, ``"F"``, ``"1"`` or None (2 for vectors, F for matrices)."""

    x: Expr
    kind: str | None = None


@dataclass(frozen=True)
class Derivative(Expr):
    """``\\frac{\\partial f}{\\partial X}``, ``\\nabla_X f``, ``\\frac{\\partial M}{\\partial X_{ij}}``."""

    f: Expr
    wrt: Expr


# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class Space(Expr):
    """``\\mathbb{R}^{n\\times p}``: sizes as canonical text (``n``, ``n+1``); cols None for vectors."""

    rows: str | None
    cols: str | None
    field_: str = "R"


@dataclass(frozen=True)
class Chain(Expr):
    """A relation chain ``a = b = c`` or a lone expression (``ops`` empty).
    ``ops`` are ``=``, ``\\in``, ``:=``, ``\\approx``, ``\\succ``, ``\\succeq``, ``\\ne``, ``\\le``, ``<`` ...;
    ``parts`` has one more element than ``ops``. Declarations ``X, Y \\in \\mathbb{R}^{n\\times p}``
    are chains whose first part is a ``Tuple`` and whose op is ``\\in``."""

    parts: tuple[Expr, ...]
    ops: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tuple(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Math(Expr):
    """All statements of one math region (align rows split at ``\\\\``)."""

    statements: tuple[Chain, ...]
