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
from .memo import IdMemo
from .sizes import Sizes, canonical_size_name, parse_size, sp

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
    kind: str = "declared"  # declared | prose | defined | ambiguous (declared twice, differently)
    assumptions: frozenset[str] = frozenset()
    path: str | None = None
    depends: frozenset[str] = frozenset()  # defined names: the symbols of the right-hand side


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
                # The letter is reused with another shape (a new example, a new section): which
                # declaration a use refers to is unknown here, so its shape is no longer certain.
                if old.kind != "ambiguous":
                    self.decls[d.name] = replace(old, kind="ambiguous")
            return
        self.decls[d.name] = d
        for s in (d.rows, d.cols):
            for f in getattr(s, "free_symbols", ()):
                self.size_names.add(f.name)

    def copy(self) -> "Scope":
        return Scope(dict(self.decls), self.sizes, set(self.size_names), {k: set(v) for k, v in self.assumptions.items()}, list(self.redeclared))

    def snapshot(self) -> "Scope":
        """An independent copy (``copy`` shares the size bindings)."""
        return Scope(dict(self.decls), self.sizes.copy(), set(self.size_names), {k: set(v) for k, v in self.assumptions.items()},
                     list(self.redeclared))

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
        rhs = chain.parts[k + 1]
        shape = _space_shape(rhs)
        if shape is None:
            continue
        rows, cols, text = shape
        assume = frozenset({"symmetric"}) if isinstance(rhs, ir.Space) and rhs.field_ == "S" else frozenset()
        # `K_* = K(X, X_*) \in \mathbb{R}^{n\times m}`: every name joined to the `\in` by `=`
        lhs_parts = [chain.parts[k]]
        j = k
        while j > 0 and chain.ops[j - 1] in ("=", ":="):
            j -= 1
            lhs_parts.append(chain.parts[j])
        for lhs in lhs_parts:
            names = lhs.items if isinstance(lhs, ir.Tuple) else (lhs,)
            for n in names:
                name = symbol_name(n)
                if name is None or n.span is None:
                    continue
                out.append(Decl(name, rows, cols, n.span, text, assumptions=assume, path=path))
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
            if x.field_ == "S":  # \mathbb{S}^n, \mathbb{S}^n_{++}: symmetric n×n matrices
                return (r, r, f"{x.rows}\\times {x.rows}")
            return (r, one, x.rows)
        c = parse_size(x.cols)
        if c is None:
            return None
        return (r, c, f"{x.rows}\\times {x.cols}")
    if isinstance(x, ir.Opaque) and x.text.startswith("field:"):
        return (one, one, "scalar")
    return None


_LIMITS = re.compile(r"_\{([^{}]*)\}|\^\{([^{}]*)\}")
_BIGOP_TEXT = re.compile(r"\\(?:sum|prod|max|min|sup|inf|bigoplus|bigotimes|coprod)(?![A-Za-z])")
_LABEL = re.compile(r"\^\{\(([^()]*)\)\}|_\{([^{}]*[-+][^{}]*)\}")


def index_names(chain: ir.Chain, scope: Scope) -> None:
    """Letters used as indices are scalars: the variable and bounds of ``\\sum_{i=1}^{N}``,
    layer labels ``W^{(l)}`` and index arithmetic ``x_{k-1}``. (Called from ``size_equalities``
    so that every statement of the document contributes, before shapes are checked.)"""
    for name in _index_letters(chain):
        if name not in scope.decls:
            scope.size_names.add(canonical_size_name(name))


_INDEX_MEMO: IdMemo = IdMemo()


def _index_letters(chain: ir.Chain) -> frozenset[str]:
    """The index letters of one statement (memoised: every keystroke would otherwise
    re-walk the whole paper)."""
    return _INDEX_MEMO.get(chain, _index_letters_uncached)


def _index_letters_uncached(chain: ir.Chain) -> frozenset[str]:
    found: set[str] = set()
    for node in chain.walk():
        if isinstance(node, ir.Opaque) and _BIGOP_TEXT.match(node.text):
            for m in _LIMITS.finditer(node.text):
                if m.group(1) is not None:
                    v = m.group(1).split("=", 1)
                    if len(v) == 2 and re.fullmatch(r"[a-z]", v[0]):
                        found.add(v[0])
                        found.update(_size_letters(v[1]))
                else:
                    found.update(_size_letters(m.group(2)))
        elif isinstance(node, (ir.Sym, ir.Indexed)):
            name = symbol_name(node) or ""
            for m in _LABEL.finditer(name):
                found.update(c for c in re.findall(r"(?<![\\A-Za-z])[A-Za-z](?![A-Za-z])", m.group(1) or m.group(2)))
    return frozenset(found)


