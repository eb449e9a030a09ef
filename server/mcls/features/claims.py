"""Checking what a paper claims: derivatives (`\\frac{\\partial f}{\\partial X} = G`,
`\\nabla_X f = G`, `\\frac{\\partial M}{\\partial X_{ij}} = D`), differentials of compound
expressions (`d(X^{-1}) = …`) and identities (`(AB)^\\top = B^\\top A^\\top`, told apart from
definitions, conditions and equations to solve). A claim that fails numerical
verification (while mcls's own result verifies) becomes a `claim/false` warning on the
right-hand side with the correct value; one that holds, a `claim/verified` finding.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from .. import ir
from ..document.sentences import sentence_around
from ..problems import Problem, Severity
from ..scope import Scope

_CACHE: "OrderedDict[tuple, tuple[Problem, ...]]" = OrderedDict()


def _bound_cache() -> None:
    while len(_CACHE) > 2048:
        _CACHE.popitem(last=False)


def claim_names(statements: tuple[ir.Chain, ...]) -> frozenset[str] | None:
    """The names on the left of the statements' claims (whose definitions a claim's value
    depends on), or None when no statement has the form of a claim (a cheap structural
    test, independent of the scope)."""
    lefts = [st.parts[k] for st in statements for k, op in enumerate(st.ops)
             if op == "=" and (isinstance(st.parts[k], (ir.Derivative, ir.Differential)) or _general_identity(st.parts[k], st.parts[k + 1]))]
    if not lefts:
        return None
    return frozenset(n.name for lhs in lefts for n in lhs.walk() if isinstance(n, ir.Sym))


def check_claims(statements: tuple[ir.Chain, ...], scope: Scope, definitions: dict[str, ir.Expr], scope_key,
                 conditional: bool = False, style=None) -> list[Problem]:
    """``conditional``: the statements are stated under a condition (see
    ``is_conditional``), so an `lhs = rhs` there is an assumption, not an identity.
    ``style``: how the author writes (``render.style``), for the corrected values."""
    out: list[Problem] = []
    for st in statements:
        for k, op in enumerate(st.ops):
            lhs, rhs = st.parts[k], st.parts[k + 1]
            if op == "=" and not isinstance(lhs, ir.Derivative) and (isinstance(lhs, ir.Differential) or not conditional) \
                    and _identity_candidate(st, k, scope):
                key = ("identity", lhs, rhs, scope_key, style)
                hit = _CACHE.get(key)
                if hit is None:
                    hit = _CACHE[key] = tuple(_check_identity(lhs, rhs, scope, style))
                    _bound_cache()
                out.extend(Problem(p.code, p.message, rhs.span or p.span, p.severity, p.related, p.fix) for p in hit)
                continue
            if op != "=" or not isinstance(lhs, ir.Derivative) or isinstance(rhs, ir.Derivative):
                continue
            names = {n.name for n in lhs.walk() if isinstance(n, ir.Sym)}
            key = (lhs, rhs, scope_key, tuple((n, definitions[n]) for n in sorted(names) if n in definitions), style)
            hit = _CACHE.get(key)
            if hit is None:
                hit = _CACHE[key] = tuple(_check(lhs, rhs, scope, definitions, style))
                _bound_cache()
            # spans are those of this occurrence
            out.extend(Problem(p.code, p.message, rhs.span or p.span, p.severity, p.related, p.fix) for p in hit)
    return out


# Words that make an equation a condition, an equation to solve or a consequence of a
# property rather than an identity: "if $AB = BA$", "assume", "such that", "solve", "since
# $P$ is idempotent", "for orthogonal $Q$", "$A$ is normal, i.e. …", "… holds only for
# special matrices", "this is wrong: …". An identity that holds only under a property mcls
# does not model, or that the author says is false, must not be called false.
_CONDITION_WORDS = re.compile(
    r"\b(?:if|iff|when|whenever|unless|let|assum\w*|suppos\w*|provided|given|such\s+that|so\s+that|s\.\s?t\.|subject\s+to|"
    r"satisf\w*|solv\w*|solutions?|constrain\w*|conditions?|requir\w*|equations?|find|unknowns?|where|whose|"
    r"since|because|i\.\s?e\.|that\s+is|namely|only|special|particular|certain|"
    r"not|never|false|wrong|incorrect|fails?|mistakes?|errors?|counter\w*|"
    r"commut\w*|eigen\w*|stationar\w*|optimal\w*|minimi[sz]\w*|maximi[sz]\w*|critical|setting|impos\w*|enforc\w*|"
    r"orthogonal|orthonormal|unitary|idempotent|projections?|projectors?|normal|nilpotent|involut\w*|permutations?|"
    r"rotations?|reflections?|triangular|diagonal\w*|circulant|toeplitz|stochastic|singular|rank|null\s*space|kernel)(?!\w)", re.I)
_CONSEQUENCE = re.compile(r"\bso\s+that\b", re.I)
_MATH_TEXT = re.compile(r"\\(?:text\w*|mbox|mathrm|operatorname\*?)\s*\{([^{}]*)\}")


def is_conditional(text: str, region) -> bool:
    """Whether the math of ``region`` is stated under a condition: a condition word in its
    sentence, before it ("if $AB = BA$") or after it ("$e^{A+B} = e^A e^B$ when $A$ and $B$
    commute"), or in a ``\\text{…}`` inside it (`\\quad\\text{s.t.}`)."""
    before, after = sentence_around(text, region)
    # After a formula "so that" draws a consequence ("…, so that $\\nabla f = …$"); before one
    # it states a condition ("choose $x$ so that …").
    if _CONDITION_WORDS.search(before) or _CONDITION_WORDS.search(_CONSEQUENCE.sub(" ", after)):
        return True
    return any(_CONDITION_WORDS.search(t.group(1)) for t in _MATH_TEXT.finditer(region.text) if t.group(1))


_LEAVES_OK = (ir.Sym, ir.Num, ir.Basis, ir.UnitVec, ir.Ones, ir.Identity, ir.Zero, ir.Entry, ir.Differential)
_OPS_OK = (ir.Add, ir.Neg, ir.Mul, ir.Div, ir.Transpose, ir.Inverse, ir.Power, ir.Hadamard, ir.Kron, ir.Frob, ir.Func, ir.Norm)


def _identity_candidate(st: ir.Chain, k: int, scope: Scope) -> bool:
    """`lhs = rhs` worth checking as an identity (see ``_general_identity``), or the
    differential of a compound expression (`d(X^{-1}) = …`)."""
    lhs, rhs = st.parts[k], st.parts[k + 1]
    if isinstance(lhs, ir.Differential):
        if isinstance(lhs.of, ir.Sym):
            return False
    elif not _general_identity(lhs, rhs):
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


_NAMES_ONLY = (ir.Sym, ir.Indexed, ir.Entry)
_CONSTANTS = (ir.Num, ir.Zero, ir.Identity, ir.Ones)


def _symbols(x: ir.Expr) -> frozenset[str]:
    return frozenset(n.name for n in x.walk() if isinstance(n, ir.Sym))


def _general_identity(lhs: ir.Expr, rhs: ir.Expr) -> bool:
    """A paper's `lhs = rhs` is an identity to check only when it has the form of one.
    Definitions and models name a symbol on the left (`M = …`, `y = X\\beta + \\varepsilon`);
    conditions set something to a constant or to a bare symbol (`W^\\top W = I_k`,
    `\\nabla f = 0`, `P^2 = P`); equations to solve relate different symbols on the two
    sides (`A^\\top A x = A^\\top b`, `A v = \\lambda v`, `A^\\top P + P A = -Q`). What is
    left -- the same symbols on both sides, rearranged (`(AB)^\\top = B^\\top A^\\top`,
    `\\operatorname{tr}(AB) = \\operatorname{tr}(BA)`, the steps of an expansion) -- holds
    for all values of its symbols or is a mistake."""
    if isinstance(lhs, _NAMES_ONLY) or isinstance(rhs, _NAMES_ONLY + _CONSTANTS):
        return False
    if isinstance(rhs, ir.Neg) and isinstance(rhs.x, _NAMES_ONLY + _CONSTANTS):
        return False
    names = _symbols(lhs)
    return bool(names) and names == _symbols(rhs)


def _check_identity(lhs: ir.Expr, rhs: ir.Expr, scope: Scope, style=None) -> list[Problem]:
    from .. import verify

    if not isinstance(lhs, ir.Differential):
        return _check_general_identity(lhs, rhs, scope, style)

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
    if v.ok:
        return [_verified(rhs, "this differential", v)]
    if v.reason is None or "differ (relative" not in v.reason or not v.max_rel_error > 1e-3:
        return []
    from ..render.latex import to_latex

    right = to_latex(dF, style)
    return [Problem("claim/false", f"this differential is not right: mcls computes {right} (the two sides differ on random instances, relative error {v.max_rel_error:.2g})",
                    rhs.span or (0, 0), Severity.WARNING, fix=right)]


def _check_general_identity(lhs: ir.Expr, rhs: ir.Expr, scope: Scope, style=None) -> list[Problem]:
    from .. import verify

    try:
        v = verify.verify_identity(lhs, rhs, scope, trials=3)
    except Exception:  # noqa: BLE001
        return []
    if v.ok:
        return [_verified(rhs, "this identity", v)]
    if v.reason is None or "differ (relative" not in v.reason or not v.max_rel_error > 1e-3:
        return []  # true, or not evaluable here (a log of a negative determinant, …): say nothing
    # The value of the left side as mcls writes it, when that says more than the left side
    # itself: the right side (AB)ᵀ = B^⊤A^⊤ should have.
    from .. import calculus
    from ..render.latex import to_latex
    from ..simplify import simplify

    fix = None
    try:
        left = simplify(lhs, calculus.shapes_for(lhs, scope, rhs))
        if left != lhs and verify.verify_identity(lhs, left, scope, trials=3).ok:
            fix = to_latex(left, style)
    except Exception:  # noqa: BLE001 - the warning stands without a suggestion
        fix = None
    value = f"; the left side equals {fix}" if fix else ""
    names = ", ".join(sorted(_symbols(lhs)))
    return [Problem("claim/false", f"this identity does not hold for all {names}: the two sides differ on random instances "
                    f"(relative error {v.max_rel_error:.2g}){value}. If it holds under a condition, say so in its sentence (\"if …\", \"since …\")",
                    rhs.span or (0, 0), Severity.WARNING, fix=fix)]


def _verified(rhs: ir.Expr, what: str, v) -> Problem:
    """A claim that holds: information, shown only when the user asks (mcls.claims.showVerified,
    `mcls check --verified`)."""
    return Problem("claim/verified", f"{what} is right: verified numerically (max rel. error {v.max_rel_error:.1g}, {v.trials} trials)",
                   rhs.span or (0, 0), Severity.INFORMATION)


def _mentions(x: ir.Expr, name: str) -> bool:
    return any(isinstance(n, ir.Sym) and n.name == name for n in x.walk())


def _check(d: ir.Derivative, claimed: ir.Expr, scope: Scope, definitions: dict[str, ir.Expr], style=None) -> list[Problem]:
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
    if v.ok:
        return [_verified(claimed, "this derivative", v)]
    if v.reason is None or "differs" not in v.reason:
        return []
    right = to_latex(dv.result, style)
    return [Problem("claim/false", f"this derivative is not right: mcls computes {right} (verified numerically; the stated one differs, relative error {v.max_rel_error:.2g})",
                    claimed.span or (0, 0), Severity.WARNING, fix=right)]
