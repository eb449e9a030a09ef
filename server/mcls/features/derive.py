"""What to differentiate and with respect to what; the derivation as steps.

Shared by hover, code actions, claim checking and ``mcls grad``: given a
statement (``M = …``, ``f = …`` or a lone expression) and a variable, produce a
``Derivation`` — differential, result, numerical verification and the steps a
paper would write (``dF`` → ``dX = E_{ij}`` → ``∂F/∂X_{ij}``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from .. import ir
from ..scope import Scope, symbol_name

Span = tuple[int, int]


@dataclass(frozen=True)
class Verified:
    ok: bool
    max_rel_error: float
    trials: int
    reason: str | None = None


@dataclass(frozen=True)
class Derivation:
    kind: str  # scalar | vector | matrix
    name: ir.Expr  # the function's name as written (`M`, `f`, `\mathbf{y}`), or the expression itself
    f: ir.Expr  # the expression differentiated
    wrt: ir.Expr  # the variable (Sym)
    differential: ir.Expr  # dF, with Differential(wrt) leaves
    result: ir.Expr  # scalar: gradient G; matrix/vector: ∂F/∂X_ij
    raw_result: ir.Expr  # before simplification (the substitution step)
    index: tuple[str, str | None] | None  # (i, j) for component-wise results
    verified: Verified
    layout: str = "denominator"


class DeriveError(ValueError):
    """Not differentiable, ill-shaped or not understood; the message says why."""


_CACHE: "OrderedDict[tuple, Derivation | DeriveError]" = OrderedDict()
_CACHE_SIZE = 512


def split_statement(stmt: ir.Chain | ir.Expr) -> tuple[ir.Expr | None, ir.Expr]:
    """(name, expression) of `M = …` / `f(X) = …`; (None, expr) for a lone expression."""
    if isinstance(stmt, ir.Chain):
        if stmt.ops and stmt.ops[0] in ("=", ":=") and len(stmt.parts) >= 2:
            lhs, rhs = stmt.parts[0], stmt.parts[1]
            if isinstance(lhs, (ir.Sym, ir.Entry)) or _is_application(lhs):
                return (lhs.factors[0] if isinstance(lhs, ir.Mul) else lhs), rhs
            return None, rhs
        return None, stmt.parts[0]
    return None, stmt


def _is_application(x: ir.Expr) -> bool:
    """`f(X)` as written on a left-hand side: a name applied to arguments."""
    return isinstance(x, ir.Mul) and len(x.factors) == 2 and isinstance(x.factors[0], ir.Sym)


def free_symbols(x: ir.Expr) -> list[str]:
    out: list[str] = []
    for n in x.walk():
        if isinstance(n, ir.Sym) and n.name not in out:
            out.append(n.name)
        if isinstance(n, ir.Entry) and isinstance(n.of, ir.Sym) and n.of.name not in out:
            out.append(n.of.name)
    return out


def candidate_variables(expr: ir.Expr, scope: Scope, preferred: list[str]) -> list[str]:
    """Variables to differentiate by: pinned/preferred names first, then declared
    non-scalar, non-constant symbols of the expression in order of appearance."""
    names = free_symbols(expr)
    out = [p for p in preferred if p in names]
    for n in names:
        d = scope.decls.get(n)
        if d is None or d.kind == "defined" or n in out:
            continue
        if "constant" in scope.assumptions_of(n):
            continue
        if d.rows == 1 and d.cols == 1:
            continue
        out.append(n)
    if not out:  # only scalars declared: differentiate by those
        out = [n for n in names if n in scope.decls and scope.decls[n].kind != "defined"]
    return out


def pick_indices(expr: ir.Expr) -> tuple[str, str]:
    used = set()
    for n in expr.walk():
        if isinstance(n, (ir.Entry,)):
            used.update(filter(None, (n.i, n.j)))
        if isinstance(n, ir.Basis):
            used.update((n.i, n.j))
        if isinstance(n, ir.UnitVec):
            used.add(n.i)
    for i, j in (("i", "j"), ("k", "l"), ("p", "q"), ("r", "s")):
        if i not in used and j not in used:
            return i, j
    return "i", "j"


def derive(stmt: ir.Chain | ir.Expr, wrt_name: str, scope: Scope, *, index: tuple[str, str | None] | None = None,
           layout: str = "denominator") -> Derivation:
    """Differentiate the statement's expression w.r.t. ``wrt_name``. Raises DeriveError."""
    name, f = split_statement(stmt)
    key = (name, f, wrt_name, index, layout, _scope_key(scope))
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        if isinstance(hit, DeriveError):
            raise hit
        return hit
    try:
        d = _derive(name, f, wrt_name, scope, index, layout)
    except DeriveError as e:
        _remember(key, e)
        raise
    _remember(key, d)
    return d