def _size_letters(text: str) -> set[str]:
    e = parse_size(text)
    if e is None:
        return set()
    return {f.name for f in e.free_symbols if re.fullmatch(r"[A-Za-z](?:_[A-Za-z0-9]|_\{[^{}]*\})?", f.name)}


def size_equalities(chain: ir.Chain, scope: Scope) -> None:
    """``m = n`` between declared size symbols merges them."""
    index_names(chain, scope)
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


def may_state_sizes_or_assumptions(chain: ir.Chain) -> bool:
    """Whether ``size_equalities`` or ``assumption_statements`` can learn anything from
    this statement (a pure test, so pass 1 can skip the rest of a paper per keystroke)."""
    if _index_letters(chain):
        return True
    for k, op in enumerate(chain.ops):
        b = chain.parts[k + 1]
        if op == "=" and (isinstance(b, ir.Transpose) or (isinstance(chain.parts[k], ir.Sym) and isinstance(b, (ir.Sym, ir.Num)))):
            return True
        if op in ("\\succ", "\\succeq") and isinstance(b, (ir.Num, ir.Zero)):
            return True
    return False


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
# Shapes and assumptions stated in words around inline math: "let $X$ be an $n \times p$
# data matrix", "$x$ is a vector of length $n$", "$A$ and $B$ are $n\times n$", "an
# $n \times n$ matrix $A$", "$\lambda$ is a scalar", "where $A$ is symmetric". Each pattern
# is anchored on the whole gap between two math regions, so unrelated prose never matches.

_BE = r"(?:is|be|are|was|were|denotes?|denoting|represents?|stands\s+for|is\s+given\s+by)"
_ART = r"(?:an?|the|some|any|two|three|real|complex|given|fixed)?\s*"
_WORDS = r"(?:[\w-]+\s+){0,3}?"
_MAT_BEFORE = re.compile(r"^\s*,?\s*(?:(?:which\s+|that\s+)?" + _BE + r"\s+" + _ART + _WORDS + r"|(?:an?|the)\s+)$", re.I)
# "for any square matrix $A$", "a symmetric positive definite matrix $\Sigma$"
_ADJ_BEFORE = re.compile(r"\b(square|symmetric|invertible|non-?singular|orthogonal|diagonal|positive[- ]definite|positive[- ]semi-?definite|spd)\s+(?:(?:and\s+)?[\w-]+\s+){0,3}?matri(?:x|ces)\s+$", re.I)
_SHAPE_OF = re.compile(r"^\s*,?\s*(?:(?:" + _BE + r"\s+)?(?:of|with)|has|have|having)\s+(?:the\s+)?(?:shape|size|dimensions?|order)\s+(?:of\s+)?$", re.I)
_VEC_OF_LEN = re.compile(r"^\s*,?\s*" + _BE + r"\s+" + _ART + _WORDS + r"(?:column\s+)?vectors?\s+(?:of|with)\s+(?:length|size|dimension)\s+$", re.I)
_IN_SPACE = re.compile(r"^\s*,?\s*(?:all\s+|both\s+|each\s+)?(?:" + _BE + r"\s+" + _ART + _WORDS + r"(?:in|from|of)|(?:lies|lie|lives|live)\s+in|belongs?\s+to)\s+$", re.I)
_VEC_NO_SIZE = re.compile(r"^\s*,?\s*(?:all\s+|both\s+)?" + _BE + r"\s+(?:an?\s+)?(?:(?:real|column|given|fixed|arbitrary|constant)\s+)*vectors?\s*(?:[.,;:)]|$|and\b|with\b|in\s+which|that|whose|of\s+(?:the\s+)?same)", re.I)
_VEC_AFTER = re.compile(r"^\s*-?\s*(?:dimensional\s+|dim\.?\s+|element\s+)?(?:[\w-]+\s+){0,2}?(?:column\s+)?vectors?\b", re.I)
_MAT_AFTER_SIZE = re.compile(r"^\s*" + _WORDS + r"(?:matrix|matrices|array)\s+$", re.I)
_VEC_AFTER_SIZE = re.compile(r"^\s*-?\s*(?:dimensional\s+|dim\.?\s+)?" + _WORDS + r"(?:column\s+)?vectors?\s+$", re.I)
_SCALAR_RE = re.compile(r"^\s*,?\s*" + _BE + r"\s+" + _ART + _WORDS + r"(?:scalars?|real\s+numbers?|numbers?|constants?)\b(?!\s*-?\s*(?:matrix|matrices|vectors?|terms?|functions?|valued|fields?|multiples?))", re.I)
_NAME_JOIN = re.compile(r"^\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+)$", re.I)
# "The pre-activations $z$, the activations $a$ and the errors $\delta$ all live in …":
# an enumeration of named things, joined only when the predicate is plural.
_NOUN_JOIN = re.compile(r"^\s*(?:,\s*(?:and\s+)?|and\s+)(?:the\s+|its\s+|their\s+)?(?:[A-Za-z-]+\s+){1,2}$", re.I)
_PLURAL = re.compile(r"^\s*,?\s*(?:all\s+|both\s+|each\s+)?(?:are|live|lie|belong|have)\b", re.I)
_ASSUME_CLAUSE = re.compile(r"^\s*,?\s*" + _BE + r"\s+([^.;:$]{0,80})", re.I)
_ASSUME_WORDS = re.compile(r"\b(not\s+)?(symmetric|positive[- ]definite|positive[- ]semi-?definite|invertible|non-?singular|orthogonal|diagonal|square|spd)\b", re.I)
_ASSUME_KIND = {"symmetric": "symmetric", "positive definite": "spd", "positive semidefinite": "psd", "positive semi-definite": "psd",
                "invertible": "invertible", "nonsingular": "invertible", "non-singular": "invertible", "orthogonal": "orthogonal",
                "diagonal": "diagonal", "square": "square", "spd": "spd"}


