"""Declarations and conventions -> a symbol table; names resolved in the IR.

A declaration is ``X \\in \\mathbb{R}^{n\\times p}`` (also ``X, Y \\in …``,
``x \\in \\mathbb{R}^n``, ``\\lambda \\in \\mathbb{R}``, ``\\mathcal{M}_{n,p}``),
or prose such as "let $X$ be an $n\\times p$ matrix". Conventions: ``E_{ij}``
(single-entry matrix), ``e_i`` (basis vector), ``I``/``I_n``, ``\\mathbf{1}_p``,
``0`` -- unless the document declares those names itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from . import ir
from .ir import Expr
from .sizes import Sizes, parse_size, sp

Span = tuple[int, int]

ASSUMPTION_WORDS = {
    "symmetric": "symmetric", "spd": "spd", "positive definite": "spd", "positive-definite": "spd",
    "invertible": "invertible", "nonsingular": "invertible", "non-singular": "invertible",
    "orthogonal": "orthogonal", "diagonal": "diagonal", "constant": "constant",
}


@dataclass(frozen=True)
class Decl:
    name: str
    rows: Any  # sympy expression; 1 for scalars
    cols: Any
    span: Span
    shape_text: str  # as the document wrote it, e.g. "n \\times p"
    kind: str = "declared"  # declared | prose | defined
    assumptions: frozenset[str] = frozenset()
    path: str | None = None


@dataclass
class Scope:
    decls: dict[str, Decl] = field(default_factory=dict)
    sizes: Sizes = field(default_factory=Sizes)
    size_names: set[str] = field(default_factory=set)
    assumptions: dict[str, set[str]] = field(default_factory=dict)
    redeclared: list[tuple[Decl, Decl]] = field(default_factory=list)

    def declare(self, d: Decl) -> None:
        old = self.decls.get(d.name)
        if old is not None:
            if old.kind == "defined" and d.kind != "defined":
                self.decls[d.name] = d
                return
            same = self.sizes.unify(old.rows, d.rows) is not False and self.sizes.unify(old.cols, d.cols) is not False
            if not same and d.kind != "defined":
                self.redeclared.append((old, d))
            return
        self.decls[d.name] = d
        for s in (d.rows, d.cols):
            for f in getattr(s, "free_symbols", ()):
                self.size_names.add(f.name)

    def copy(self) -> "Scope":
        return Scope(dict(self.decls), self.sizes, set(self.size_names), {k: set(v) for k, v in self.assumptions.items()}, list(self.redeclared))

    def assumptions_of(self, name: str) -> set[str]:
        out = set(self.assumptions.get(name, set()))
        d = self.decls.get(name)
        if d:
            out |= set(d.assumptions)
        return out


# ------------------------------------------------------------------ declarations from math


def symbol_name(x: Expr) -> str | None:
    if isinstance(x, ir.Sym):
        return x.name
    if isinstance(x, ir.Indexed) and isinstance(x.base, ir.Sym):
        return f"{x.base.name}_{{{x.index}}}"
    return None


def declarations_in(chain: ir.Chain, path: str | None = None) -> list[Decl]:
    """``X \\in \\mathbb{R}^{n\\times p}`` and friends found in one statement."""
    out: list[Decl] = []
    for k, op in enumerate(chain.ops):
        if op != "\\in":
            continue
        lhs, rhs = chain.parts[k], chain.parts[k + 1]
        shape = _space_shape(rhs)
        if shape is None:
            continue
        rows, cols, text = shape
        names = lhs.items if isinstance(lhs, ir.Tuple) else (lhs,)
        for n in names:
            name = symbol_name(n)
            if name is None or n.span is None:
                continue
            out.append(Decl(name, rows, cols, n.span, text, path=path))
    return out


def _space_shape(x: Expr):
    one = sp().Integer(1)
    if isinstance(x, ir.Space):
        if x.rows is None:
            return (one, one, "scalar")
        r = parse_size(x.rows)
        if r is None:
            return None
        if x.cols is None:
            return (r, one, x.rows)
        c = parse_size(x.cols)
        if c is None:
            return None
        return (r, c, f"{x.rows}\\times {x.cols}")
    if isinstance(x, ir.Opaque) and x.text.startswith("field:"):
        return (one, one, "scalar")
    return None


def size_equalities(chain: ir.Chain, scope: Scope) -> None:
    """``m = n`` between declared size symbols merges them."""
    for k, op in enumerate(chain.ops):
        if op != "=":
            continue
        a, b = chain.parts[k], chain.parts[k + 1]
        if isinstance(a, ir.Sym) and isinstance(b, (ir.Sym, ir.Num)) and a.name in scope.size_names:
            if isinstance(b, ir.Sym) and b.name not in scope.size_names:
                continue
            if isinstance(b, ir.Sym) and b.name in scope.decls:
                continue
            if a.name in scope.decls:
                continue
            scope.sizes.merge_symbols(parse_size(a.name), parse_size(b.name) if isinstance(b, ir.Sym) else sp().Integer(int(b.value)))


def assumption_statements(chain: ir.Chain, scope: Scope) -> None:
    """``\\Sigma \\succ 0`` (SPD), ``A = A^\\top`` (symmetric)."""
    for k, op in enumerate(chain.ops):
        a, b = chain.parts[k], chain.parts[k + 1]
        name = symbol_name(a)
        if name is None:
            continue
        if op == "\\succ" and isinstance(b, (ir.Num, ir.Zero)):
            scope.assumptions.setdefault(name, set()).add("spd")
        elif op == "\\succeq" and isinstance(b, (ir.Num, ir.Zero)):
            scope.assumptions.setdefault(name, set()).add("psd")
        elif op == "=" and isinstance(b, ir.Transpose) and symbol_name(b.x) == name:
            scope.assumptions.setdefault(name, set()).add("symmetric")


# ------------------------------------------------------------------ prose declarations

_PROSE = [
    # "let $X$ be an $n \times p$ matrix", "$A$ is $n\times n$", "X is an $n×m$ matrix"
    re.compile(r"^\s*(?:is|be|denotes?|are)\s+(?:an?\s+|the\s+)?(?:(?:real|given|fixed|constant|square|symmetric|orthogonal|diagonal|invertible|positive[- ]definite)\s+)*$", re.I),
]
_VECTOR_OF_LENGTH = re.compile(r"^\s*(?:is|be)\s+an?\s+(?:\w+\s+)?(?:column\s+)?vector\s+(?:of\s+(?:length|size|dimension)|in)\s+$", re.I)
_SCALAR = re.compile(r"^\s*(?:is|be)\s+an?\s+(?:\w+\s+)?(?:scalar|real number|number)\b", re.I)
_ASSUME = re.compile(r"^\s*(?:is|be|are)\s+(?:an?\s+)?(?:(?:real|square|given)\s+)*(symmetric|positive[- ]definite|invertible|non-?singular|orthogonal|diagonal|constant)\b", re.I)


def _abs(span: Span, region) -> Span:
    return (span[0] + region.start, span[1] + region.start)


def prose_declarations(text: str, regions, parsed) -> tuple[list[Decl], dict[str, set[str]]]:
    """Read shapes and assumptions stated in prose between math regions.
    ``parsed[k]`` has spans relative to ``regions[k].start``; returned spans are absolute."""
    decls: list[Decl] = []
    assumptions: dict[str, set[str]] = {}
    n = len(regions)
    for k in range(n):
        pm = parsed[k]
        if pm is None or len(pm.math.statements) != 1:
            continue
        st = pm.math.statements[0]
        if st.ops or not isinstance(st.parts[0], (ir.Sym, ir.Indexed)):
            continue
        name = symbol_name(st.parts[0])
        if name is None or st.parts[0].span is None:
            continue
        after_start = regions[k].outer_end
        nxt = regions[k + 1] if k + 1 < n else None
        gap = text[after_start : nxt.outer_start if nxt else min(len(text), after_start + 200)]
        gap_short = gap[:160]
        m = _ASSUME.match(gap_short)
        if m:
            word = m.group(1).lower().replace("-", " ")
            kind = ASSUMPTION_WORDS.get(word, ASSUMPTION_WORDS.get(word.replace(" ", "-"), None))
            if word.startswith("non"):
                kind = "invertible"
            if kind:
                assumptions.setdefault(name, set()).add(kind)
        if _SCALAR.match(gap_short):
            one = sp().Integer(1)
            decls.append(Decl(name, one, one, _abs(st.parts[0].span, regions[k]), "scalar", kind="prose"))
            continue
        if nxt is None or len(gap) > 80 or parsed[k + 1] is None:
            continue
        size_stmt = parsed[k + 1].math.statements
        if len(size_stmt) != 1:
            continue
        size_expr = size_stmt[0]
        if _VECTOR_OF_LENGTH.match(gap):
            r = parse_size(regions[k + 1].text)
            if r is not None:
                decls.append(Decl(name, r, sp().Integer(1), _abs(st.parts[0].span, regions[k]), regions[k + 1].text.strip(), kind="prose"))
            continue
        if _PROSE[0].match(gap) and not size_expr.ops:
            raw = regions[k + 1].text
            parts = re.split(r"\\times|×", raw)
            if len(parts) == 2:
                r, c = parse_size(parts[0]), parse_size(parts[1])
                if r is not None and c is not None:
                    decls.append(Decl(name, r, c, _abs(st.parts[0].span, regions[k]), raw.strip(), kind="prose"))
    return decls, assumptions


# ------------------------------------------------------------------ resolution of names


_IDENTITY = {"I", "\\mathbf{I}", "\\mathbb{I}", "\\bm{I}", "\\boldsymbol{I}", "\\mathrm{I}", "\\mathbf{Id}", "\\mathrm{Id}"}
_BASIS_MAT = {"E", "\\mathbf{E}", "\\bm{E}"}
_BASIS_VEC = {"e", "\\mathbf{e}", "\\bm{e}", "\\boldsymbol{e}", "\\mathbf{u}"}


def split_index(index: str) -> list[str]:
    """``ij`` -> [i, j]; ``i,j`` -> [i, j]; ``{k}{l}`` -> [k, l]; ``kk`` -> [k, k]; ``i+1,j``."""
    idx = index.strip()
    if "," in idx:
        return [p.strip("{}") for p in idx.split(",")]
    toks = re.findall(r"\\[A-Za-z]+|\{[^{}]*\}|[A-Za-z0-9]", idx)
    return [t.strip("{}") for t in toks]


def resolve(x: Expr, scope: Scope) -> Expr:
    """Decide what names mean: entries, basis matrices, identities, names with subscripts."""
    return _Resolver(scope).go(x)


class _Resolver:
    def __init__(self, scope: Scope):
        self.scope = scope

    def go(self, x: Expr) -> Expr:
        m = getattr(self, "r_" + type(x).__name__, None)
        if m is not None:
            return m(x)
        return self._rebuild(x)

    def _rebuild(self, x: Expr) -> Expr:
        changes = {}
        for k in x.__dataclass_fields__:
            if k == "span":
                continue
            v = getattr(x, k)
            if isinstance(v, Expr):
                nv = self.go(v)
                if nv is not v:
                    changes[k] = nv
            elif isinstance(v, tuple) and v and all(isinstance(e, Expr) for e in v):
                nv = tuple(self.go(e) for e in v)
                if any(a is not b for a, b in zip(nv, v)):
                    changes[k] = nv
        if not changes:
            return x
        y = replace(x, **changes)
        if getattr(x, "_paren", False):
            object.__setattr__(y, "_paren", True)
        return y

    def declared(self, name: str) -> Decl | None:
        return self.scope.decls.get(name)

    def r_Sym(self, x: ir.Sym) -> Expr:
        if x.name in _IDENTITY and not self.declared(x.name):
            return ir.Identity(None, span=x.span)
        return x

    def r_Indexed(self, x: ir.Indexed) -> Expr:
        base = x.base
        if not isinstance(base, ir.Sym):
            b = self.go(base)
            if isinstance(b, ir.Identity):
                return ir.Identity(x.index, span=x.span)
            return ir.Indexed(b, x.index, span=x.span)
        full = f"{base.name}_{{{x.index}}}"
        if self.declared(full):
            return ir.Sym(full, span=x.span)
        idx = split_index(x.index)
        d = self.declared(base.name)
        if d is None:
            if base.name in _IDENTITY:
                return ir.Identity(x.index, span=x.span)
            if base.name in _BASIS_MAT and len(idx) == 2:
                return ir.Basis(idx[0], idx[1], span=x.span)
            if base.name in _BASIS_VEC and len(idx) == 1:
                return ir.UnitVec(idx[0], span=x.span)
            # x_{ij} as the entry of a declared X (the seeds write it so)
            up = _upper(base.name)
            du = self.declared(up) if up else None
            if du is not None and len(idx) == 2 and not _is_vector(du):
                return ir.Entry(ir.Sym(up, span=base.span), idx[0], idx[1], span=x.span)
            return ir.Sym(full, span=x.span)
        if len(idx) == 2 and ":" not in idx:
            return ir.Entry(base, idx[0], idx[1], span=x.span)
        if len(idx) == 1 and _is_vector(d):
            return ir.Entry(base, idx[0], None, span=x.span)
        if len(idx) == 1 and _is_scalar(d):
            return ir.Sym(full, span=x.span)
        if len(idx) == 2 and idx[0] == ":":
            return ir.Opaque("column", (base,), span=x.span)
        if len(idx) == 2 and idx[1] == ":":
            return ir.Opaque("row", (base,), span=x.span)
        # X_1, W_k: a name of its own (layer weights, iterates)
        return ir.Sym(full, span=x.span)

    def r_Func(self, x: ir.Func) -> Expr:
        arg = self.go(x.arg)
        y = x if arg is x.arg else ir.Func(x.name, arg, style=x.style, span=x.span)
        return y

    def r_Transpose(self, x: ir.Transpose) -> Expr:
        inner = self.go(x.x)
        if isinstance(inner, ir.Basis):
            return ir.Transpose(inner, span=x.span)
        return inner is x.x and x or ir.Transpose(inner, span=x.span)


def _upper(name: str) -> str | None:
    m = re.fullmatch(r"(\\[A-Za-z]+\{)?([a-z])(\})?", name)
    if not m:
        return None
    return (m.group(1) or "") + m.group(2).upper() + (m.group(3) or "")


def _is_vector(d: Decl) -> bool:
    return d.cols == 1 and d.rows != 1


def _is_scalar(d: Decl) -> bool:
    return d.cols == 1 and d.rows == 1