def _remember(key, value) -> None:
    _CACHE[key] = value
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


def _scope_key(scope: Scope):
    return tuple(sorted((k, str(d.rows), str(d.cols)) for k, d in scope.decls.items())), tuple(
        sorted((k, tuple(sorted(v))) for k, v in scope.assumptions.items()))


def _derive(name, f, wrt_name, scope, index, layout) -> Derivation:
    from .. import calculus, verify

    d = scope.decls.get(wrt_name)
    if d is None:
        raise DeriveError(f"{wrt_name} is not declared, so its shape is unknown")
    wrt = ir.Sym(wrt_name)
    if not any(isinstance(n, ir.Sym) and n.name == wrt_name for n in f.walk()):
        raise DeriveError(f"the expression does not depend on {wrt_name}")
    st = calculus.shapes_for(f, scope)
    if st.problems:
        raise DeriveError(st.problems[0].message)
    shape = st.get(f)
    try:
        dF = calculus.differential(f, {wrt_name}, st)
        is_scalar = shape is not None and shape.rows == 1 and shape.cols == 1
        if is_scalar and index is None:
            G = calculus.gradient(f, wrt, st, layout=layout)
            ver = _verified(verify.verify_gradient(f, wrt, G, scope, layout=layout), f, wrt, dF, scope)
            return Derivation("scalar", name or f, f, wrt, dF, G, G, None, ver, layout=layout)
        kind = "scalar" if is_scalar else ("vector" if shape is not None and shape.cols == 1 else "matrix")
        i, j = index if index is not None else pick_indices(f)
        if d.cols == 1:
            j = None
        e = calculus.direction(wrt, i, j, st)
        raw = calculus.substitute(
            calculus.differential(f, {wrt_name}, st, simplified=True),
            lambda n: e if isinstance(n, ir.Differential) and isinstance(n.of, ir.Sym) and n.of.name == wrt_name else None,
        )
        D = calculus.component(f, wrt, i, j, st)
    except calculus.NotDifferentiable as e:
        raise DeriveError(str(e)) from e
    ver = _verified(verify.verify_component(f, wrt, D, scope, i=i, j=j), f, wrt, dF, scope)
    return Derivation(kind, name or f, f, wrt, dF, D, raw, (i, j), ver, layout=layout)


def _verified(v, f=None, wrt=None, dF=None, scope=None) -> Verified:
    """The result's verification; with ``dF``, the differential shown beside it must verify too."""
    out = Verified(bool(v.ok), float(v.max_rel_error), int(v.trials), getattr(v, "reason", None))
    if dF is None or not out.ok:
        return out
    from .. import verify

    vd = verify.verify_differential(f, [wrt], dF, scope)
    if not vd.ok:
        return Verified(False, float(vd.max_rel_error), int(vd.trials), f"the differential: {vd.reason}")
    return Verified(True, max(out.max_rel_error, float(vd.max_rel_error)), out.trials, None)


# ------------------------------------------------------------------ steps and rendering


def steps(dv: Derivation, style=None) -> list[tuple[str, str]]:
    """The derivation as (lhs, rhs) LaTeX pairs, in the seeds' order."""
    from ..render.latex import to_latex

    L = lambda x: to_latex(x, style)  # noqa: E731
    name = L(dv.name)
    dname = _diff_name(dv, style)
    wrt = L(dv.wrt)
    out = [(name, L(dv.f)), (dname, L(dv.differential))]
    if dv.kind == "scalar":
        out.append(("", L(ir.Frob(dv.result if dv.layout == "denominator" else ir.Transpose(dv.result), ir.Differential(dv.wrt)))))
        out.append((_partial(name, wrt), L(dv.result)))
    else:
        i, j = dv.index or ("i", "j")
        basis = ir.Basis(i, j) if j is not None else ir.UnitVec(i)
        out.append((_partial(name, f"{wrt}_{{{i}{j or ''}}}"), L(dv.raw_result) + r" \quad (" + L(ir.Differential(dv.wrt)) + " = " + L(basis) + ")"))
        simp = L(dv.result)
        if simp != L(dv.raw_result):
            out.append(("", simp))
    return out


def _partial(name: str, wrt: str) -> str:
    return rf"\frac{{\partial {name}}}{{\partial {wrt}}}"


def _diff_name(dv: Derivation, style=None) -> str:
    from ..render.latex import to_latex

    return to_latex(ir.Differential(dv.name), style) if isinstance(dv.name, (ir.Sym, ir.Entry)) else "d(" + to_latex(dv.name, style) + ")"