def _abs(span: Span, region) -> Span:
    return (span[0] + region.start, span[1] + region.start)


def _region_names(pm, region, allow_relation: bool = False) -> list[tuple[str, Span]] | None:
    """The names a region mentions when it is only names (``$A$``, ``$A, B$``, ``$x_1, \\dots, x_n$``)."""
    if pm is None:
        return None
    rel = (_NAMES_REL if allow_relation else _NAMES).get(pm, lambda pm: _names_in(pm, allow_relation))
    if rel is None:
        return None
    return [(name, _abs(span, region)) for name, span in rel]


_NAMES: IdMemo = IdMemo()
_NAMES_REL: IdMemo = IdMemo()


def _names_in(pm, allow_relation: bool) -> tuple[tuple[str, Span], ...] | None:
    """``_region_names`` with spans relative to the region (memoised per parsed region)."""
    if not pm.math.statements or pm.issues:
        return None
    out: list[tuple[str, Span]] = []
    for st in pm.math.statements:
        if st.ops and not (allow_relation and len(pm.math.statements) == 1 and all(o in ("\\le", "\\ge", "<", ">", "\\ne") for o in st.ops)):
            return None
        p = st.parts[0]
        items = p.items if isinstance(p, ir.Tuple) else (p,)
        for it in items:
            if isinstance(it, ir.Opaque) and not it.args and it.text in ("\\dots", "\\ldots", "\\cdots"):
                continue
            name = symbol_name(it) if isinstance(it, (ir.Sym, ir.Indexed)) else None
            if name is None or it.span is None:
                return None
            out.append((name, it.span))
    return tuple(out) or None


def _declared_names(pm) -> list[tuple[str, Span]]:
    """The names a region declares with ``\\in`` (``$\\Sigma \\in \\mathbb{R}^{n\\times n}$``)."""
    if pm is None or pm.issues:
        return []
    return [(d.name, d.span) for st in pm.math.statements for d in declarations_in(st)]


def _size_pair(raw: str):
    parts = re.split(r"\\times|×|\\by(?![A-Za-z])", raw)
    if len(parts) != 2:
        return None
    r, c = parse_size(parts[0]), parse_size(parts[1])
    return None if r is None or c is None else (r, c)


def _single_size(raw: str):
    if re.search(r"\\times|×|=|\\in(?![A-Za-z])|,", raw):
        return None
    return parse_size(raw)


_PAST_SIZE = 40  # how far past a size region prose_declarations reads ("$n$-dimensional vector")
_SIZE_FIRST_GAP = 40  # longest gap in "an $n \\times n$ matrix $A$"
_SIZE_AFTER_GAP = 80  # longest gap in "$A$ is an $n \\times n$ matrix"


