"""Checking the derivatives a paper claims: `\\frac{\\partial f}{\\partial X} = G`,
`\\nabla_X f = G`, `\\frac{\\partial M}{\\partial X_{ij}} = D`. A claim that fails
numerical verification (while mcls's own result verifies) becomes a
`claim/false` warning on the right-hand side with the correct value.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import ir
from ..problems import Problem, Severity
from ..scope import Scope

_CACHE: "OrderedDict[tuple, tuple[Problem, ...]]" = OrderedDict()


def claim_names(statements: tuple[ir.Chain, ...]) -> frozenset[str] | None:
    """The names on the left of the statements' claims (whose definitions a claim's value
    depends on), or None when no statement has the form of a claim (a cheap structural
    test, independent of the scope)."""
    lefts = [st.parts[k] for st in statements for k, op in enumerate(st.ops)
             if op == "=" and isinstance(st.parts[k], (ir.Derivative, ir.Differential))]
    if not lefts:
        return None
    return frozenset(n.name for lhs in lefts for n in lhs.walk() if isinstance(n, ir.Sym))


def check_claims(statements: tuple[ir.Chain, ...], scope: Scope, definitions: dict[str, ir.Expr], scope_key) -> list[Problem]:
    out: list[Problem] = []
    for st in statements:
        for k, op in enumerate(st.ops):
            lhs, rhs = st.parts[k], st.parts[k + 1]
            if op == "=" and not isinstance(lhs, ir.Derivative) and _identity_candidate(st, k, scope):
                key = ("identity", lhs, rhs, scope_key)
                hit = _CACHE.get(key)
                if hit is None:
                    hit = tuple(_check_identity(lhs, rhs, scope))
                    _CACHE[key] = hit
                out.extend(Problem(p.code, p.message, rhs.span or p.span, p.severity, p.related, p.fix) for p in hit)
                continue
            if op != "=" or not isinstance(lhs, ir.Derivative) or isinstance(rhs, ir.Derivative):
                continue
            names = {n.name for n in lhs.walk() if isinstance(n, ir.Sym)}
            key = (lhs, rhs, scope_key, tuple((n, definitions[n]) for n in sorted(names) if n in definitions))
            hit = _CACHE.get(key)
            if hit is None:
                hit = tuple(_check(lhs, rhs, scope, definitions))
                _CACHE[key] = hit
                if len(_CACHE) > 2048:
                    _CACHE.popitem(last=False)
            # spans are those of this occurrence
            out.extend(Problem(p.code, p.message, rhs.span or p.span, p.severity, p.related, p.fix) for p in hit)
    return out


_LEAVES_OK = (ir.Sym, ir.Num, ir.Basis, ir.UnitVec, ir.Ones, ir.Identity, ir.Zero, ir.Entry, ir.Differential)
_OPS_OK = (ir.Add, ir.Neg, ir.Mul, ir.Div, ir.Transpose, ir.Inverse, ir.Power, ir.Hadamard, ir.Kron, ir.Frob, ir.Func, ir.Norm)


def _identity_candidate(st: ir.Chain, k: int, scope: Scope) -> bool:
    """`lhs = rhs` worth checking as an identity: the left side is not a name being
    defined (`M = …`, `y = X\beta + \varepsilon` are definitions and models), and both
    sides are made only of declared symbols and operators mcls evaluates exactly."""
    lhs, rhs = st.parts[k], st.parts[k + 1]
    # Only differentials of compound expressions (`d(X^{-1}) = …`): a general `lhs = rhs`
    # in a paper is as often an equation to solve (`A^\top A x = A^\top b`) or a condition
    # (`W^\top W = I_k`) as an identity, and checking those would cry wolf.
    if not (isinstance(lhs, ir.Differential) and not isinstance(lhs.of, ir.Sym)):
        return False
    if isinstance(lhs, ir.Mul) and len(lhs.factors) == 2 and isinstance(lhs.factors[0], ir.Sym) and lhs.factors[0].name not in scope.decls:
        return False  # f(X) = …
    for side in (lhs, rhs):
        for n in side.walk():
            if isinstance(n, ir.Sym) and n.name not in scope.decls:
                return False
            if not isinstance(n, _LEAVES_OK + _OPS_OK):
                return False
    return True


def _check_identity(lhs: ir.Expr, rhs: ir.Expr, scope: Scope) -> list[Problem]:
    from .. import verify

    from .. import calculus

    # The variables are the symbols whose differentials the right side writes (`dX`):
    # everything else (`A` in `d(XAX)`) is a constant of the paper.
    wrt = {n.of.name for n in rhs.walk() if isinstance(n, ir.Differential) and isinstance(n.of, ir.Sym)}
    if not wrt:
        return []
    try:
        st = calculus.shapes_for(lhs.of, scope, rhs)
        dF = calculus.differential(lhs.of, wrt, st)
        v = verify.verify_identity(dF, rhs, scope)
    except Exception:  # noqa: BLE001
        return []
    if v.ok or v.reason is None or "differ (relative" not in v.reason or not v.max_rel_error > 1e-3:
        return []
    from ..render.latex import to_latex

    right = to_latex(dF)
    return [Problem("claim/false", f"this differential is not right: mcls computes {right} (the two sides differ on random instances, relative error {v.max_rel_error:.2g})",
                    rhs.span or (0, 0), Severity.WARNING, fix=right)]


def _mentions(x: ir.Expr, name: str) -> bool:
    return any(isinstance(n, ir.Sym) and n.name == name for n in x.walk())


def _check(d: ir.Derivative, claimed: ir.Expr, scope: Scope, definitions: dict[str, ir.Expr]) -> list[Problem]:
    from .. import verify
    from ..render.latex import to_latex
    from . import derive

    f = d.f
    if isinstance(f, ir.Sym) and f.name in definitions:
        f = definitions[f.name]
    wrt = d.wrt
    index = None
    if isinstance(wrt, ir.Entry) and isinstance(wrt.of, ir.Sym):
        index = (wrt.i, wrt.j)
        wrt = wrt.of
    if not isinstance(wrt, ir.Sym) or wrt.name not in scope.decls:
        return []
    if any(isinstance(n, (ir.Opaque, ir.Indexed, ir.Derivative, ir.Differential)) for n in claimed.walk()):
        return []  # sums over indices, tensors, operators: not a matrix claim we can test
    if any(isinstance(n, ir.Sym) and n.name not in scope.decls for n in claimed.walk()):
        return []  # `= D^{ij}`: a name for the result, not a value
    try:
        dv = derive.derive(f, wrt.name, scope, index=index)
    except Exception:  # noqa: BLE001 - cannot derive: say nothing rather than guess
        return []
    if not dv.verified.ok:
        return []
    try:
        if dv.kind == "scalar" and index is None:
            v = verify.verify_gradient(f, wrt, claimed, scope)
        else:
            i, j = index or (None, None)
            if index is None:
                return []
            v = verify.verify_component(f, wrt, claimed, scope, i=i, j=j)
    except Exception:  # noqa: BLE001
        return []
    if v.ok or v.reason is None or "differs" not in v.reason:
        return []
    right = to_latex(dv.result)
    return [Problem("claim/false", f"this derivative is not right: mcls computes {right} (verified numerically; the stated one differs, relative error {v.max_rel_error:.2g})",
                    claimed.span or (0, 0), Severity.WARNING, fix=right)]