def differential_latex(dv: Derivation, style=None) -> str:
    """`df = …` (w.r.t. the variable only: the other symbols are constants)."""
    from ..render.latex import to_latex

    return _diff_name(dv, style) + " = " + to_latex(dv.differential, style)


def differential_unicode(dv: Derivation, style=None) -> str:
    from ..render.unicode import to_unicode

    name = to_unicode(dv.name, style)
    if not isinstance(dv.name, (ir.Sym, ir.Entry)):
        name = f"({name})"
    return f"d{name} = " + to_unicode(dv.differential, style)


def result_latex(dv: Derivation, style=None) -> str:
    from ..render.latex import to_latex

    name = to_latex(dv.name, style)
    wrt = to_latex(dv.wrt, style)
    if dv.kind == "scalar":
        return _partial(name, wrt) + " = " + to_latex(dv.result, style)
    i, j = dv.index or ("i", "j")
    return _partial(name, f"{wrt}_{{{i}{j or ''}}}") + " = " + to_latex(dv.result, style)


def result_unicode(dv: Derivation, style=None) -> str:
    from ..render.unicode import sub, to_unicode

    name = to_unicode(dv.name, style)
    if not isinstance(dv.name, (ir.Sym, ir.Entry, ir.Indexed)):
        name = f"({name})"
    wrt = to_unicode(dv.wrt, style)
    if dv.kind == "scalar":
        return f"∂{name}/∂{wrt} = " + to_unicode(dv.result, style)
    i, j = dv.index or ("i", "j")
    return f"∂{name}/∂{wrt}{sub(i + (j or ''))} = " + to_unicode(dv.result, style)


_MATRIX_FUNCTION = {"exp": "matrix exponential", "log": "matrix logarithm", "sqrt": "matrix square root",
                    "sin": "matrix sine", "cos": "matrix cosine"}


def elementwise_note(dv: Derivation, scope) -> str | None:
    """``\\exp(X)``, ``\\log X``, ``\\sqrt{X}`` of a square matrix may mean the matrix function
    (``e^X = Σ Xᵏ/k!``); mcls reads them element-wise, as ML papers do. Say so where it matters."""
    funcs = [n for n in dv.f.walk() if isinstance(n, ir.Func) and n.name in _MATRIX_FUNCTION]
    if not funcs:
        return None
    from ..calculus import shapes_for

    try:
        st = shapes_for(dv.f, scope)
    except Exception:  # noqa: BLE001 - no note rather than no hover
        return None
    for fn in funcs:
        sh = st.get(fn.arg)
        if sh is not None and sh.rows == sh.cols and sh.rows != 1:
            return (f"{fn.name} acts element-wise here (mcls's convention); if the {_MATRIX_FUNCTION[fn.name]} is meant, "
                    "this is not its derivative")
    return None


def verified_text(v: Verified) -> str:
    if v.ok:
        return f"✓ verified numerically (max rel. error {v.max_rel_error:.0e}, {v.trials} trials)"
    why = f": {v.reason}" if v.reason else ""
    return f"⚠ could not verify numerically{why}"


def preferred_for(doc, pinned: str | None) -> list[str]:
    """``preferred_variables`` of a DocumentAnalysis, computed once per analysis (hover speed)."""
    cache = doc.__dict__.setdefault("_preferred", {})
    if pinned not in cache:
        cache[pinned] = preferred_variables(doc.text, (s for r in doc.regions for s in r.statements), pinned)
    return cache[pinned]


def preferred_variables(doc_text: str, all_statements, pinned: str | None) -> list[str]:
    """Names the document treats as variables: a pin (`% mcls: wrt X` or setting),
    then every `\\frac{\\partial}{\\partial X}`/`\\nabla_X` target, then "with respect to $X$" (or "w.r.t.")."""
    out: list[str] = []
    for m in re.finditer(r"%\s*mcls:\s*wrt\s+(\S+)", doc_text):
        out.append(m.group(1).strip())
    if pinned:
        out.insert(0, pinned)
    for st in all_statements:
        for n in st.walk():
            if isinstance(n, ir.Derivative):
                w = n.wrt
                if isinstance(w, ir.Entry):
                    w = w.of
                nm = symbol_name(w) if isinstance(w, (ir.Sym, ir.Indexed)) else None
                if nm and nm not in out:
                    out.append(nm)
    for m in re.finditer(r"(?:with respect to|w\.\s?r\.\s?t\.?|wrt)\s+\$([^$]{1,40})\$", doc_text):
        nm = m.group(1).strip()
        if nm not in out:
            out.append(nm)
    return out