def prose_declarations(text: str, regions, parsed) -> tuple[list[Decl], dict[str, set[str]]]:
    """Read shapes and assumptions stated in prose between math regions.
    ``parsed[k]`` has spans relative to ``regions[k].start``; returned spans are absolute."""
    decls: list[Decl] = []
    assumptions: dict[str, set[str]] = {}
    n = len(regions)
    one = sp().Integer(1)

    def gap(k: int, limit: int = 200) -> str:
        a = regions[k].outer_end
        b = regions[k + 1].outer_start if k + 1 < n else min(len(text), a + limit)
        return text[a:b]

    def declare(names, rows, cols, shape_text):
        for name, span in names:
            decls.append(Decl(name, rows, cols, span, shape_text, kind="prose"))

    def assume(names, k: int, g: str) -> None:
        """Properties stated in prose: "a symmetric matrix $A$", "$A$ is positive definite",
        "let $\\Sigma \\in …$ be SPD"."""
        before = text[max(regions[k - 1].outer_end if k else 0, regions[k].outer_start - 80) : regions[k].outer_start]
        words = [m.group(1) for m in _ADJ_BEFORE.finditer(before)]
        if clause := _ASSUME_CLAUSE.match(g[:160]):
            words += [m.group(2) for m in _ASSUME_WORDS.finditer(clause.group(1)) if not m.group(1)]  # not "is not symmetric"
        for w in words:
            word = re.sub(r"[- ]+", " ", w.lower()).replace("semi definite", "semidefinite")
            kind = _ASSUME_KIND.get(word) or ("invertible" if word.startswith("non") else None)
            if kind:
                for name, _ in names:
                    assumptions.setdefault(name, set()).add(kind)

    k = 0
    while k < n:
        names = _region_names(parsed[k], regions[k])
        if names is None and (declared := _declared_names(parsed[k])):
            assume(declared, k, gap(k))  # the declaration gives the shape, the prose the properties
        if names is None:
            # "an $n \times n$ matrix $A$", "an $n$-vector $x$": the size comes first
            if k + 1 < n and parsed[k + 1] is not None:
                raw = regions[k].text.strip()
                g = gap(k)
                after = _region_names(parsed[k + 1], regions[k + 1])
                if after and len(g) <= _SIZE_FIRST_GAP:
                    pair = _size_pair(raw)
                    if pair and _MAT_AFTER_SIZE.match(g):
                        declare(after, pair[0], pair[1], raw)
                    elif pair is None and _VEC_AFTER_SIZE.match(g):
                        r = _single_size(raw)
                        if r is not None:
                            declare(after, r, one, raw)
            k += 1
            continue
        j = k  # "$A$ and $B$ are …", "$A$, $B$, and $C$ are …"
        while j + 1 < n and _NAME_JOIN.match(gap(j)) and (more := _region_names(parsed[j + 1], regions[j + 1])):
            names = names + more
            j += 1
        jj, more_names = j, []
        while jj + 1 < n and _NOUN_JOIN.match(gap(jj)) and (more := _region_names(parsed[jj + 1], regions[jj + 1])):
            more_names += more
            jj += 1
        if more_names and _PLURAL.match(gap(jj)):
            names, j = names + more_names, jj
        g = gap(j)
        assume(names, k, g)
        if _SCALAR_RE.match(g[:160]):
            declare(names, one, one, "scalar")
            k = j + 1
            continue
        if _VEC_NO_SIZE.match(g[:160]):  # "where $b$ and $c$ are vectors": columns, length unknown
            for name, span in names:
                rows = sp().Symbol(f"_u_len_{name}", integer=True, positive=True)
                decls.append(Decl(name, rows, one, span, "vector", kind="prose"))
            k = j + 1
            continue
        nxt = j + 1
        if nxt < n and len(g) <= _SIZE_AFTER_GAP and parsed[nxt] is not None and not parsed[nxt].issues:
            raw = regions[nxt].text.strip()
            sts = parsed[nxt].math.statements
            after = text[regions[nxt].outer_end : regions[nxt].outer_end + _PAST_SIZE]
            space = _space_shape(sts[0].parts[0]) if len(sts) == 1 and not sts[0].ops else None
            pair = _size_pair(raw)
            if space is not None and isinstance(sts[0].parts[0], ir.Space) and _IN_SPACE.match(g):
                declare(names, space[0], space[1], space[2])
            elif pair is not None and (_MAT_BEFORE.match(g) or _SHAPE_OF.match(g)):
                declare(names, pair[0], pair[1], raw)
            elif pair is None and _VEC_OF_LEN.match(g):
                r = _single_size(raw)
                if r is not None:
                    declare(names, r, one, raw)
            elif pair is None and _MAT_BEFORE.match(g) and _VEC_AFTER.match(after):
                r = _single_size(raw)  # "$x$ is an $n$-dimensional vector", "a $p$-vector"
                if r is not None:
                    declare(names, r, one, raw)
        k = j + 1
    for k in range(n):  # a scalar stated with a bound: "$\lambda > 0$ is a scalar"
        names = _region_names(parsed[k], regions[k], allow_relation=True)
        if names and len(names) == 1 and parsed[k].math.statements[0].ops and _SCALAR_RE.match(gap(k)[:160]):
            declare(names, one, one, "scalar")
    return decls, assumptions


def prose_inert(regions, parsed, k: int) -> bool:
    """Whether ``prose_declarations`` ignores the text of region ``k``: it is not a list of
    names, and no neighbour reads it (as the size after "$A$ is an", the size before
    "matrix $A$", or within the few characters read past a size). Then an edit inside
    region ``k`` leaves the prose declarations as they were, with spans shifted."""
    def gap(j: int) -> int:
        return regions[j + 1].outer_start - regions[j].outer_end

    if _region_names(parsed[k], regions[k]) or _region_names(parsed[k], regions[k], allow_relation=True) or _declared_names(parsed[k]):
        return False
    if k + 1 < len(regions) and gap(k) <= _SIZE_FIRST_GAP and _region_names(parsed[k + 1], regions[k + 1]):
        return False
    m = k  # region m read as the size after names in region m - 1, with _PAST_SIZE more characters
    while m >= 1 and (m == k or regions[m].outer_end + _PAST_SIZE > regions[k].outer_start):
        if gap(m - 1) <= _SIZE_AFTER_GAP and _region_names(parsed[m - 1], regions[m - 1]):
            return False
        m -= 1
    return True


# ------------------------------------------------------------------ resolution of names


_IDENTITY = {"I", "\\mathbf{I}", "\\mathbb{I}", "\\bm{I}", "\\boldsymbol{I}", "\\mathrm{I}", "\\mathbf{Id}", "\\mathrm{Id}"}
_BASIS_MAT = {"E", "\\mathbf{E}", "\\bm{E}"}
_BASIS_VEC = {"e", "\\mathbf{e}", "\\bm{e}", "\\boldsymbol{e}", "\\mathbf{u}"}


def split_index(index: str) -> list[str]:
    """``ij`` -> [i, j]; ``i,j`` -> [i, j]; ``{k}{l}`` -> [k, l]; ``kk`` -> [k, k]; ``i+1,j``."""
    idx = index.strip()
    if "," in idx:
        return [p.strip("{}") for p in idx.split(",")]
    if re.search(r"[-+|]", idx):  # x_{t+1}, X_{k-1}, P_{k|k-1}: one index
        return [idx.strip("{}")]
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
            y = m(x)
            return y if y is x else _keep_marks(x, y)
        return self._rebuild(x)

    def _rebuild(self, x: Expr) -> Expr:
        y = ir.rebuild(x, self.go)
        return x if y is x else _keep_marks(x, y)

    def declared(self, name: str) -> Decl | None:
        return self.scope.decls.get(name)

    def r_Power(self, x: ir.Power) -> Expr:
        # `e^{x}` with an undeclared `e` is the exponential (element-wise on matrices, as \exp).
        if isinstance(x.base, ir.Sym) and x.base.name in ("e", r"\mathrm{e}") and not self.declared(x.base.name):
            return ir.Func("exp", self.go(x.exp), span=x.span)
        return self._rebuild(x)

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
        entry = d is not None and not _is_vector(d) and len(idx) == 2 and all(re.fullmatch(r"[a-z]", i) for i in idx)
        if has_family(self.scope, full) and not entry:
            # the document declares `x_k`, `P_{k|k}` or `\Sigma_{11}`: subscripts make names here
            # (`K_{ij}` with letter indices stays an entry of a declared K)
            return ir.Sym(full, span=x.span)
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
            if len(idx) == 2 and all(i in _INDEX_LETTERS for i in idx):
                # A_{ij}, \delta_{ij} of an undeclared base: a component, a scalar
                # (W_{hh}, W_{xh} keep being names)
                return ir.Entry(base, idx[0], idx[1], span=x.span)
            return ir.Sym(full, span=x.span)
        if len(idx) == 2 and ":" not in idx:
            return ir.Entry(base, idx[0], idx[1], span=x.span)
        if len(idx) == 1 and _is_vector(d):
            # `x_i` of a declared vector: an entry (the shape stage keeps it a *soft* scalar, since
            # `x_n` may be the n-th sample); `w_{t+1}`, `x_{k-1}` are iterates, names of their own
            if re.search(r"[-+|]", idx[0]):
                return ir.Sym(full, span=x.span)
            return ir.Entry(base, idx[0], None, span=x.span)
        if len(idx) == 1 and _is_scalar(d):
            return ir.Sym(full, span=x.span)
        if len(idx) == 2 and idx[0] == ":":
            return ir.Opaque("column", (base,), span=x.span)
        if len(idx) == 2 and idx[1] == ":":
            return ir.Opaque("row", (base,), span=x.span)
        # X_1, W_k: a name of its own (layer weights, iterates)
        return ir.Sym(full, span=x.span)

    def r_Mul(self, x: ir.Mul) -> Expr:
        """Juxtaposition with a parenthesis is a product or an application: ``A(B + C)`` vs
        ``f(x)``, ``\\mathcal{N}(\\mu, \\Sigma)``, ``\\mathbb{E}[x x^\\top]``, ``x(t)``."""
        factors = [self.go(f) for f in x.factors]
        out: list[Expr] = []
        i = 0
        while i < len(factors):
            f = factors[i]
            if i + 1 < len(factors):
                core, wrap = _paren_core(factors[i + 1])
                if core is not None:
                    new = self._application(f, core)
                    if new is not None:
                        out.append(wrap(new))
                        i += 2
                        continue
            out.append(f)
            i += 1
        if len(out) == len(x.factors) and all(a is b for a, b in zip(out, x.factors)):
            return x
        if len(out) == 1:
            y = out[0]
            if getattr(x, "_paren", False) and not getattr(y, "_paren", False):
                y = y.at(x.span)
                object.__setattr__(y, "_paren", x._paren)
            return y
        return _keep_marks(x, ir.Mul(tuple(out), span=x.span))

    def _application(self, f: Expr, arg: Expr) -> Expr | None:
        """``f`` applied to the parenthesised ``arg``, or None when it is a product."""
        prime = isinstance(f, ir.Transpose) and getattr(f, "_prime", False) and isinstance(f.x, ir.Sym)
        head = f.x if prime else f
        if not isinstance(head, ir.Sym):
            return None
        name = head.name
        span = (f.span[0], arg.span[1]) if f.span and arg.span else f.span
        items = arg.items if isinstance(arg, ir.Tuple) else (arg,)
        if not prime and is_expectation(name) and self.declared(name) is None:
            return ir.Opaque(name, items, span=span)
        if name == "\\sigma" and not prime and not isinstance(arg, ir.Tuple) and self.declared(name) is None:
            return ir.Func("sigma", arg, style="\\sigma", span=span)  # `{\sigma}(z)` reads as `\sigma(z)`
        d = self.declared(name)
        if d is None and has_family(self.scope, name):
            d = Decl(name, None, None, (0, 0), "")  # a family member: treat as declared
        if d is not None:
            if d.rows == 1 and d.cols == 1:
                if not prime and (d.kind == "declared" or name in _PRODUCT_SCALARS or _scalarish(arg, self.scope)):
                    return None  # `c \in \mathbb{R}`, then `c(x + y)`: a scalar times a parenthesis
                # `f = \operatorname{tr}(X^\top X)` then `f(X)`; "$L$ is a scalar loss", then `L(\theta)`
                return ir.Opaque(name + ("'" if prime else ""), items, span=span)
            if isinstance(arg, ir.Tuple) or prime:
                return ir.Opaque(name + ("'" if prime else ""), items, span=span)
            if _scalarish(arg, self.scope):  # x(t), P(0): the value at a time
                return head.at(span)
            if d.kind == "defined" and _evaluated_at(arg, d.depends):
                return head.at(span)  # `M = AXX^\top A^\top`, then `M(X + tY)`: M at another point
            return None
        if name in self.scope.size_names and _scalarish(arg, self.scope):
            return None  # n(n+1)
        if name in _PRODUCT_SCALARS and not prime and not isinstance(arg, (ir.Tuple, ir.Sym)):
            return None  # \lambda(w^\top w - 1): a scale factor (but \rho(A), \kappa(A) are functions)
        return ir.Opaque(name + ("'" if prime else ""), items, span=span)

    def r_Func(self, x: ir.Func) -> Expr:
        arg = self.go(x.arg)
        y = x if arg is x.arg else ir.Func(x.name, arg, style=x.style, span=x.span)
        return y

    def r_Transpose(self, x: ir.Transpose) -> Expr:
        inner = self.go(x.x)
        if isinstance(inner, ir.Basis):
            return ir.Transpose(inner, span=x.span)
        return inner is x.x and x or ir.Transpose(inner, span=x.span)


_INDEX_LETTERS = set("ijklmnpqrs")


def _keep_marks(old: Expr, new: Expr) -> Expr:
    """Carry the parser's marks (``_paren``, ``_prime``, ``_iter``, ``_cells`` …) to a rebuilt node."""
    for k, v in old.__dict__.items():
        if k.startswith("_") and k != "span":
            object.__setattr__(new, k, v)
    return new


def _paren_core(x: Expr):
    """``(…)``, ``(…)^\\top``, ``(…)^2``, ``(…)_i`` -> (the parenthesised node, rewrap function)."""
    if getattr(x, "_paren", False) and not isinstance(x, ir.Opaque) or isinstance(x, ir.Tuple) and getattr(x, "_paren", False):
        return x, (lambda e: e)
    if isinstance(x, ir.Opaque) and getattr(x, "_paren", False):
        return x, (lambda e: e)
    if isinstance(x, (ir.Transpose, ir.Inverse)) and getattr(x.x, "_paren", False):
        return x.x, (lambda e, x=x: type(x)(e, span=_cover(e.span, x.span)))
    if isinstance(x, ir.Power) and getattr(x.base, "_paren", False):
        return x.base, (lambda e, x=x: ir.Power(e, x.exp, span=_cover(e.span, x.span)))
    if isinstance(x, ir.Indexed) and getattr(x.base, "_paren", False):
        return x.base, (lambda e, x=x: ir.Indexed(e, x.index, span=_cover(e.span, x.span)))
    return None, None


def _cover(a, b):
    if a and b:
        return (min(a[0], b[0]), max(a[1], b[1]))
    return a or b


_EXPECTATION = {"\\mathbb{E}", "\\mathrm{E}", "\\mathsf{E}", "\\mathbf{E}", "\\operatorname{E}", "\\mathop{\\mathbb{E}}", "E", "\\E"}


def is_expectation(name: str) -> bool:
    """``\\mathbb{E}``, ``\\mathbb{E}_{x\\sim p}``, ``\\operatorname{E}`` ... (the shape of its argument)."""
    return name.split("_", 1)[0] in _EXPECTATION


_PRODUCT_SCALARS = {"\\lambda", "\\eta", "\\gamma", "\\tau", "t"}
_SCALAR_ARGS = {"t", "s", "k", "\\tau", "\\theta", "\\lambda", "\\alpha", "\\epsilon", "\\varepsilon"}


def _scalarish(x: Expr, scope: "Scope") -> bool:
    """Arguments that read as a time or a parameter value: ``t``, ``0``, ``t+1``, ``k-1``, ``\\lambda``."""
    if isinstance(x, ir.Num):
        return True
    if isinstance(x, ir.Sym):
        d = scope.decls.get(x.name)
        if d is not None:
            return d.rows == 1 and d.cols == 1
        return x.name in scope.size_names or x.name in _SCALAR_ARGS
    if isinstance(x, (ir.Add, ir.Neg, ir.Mul, ir.Div)):
        return all(_scalarish(c, scope) for c in x.children())
    return False


# ------------------------------------------------------------------ indexed families
# `x_k \in \mathbb{R}^n` makes `x_{k-1}` an n-vector; `W^{(l)} \in \mathbb{R}^{n_l\times n_{l-1}}`
# makes `W^{(l+1)}` an n_{l+1}×n_l matrix; `P_{k|k-1} \in \mathbb{R}^{n\times n}` makes
# `P_{k|k}` n×n. Only when the declared members agree (or a one-letter index says how).

_FAMILY = re.compile(r"(?P<base>.+?)(?:_\{(?P<sub>.+)\}|\^\{\((?P<sup>[^()]+)\)\})")


def _family_key(name: str):
    m = _FAMILY.fullmatch(name)
    if not m:
        return None
    return (m.group("base"), "_" if m.group("sub") is not None else "^"), (m.group("sub") if m.group("sub") is not None else m.group("sup"))


def _families(scope: "Scope") -> dict:
    cache = scope.__dict__.get("_fam")
    if cache is not None and cache[0] == len(scope.decls):
        return cache[1]
    fams: dict = {}
    for name, d in scope.decls.items():
        if d.kind == "ambiguous":
            continue
        k = _family_key(name)
        if k:
            fams.setdefault(k[0], []).append((k[1], d))
    scope.__dict__["_fam"] = (len(scope.decls), fams, {})
    return fams


def has_family(scope: "Scope", name: str) -> bool:
    k = _family_key(name)
    return bool(k and k[0] in _families(scope))


def family_shape(scope: "Scope", name: str):
    """(rows, cols) for an undeclared member of a declared family, or None."""
    k = _family_key(name)
    if not k:
        return None
    fams = _families(scope)
    members = fams.get(k[0])
    if not members:
        return None
    memo = scope.__dict__["_fam"][2]
    if name in memo:
        return memo[name]
    memo[name] = out = _family_shape(members, k[1])
    return out


def _family_shape(members, index: str):
    # Only members indexed by a variable say something about the others: `\Sigma_{11}` says
    # nothing about `\Sigma_{12}`, nor `W^{(1)}` about `W^{(2)}`.
    members = [(v, d) for v, d in members if re.search(r"[A-Za-z]", v)]
    if not members:
        return None
    target = parse_size(index) if re.fullmatch(r"[A-Za-z0-9+\-\s]+", index) else None
    for v, d in members:
        if re.fullmatch(r"[A-Za-z]", v) and target is not None:
            rows, cols = _subst_index(d.rows, v, target), _subst_index(d.cols, v, target)
            if rows is not None and cols is not None and (rows != d.rows or cols != d.cols or not _mentions(d, v)):
                return rows, cols
    shapes = {(d.rows, d.cols) for _, d in members}
    if len(shapes) == 1:
        rows, cols = next(iter(shapes))
        letters = {c for v, _ in members for c in re.findall(r"[A-Za-z]", v)}
        if not any(_mentions_any(x, letters) for x in (rows, cols)):
            return rows, cols
    return None


def _mentions(d: Decl, v: str) -> bool:
    return _mentions_any(d.rows, {v}) or _mentions_any(d.cols, {v})


def _mentions_any(x, letters) -> bool:
    for f in getattr(x, "free_symbols", ()):
        name = f.name
        if name in letters:
            return True
        m = re.fullmatch(r".+?_(?:\{(.+)\}|(.))", name)
        if m and set(re.findall(r"[A-Za-z]", m.group(1) or m.group(2))) & letters:
            return True
    return False


def _subst_index(x, v: str, target):
    """Replace the index letter v by ``target`` inside size symbols: n_{l-1} with l := l+1 -> n_l."""
    if not getattr(x, "free_symbols", None):
        return x
    S = sp()
    rep = {}
    for f in x.free_symbols:
        if f.name == v:
            rep[f] = target
            continue
        m = re.fullmatch(r"(.+?)_(?:\{(.+)\}|(.))", f.name)
        if not m:
            continue
        sub = parse_size(m.group(2) or m.group(3))
        if sub is None:
            return None
        vs = S.Symbol(v, integer=True, positive=True)
        if vs not in sub.free_symbols:
            continue
        new = S.expand(sub.xreplace({vs: target}))
        text = re.sub(r"\s+", "", str(new))
        rep[f] = parse_size(f"{m.group(1)}_{{{text}}}")
    return x.xreplace(rep)


def _evaluated_at(arg: Expr, depends: frozenset[str]) -> bool:
    """`(X)` or `(X + tY)` where X is a variable of the definition: an evaluation point."""
    terms = arg.terms if isinstance(arg, ir.Add) else (arg,)
    return any(isinstance(t, ir.Sym) and t.name in depends for t in terms)


def _upper(name: str) -> str | None:
    m = re.fullmatch(r"(\\[A-Za-z]+\{)?([a-z])(\})?", name)
    if not m:
        return None
    return (m.group(1) or "") + m.group(2).upper() + (m.group(3) or "")


def _is_vector(d: Decl) -> bool:
    return d.cols == 1 and d.rows != 1


def _is_scalar(d: Decl) -> bool:
    return d.cols == 1 and d.rows == 1
