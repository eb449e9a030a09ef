"""Every calculus rule against central finite differences on random instances.

Forward mode (differentials), reverse mode (gradients), component-wise
derivatives, Jacobians and Hessians are each checked numerically; the
simplifier is checked both structurally and numerically (its output must equal
its input); numeric evaluation and instantiation are checked directly.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcls import ir
from mcls.calculus import (
    NotDifferentiable,
    component,
    derive,
    differential,
    gradient,
    hessian,
    jacobian,
    second_differential,
    shapes_for,
)
from mcls.numeric import diff_key, evaluate, instantiate, random_value
from mcls.parse import parse_expr, parse_math
from mcls.scope import Scope, declarations_in, resolve
from mcls.simplify import simplify
from mcls.verify import (
    verify_component,
    verify_differential,
    verify_gradient,
    verify_hessian,
    verify_identity,
    verify_jacobian,
)

DECLS = (
    r"X \in \mathbb{R}^{n\times m}, Y \in \mathbb{R}^{n\times m}, A \in \mathbb{R}^{p\times n}, B \in \mathbb{R}^{m\times q}, "
    r"S, T, C \in \mathbb{R}^{n\times n}, R \in \mathbb{R}^{m\times m}, x, y, a \in \mathbb{R}^{n}, b \in \mathbb{R}^{m}, "
    r"\lambda, t \in \mathbb{R}, W \in \mathbb{R}^{p\times n}, z \in \mathbb{R}^{p}, V \in \mathbb{R}^{q\times p}"
)


def scope_of(decls: str = DECLS, **assume: str) -> Scope:
    sc = Scope()
    for stmt in parse_math(decls).math.statements:
        for d in declarations_in(stmt):
            sc.declare(d)
    for name, kinds in assume.items():
        sc.assumptions.setdefault(name.replace("_", "\\"), set()).update(kinds.split(","))
    return sc


def expr_of(latex: str, sc: Scope) -> ir.Expr:
    return resolve(parse_expr(latex), sc)


SC = scope_of()

# (latex, variables): forward-mode rules, one or more per node type
DIFFERENTIALS = [
    (r"A X B", "X"),  # Mul
    (r"X + Y", "X,Y"),  # Add
    (r"-X", "X"),  # Neg
    (r"X^\top", "X"),  # Transpose
    (r"S^{-1}", "S"),  # Inverse
    (r"S^{-2}", "S"),  # negative matrix power
    (r"S^3", "S"),  # Power (matrix)
    (r"\lambda^3", "\\lambda"),  # Power (scalar)
    (r"t^{\lambda}", "\\lambda,t"),  # variable exponent
    (r"X \odot Y", "X,Y"),  # Hadamard
    (r"X \oslash Y", "X"),  # HadamardDiv (numerator)
    (r"A \oslash W", "W"),  # HadamardDiv (denominator)
    (r"S \otimes C", "S,C"),  # Kron
    (r"X : Y", "X,Y"),  # Frob
    (r"\langle a, S x\rangle", "x,S"),
    (r"\operatorname{tr}(S C)", "S"),  # tr
    (r"\det(S)", "S"),  # det
    (r"\log\det S", "S"),  # logdet
    (r"\log|S|", "S"),  # log|X|
    (r"|S|", "S"),  # |X| = det X
    (r"\operatorname{diag}(S)", "S"),  # diag (matrix -> vector)
    (r"\operatorname{diag}(x)", "x"),  # diag (vector -> matrix)
    (r"\operatorname{Diag}(x)", "x"),
    (r"\operatorname{vec}(X)", "X"),
    (r"\|x\|_2", "x"),  # Norm
    (r"\|X\|_F", "X"),
    (r"\|x\|_2^2", "x"),
    (r"\|X\|_F^2", "X"),
    (r"\|x\|^3", "x"),
    (r"\|x\|_1", "x"),
    (r"\exp(X)", "X"),  # element-wise functions
    (r"\sigma(A X)", "X"),
    (r"\tanh(X)", "X"),
    (r"\sin(X) + \cos(X)", "X"),
    (r"\sigma(\lambda)", "\\lambda"),
    (r"\tanh(\lambda)", "\\lambda"),
    (r"\frac{X}{\lambda}", "X,\\lambda"),  # Div (quotient rule)
    (r"\frac{x}{\|x\|}", "x"),
    (r"X_{ij}", "X"),  # Entry
    (r"x^\top S x", "x,S"),
    (r"A X X^\top A^\top", "X"),
    (r"(X \odot Y) b", "Y"),
    (r"\sigma'(X)", "X"),
]


@pytest.mark.parametrize("latex,wrt", DIFFERENTIALS, ids=[d[0] for d in DIFFERENTIALS])
def test_differential(latex: str, wrt: str) -> None:
    f = expr_of(latex, SC)
    names = wrt.split(",")
    sf = shapes_for(f, SC)
    assert not sf.problems, sf.problems
    df = differential(f, set(names), sf)
    assert verify_differential(f, names, df, SC, shapes=sf).ok
    raw = differential(f, set(names), sf, simplified=False)
    assert verify_differential(f, names, raw, SC, shapes=sf).ok


@pytest.mark.parametrize("latex,wrt", [(r"\log(X \odot X + Y \odot Y)", "X"), (r"\sqrt{X \odot X + Y \odot Y}", "Y"),
                                       (r"\log(\lambda)", "\\lambda"), (r"\log(X)", "X"), (r"\sqrt{\lambda}", "\\lambda")])
def test_differential_positive_arguments(latex: str, wrt: str) -> None:
    """Element-wise log/sqrt need positive arguments; instantiate provides them for symbols."""
    f = expr_of(latex, SC)
    sf = shapes_for(f, SC)
    df = differential(f, {wrt}, sf)
    assert verify_differential(f, [wrt], df, SC, shapes=sf).ok


def test_claimed_differential_as_identity() -> None:
    """A paper's dM = A(dX Xᵀ + X dXᵀ)Aᵀ is checked against mcls's dM with random dX."""
    M = expr_of(r"A X X^\top A^\top", SC)
    claim = expr_of(r"A(dX X^\top + X dX^\top)A^\top", SC)
    dM = differential(M, {"X"}, shapes_for(M, SC))
    assert verify_identity(dM, claim, SC).ok
    assert not verify_identity(dM, expr_of(r"A(dX X^\top + X dX)A^\top", SC), SC).ok


# scalar functions: reverse mode, every node on the path from the root to X
GRADIENTS = [
    (r"a^\top X b", "X"),
    (r"\operatorname{tr}(A X B V)", "X"),
    (r"\operatorname{tr}(X^\top S X R)", "X"),
    (r"\operatorname{tr}(S^{-1} C)", "S"),
    (r"\operatorname{tr}(S^{-2} C)", "S"),
    (r"\operatorname{tr}(S^3 C)", "S"),
    (r"\det(S)", "S"),
    (r"\det(S)^2", "S"),
    (r"\log\det(S^\top S)", "S"),
    (r"\log|\det S|", "S"),
    (r"\|A X - W Y\|_F^2", "X"),
    (r"\|X\|_F", "X"),
    (r"\|S x - y\|_2", "x"),
    (r"\|x\|^3", "x"),
    (r"\|x\|_1", "x"),
    (r"\operatorname{tr}(A (X \odot Y) B V)", "X"),
    (r"\operatorname{tr}((X \oslash Y)^\top Y)", "Y"),
    (r"\operatorname{tr}((X \oslash Y)^\top Y)", "X"),
    (r"\operatorname{tr}(S \otimes C)", "S"),
    (r"\operatorname{tr}(S \otimes S)", "S"),
    (r"(S \otimes C) : (T \otimes C)", "S"),
    (r"\lambda \operatorname{tr}(S)", "\\lambda"),
    (r"\lambda \operatorname{tr}(S)", "S"),
    (r"\frac{a^\top S a}{\lambda}", "\\lambda"),
    (r"\frac{a^\top S a}{x^\top x}", "x"),
    (r"a^\top \operatorname{diag}(S)", "S"),
    (r"\operatorname{tr}(\operatorname{diag}(x) S)", "x"),
    (r"\operatorname{tr}(\operatorname{Diag}(x) S)", "x"),
    (r"a^\top \operatorname{vec}(x)", "x"),
    (r"\mathbf{1}^\top \exp(A X) b", "X"),
    (r"a^\top \sigma(S x)", "x"),
    (r"a^\top \tanh(S x)", "x"),
    (r"a^\top \log(\exp(S x))", "x"),
    (r"\mathbf{1}^\top \sin(S) \mathbf{1}", "S"),
    (r"a^\top \cos(S x)", "x"),
    (r"\log \sigma(a^\top x)", "x"),
    (r"\exp(\lambda t)", "t"),
    (r"t^{\lambda}", "\\lambda"),
    (r"X_{ij} Y_{ij}", "X"),
    (r"x^\top (S \odot S) x", "S"),
    (r"\operatorname{tr}(X^\top X)^2", "X"),
    (r"a^\top S^{-1} a \cdot \det(S)", "S"),
    (r"-\frac{1}{2}\log\det S - \frac{1}{2} a^\top S^{-1} a", "S"),
    (r"\operatorname{tr}(S)", "S"),
    (r"\operatorname{tr}(C)", "S"),  # constant: gradient 0
    (r"X : Y", "X"),
    (r"\langle A X, W Y \rangle", "X"),
    (r"|S|", "S"),
]


@pytest.mark.parametrize("latex,wrt", GRADIENTS, ids=[f"{g[0]} wrt {g[1]}" for g in GRADIENTS])
def test_gradient(latex: str, wrt: str) -> None:
    f = expr_of(latex, SC)
    x = ir.Sym(wrt)
    sf = shapes_for(f, SC)
    assert not sf.problems, sf.problems
    g = gradient(f, x, sf)
    v = verify_gradient(f, x, g, SC)
    assert v.ok, (g, v)
    raw = gradient(f, x, sf, simplified=False)
    assert verify_gradient(f, x, raw, SC, shapes=sf).ok
    num = gradient(f, x, sf, layout="numerator")
    assert verify_gradient(f, x, num, SC, layout="numerator", shapes=sf).ok


def test_gradient_of_constant_is_zero() -> None:
    f = expr_of(r"\operatorname{tr}(C)", SC)
    g = gradient(f, ir.Sym("S"), shapes_for(f, SC))
    assert isinstance(g, ir.Zero)


def test_gradient_spd_and_symmetric_assumptions() -> None:
    sc = scope_of(S="spd", C="symmetric")
    f = expr_of(r"\log\det S + x^\top C x", sc)
    g = gradient(f, ir.Sym("S"), shapes_for(f, sc))
    assert g == ir.Inverse(ir.Sym("S"))  # S^{-T} = S^{-1} for symmetric S
    gx = gradient(f, ir.Sym("x"), shapes_for(f, sc))
    assert gx == ir.Mul((ir.Num(Fraction(2)), ir.Sym("C"), ir.Sym("x")))
    assert verify_gradient(f, ir.Sym("x"), gx, sc).ok


@pytest.mark.parametrize(
    "latex,wrt",
    [(r"A X B", "X"), (r"A X X^\top A^\top", "X"), (r"S^{-1}", "S"), (r"\sigma(A X)", "X"), (r"x x^\top", "x"),
     (r"(X \odot Y) b", "Y"), (r"\operatorname{tr}(X^\top X) C", "X"), (r"\det(S) S", "S"), (r"\lambda X", "\\lambda")],
)
def test_component(latex: str, wrt: str) -> None:
    F = expr_of(latex, SC)
    x = ir.Sym(wrt)
    sf = shapes_for(F, SC)
    d = component(F, x, "i", "j", sf)
    assert verify_component(F, x, d, SC, "i", "j", shapes=sf).ok


JACOBIANS = [
    (r"A X B", "X"), (r"A X", "X"), (r"X B", "X"), (r"S x", "x"), (r"\sigma(W x)", "x"), (r"\exp(X)", "X"),
    (r"S^{-1}", "S"), (r"x x^\top", "x"), (r"X \odot X", "X"), (r"\lambda X", "X"), (r"X \oslash Y", "X"),
    (r"\operatorname{tr}(S C) a", "S"), (r"(a^\top x) x", "x"), (r"X_{ij}", "X"), (r"x_{i}", "x"), (r"\frac{A X}{\lambda}", "X"),
    (r"\operatorname{vec}(X)", "X"), (r"A X B + W Y B", "X"),
]


@pytest.mark.parametrize("latex,wrt", JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_jacobian(latex: str, wrt: str) -> None:
    F = expr_of(latex, SC)
    x = ir.Sym(wrt)
    sf = shapes_for(F, SC)
    J = jacobian(F, x, sf)
    v = verify_jacobian(F, x, J, SC, shapes=sf)
    assert v.ok, (J, v)


def test_jacobian_kronecker_form() -> None:
    F = expr_of(r"A X B", SC)
    J = jacobian(F, ir.Sym("X"), shapes_for(F, SC))
    assert J == ir.Kron(ir.Transpose(ir.Sym("B")), ir.Sym("A"))
    assert verify_jacobian(F, ir.Sym("X"), J, SC).ok  # no help from the table: sizes are explicit


def test_jacobian_needs_commutation_matrix() -> None:
    F = expr_of(r"A X X^\top A^\top", SC)
    with pytest.raises(NotDifferentiable, match="commutation"):
        jacobian(F, ir.Sym("X"), shapes_for(F, SC))


HESSIANS = [
    (r"x^\top S x", "x"), (r"\|W x - z\|^2", "x"), (r"\operatorname{tr}(X^\top S X)", "X"), (r"\operatorname{tr}(X R X^\top)", "X"),
    (r"\frac{1}{2}\|A x - z\|_2^2 + \lambda x^\top x", "x"), (r"a^\top \exp(S x)", "x"), (r"\log \sigma(a^\top x)", "x"),
    (r"\|X\|_F^2", "X"),
]


@pytest.mark.parametrize("latex,wrt", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessian(latex: str, wrt: str) -> None:
    f = expr_of(latex, SC)
    x = ir.Sym(wrt)
    sf = shapes_for(f, SC)
    H = hessian(f, x, sf)
    v = verify_hessian(f, x, H, SC, shapes=sf)
    assert v.ok, (H, v)


def test_hessian_quadratic_form() -> None:
    f = expr_of(r"x^\top S x", SC)
    H = hessian(f, ir.Sym("x"), shapes_for(f, SC))
    assert H == ir.Add((ir.Sym("S"), ir.Transpose(ir.Sym("S"))))


def test_second_differential() -> None:
    f = expr_of(r"x^\top S x", SC)
    d2 = second_differential(f, ir.Sym("x"), shapes_for(f, SC))
    dx = ir.Differential(ir.Sym("x"))
    assert d2 == ir.Mul((ir.Num(Fraction(2)), ir.Transpose(dx), ir.Sym("S"), dx))
    # numerically: d²f(v, v) = vᵀ (S + Sᵀ) v
    sf = shapes_for(f, SC)
    rng = np.random.default_rng(0)
    values, num = instantiate(SC, sf, None, rng, (f,))
    v = rng.standard_normal((values["x"].shape[0], 1))
    got = evaluate(d2, {**values, diff_key("x"): v}, num)
    s = values["S"]
    assert np.allclose(got, v.T @ (s + s.T) @ v)


def test_entry_of_itself() -> None:
    f = expr_of(r"X_{ij}", SC)
    assert component(f, ir.Sym("X"), "i", "j", shapes_for(f, SC)) == ir.Num(Fraction(1))
    g = expr_of(r"X_{kl}", SC)
    d = component(g, ir.Sym("X"), "i", "j", shapes_for(g, SC))
    assert verify_component(g, ir.Sym("X"), d, SC).ok  # (E_ij)_kl: a Kronecker delta


def test_derive_dispatch() -> None:
    chain = expr_of(r"\frac{\partial}{\partial X_{ij}} A X B", SC)
    sf = shapes_for(chain, SC)
    d = derive(chain, sf)
    assert isinstance(d, ir.Mul) and ir.Basis("i", "j") in d.factors
    g = expr_of(r"\nabla_X \operatorname{tr}(A X B V)", SC)
    assert verify_gradient(g.f, ir.Sym("X"), derive(g, shapes_for(g, SC)), SC).ok
    with pytest.raises(NotDifferentiable):
        m = expr_of(r"\frac{\partial}{\partial X} A X", SC)
        derive(m, shapes_for(m, SC))


def test_not_differentiable_messages() -> None:
    for latex, wrt, word in [(r"\|S\|_2", "S", "norm"), (r"\mathbf{1}^\top \operatorname{vec}(X)", "X", "unvec"),
                             (r"\operatorname{tr}(X \otimes Y)", "X", "reshaping")]:
        f = expr_of(latex, SC)
        with pytest.raises(NotDifferentiable, match=word):
            gradient(f, ir.Sym(wrt), shapes_for(f, SC))
    f = expr_of(r"\operatorname{rank}(X)", SC)
    assert isinstance(f, ir.Opaque)
    with pytest.raises(NotDifferentiable, match="rank"):
        differential(f, {"X"}, shapes_for(f, SC))


# ---------------------------------------------------------------- simplify


def simp(latex: str, sc: Scope = SC) -> ir.Expr:
    e = expr_of(latex, sc)
    s = simplify(e, shapes_for(e, sc))
    assert verify_identity(e, s, sc).ok, (e, s)
    return s


def test_simplify_structural() -> None:
    X, A, B, S = (ir.Sym(n) for n in "XABS")
    assert simp(r"(A X B)^\top") == ir.Mul((ir.Transpose(B), ir.Transpose(X), ir.Transpose(A)))
    assert simp(r"(S^{-1})^\top") == ir.Inverse(ir.Transpose(S))
    assert simp(r"E_{ij}^\top") == ir.Basis("j", "i")
    assert simp(r"\frac{1}{2} X + \frac{1}{2} X") == X
    assert simp(r"X + X") == ir.Mul((ir.Num(Fraction(2)), X))
    assert simp(r"X - X") == ir.Zero()
    assert simp(r"I A X") == ir.Mul((A, X))
    assert simp(r"S S^{-1} C") == ir.Sym("C")
    assert simp(r"S S S") == ir.Power(S, ir.Num(Fraction(3)))
    assert simp(r"((X^\top)^\top)") == X
    assert simp(r"-(-X)") == X
    assert simp(r"2 (3 X)") == ir.Mul((ir.Num(Fraction(6)), X))
    assert simp(r"A X B + A Y B") == ir.Mul((A, ir.Add((X, ir.Sym("Y"))), B))
    assert simp(r"\operatorname{tr}(S C) + \operatorname{tr}(C S)") == ir.Mul((ir.Num(Fraction(2)), ir.Func("tr", ir.Mul((S, ir.Sym("C"))))))
    assert simp(r"(x - y)^\top") == ir.Transpose(ir.Add((ir.Sym("x"), ir.Neg(ir.Sym("y")))))
    assert simp(r"(S C)^{-1}") == ir.Mul((ir.Inverse(ir.Sym("C")), ir.Inverse(S)))


def test_simplify_symmetric_and_basis() -> None:
    sc = scope_of(C="symmetric")
    assert simp(r"C^\top x", sc) == ir.Mul((ir.Sym("C"), ir.Sym("x")))
    sc2 = scope_of(r"X \in \mathbb{R}^{n\times p}, A \in \mathbb{R}^{n\times p}")
    e = simp(r"(X \odot E_{ij}) \mathbf{1}_p", sc2)
    assert e == ir.Mul((ir.Entry(ir.Sym("X"), "i", "j"), ir.UnitVec("i")))
    assert simp(r"e_i e_j^\top", sc2) == ir.Basis("i", "j")


def test_simplify_is_bounded() -> None:
    e = expr_of(" + ".join(["A X B"] * 400), SC)
    s = simplify(e, shapes_for(e, SC))
    assert s == ir.Mul((ir.Num(Fraction(400)), ir.Sym("A"), ir.Sym("X"), ir.Sym("B")))
    deep = ir.Sym("S")
    for _ in range(3000):
        deep = ir.Transpose(deep)
    st = shapes_for(ir.Sym("S"), SC)
    assert simplify(deep, st) in (deep, ir.Sym("S"))  # never raises


# ---------------------------------------------------------------- numeric


def test_evaluate_nodes() -> None:
    sc = SC
    e = expr_of(r"\operatorname{vec}(X)", sc)
    sf = shapes_for(e, sc)
    values, num = instantiate(sc, sf, None, np.random.default_rng(1))  # no trees: every declared symbol
    xv = values["X"]
    assert np.allclose(evaluate(e, values, num), xv.reshape(-1, 1, order="F"))
    n, m = xv.shape
    assert n != m and len({n, m, values["A"].shape[0], values["B"].shape[1]}) == 4  # distinct primes
    for latex, want in [
        (r"\|X\|_F", np.linalg.norm(xv)),
        (r"\operatorname{tr}(S)", np.trace(values["S"])),
        (r"|S|", np.linalg.det(values["S"])),
        (r"\log\det S", np.log(abs(np.linalg.det(values["S"])))),
        (r"X : Y", np.sum(xv * values["Y"])),
        (r"X_{ij}", xv[1, 2]),
        (r"S^{-2}", np.linalg.matrix_power(np.linalg.inv(values["S"]), 2)),
        (r"\operatorname{diag}(x)", np.diag(values["x"][:, 0])),
        (r"\sigma(\lambda)", 1 / (1 + np.exp(-values["\\lambda"][0, 0]))),
    ]:
        ex = expr_of(latex, sc)
        sfx = shapes_for(ex, sc)
        _, numx = instantiate(sc, sfx, None, np.random.default_rng(1), (ex,))
        got = evaluate(ex, values, numx, {"i": 1, "j": 2})
        assert np.allclose(got, np.atleast_2d(want)), latex


def test_random_values_honour_assumptions() -> None:
    rng = np.random.default_rng(3)
    s = random_value(5, 5, {"spd"}, rng)
    assert np.allclose(s, s.T) and np.all(np.linalg.eigvalsh(s) > 0)
    q = random_value(5, 5, {"orthogonal"}, rng)
    assert np.allclose(q.T @ q, np.eye(5))
    y = random_value(5, 5, {"symmetric"}, rng)
    assert np.allclose(y, y.T) and np.linalg.det(y) > 0
    d = random_value(5, 5, {"diagonal"}, rng)
    assert np.allclose(d, np.diag(np.diag(d)))
    g = random_value(5, 5, set(), rng)
    assert np.linalg.cond(g) < 4 and np.linalg.det(g) > 0 and not np.allclose(g, g.T)


def test_verify_fails_closed() -> None:
    f = expr_of(r"a^\top X b", SC)
    x = ir.Sym("X")
    wrong = expr_of(r"b a^\top", SC)  # transposed: shapes differ (distinct primes)
    v = verify_gradient(f, x, wrong, SC)
    assert not v.ok and v.reason
    opaque = expr_of(r"\operatorname{rank}(X)", SC)
    assert not verify_gradient(f, x, opaque, SC).ok
    sing = expr_of(r"\log(\lambda - \lambda)", SC)
    assert not verify_identity(sing, sing, SC).ok  # -inf: not finite
    assert not verify_gradient(f, x, expr_of(r"2 a b^\top", SC), SC).ok


def test_verify_catches_wrong_transpose_in_square_case() -> None:
    f = expr_of(r"\operatorname{tr}(S C)", SC)
    assert verify_gradient(f, ir.Sym("S"), expr_of(r"C^\top", SC), SC).ok
    assert not verify_gradient(f, ir.Sym("S"), expr_of(r"C", SC), SC).ok


# ---------------------------------------------------------------- property: random products and sums


SIZES = {"n": 0, "m": 1}
# name -> (rows, cols) in terms of the size keys above
MATS = {"X": ("n", "m"), "Y": ("n", "m"), "S": ("n", "n"), "T": ("n", "n"), "R": ("m", "m"), "C": ("n", "n")}
SQUARE = {"S", "T", "R", "C"}


@st.composite
def chains(draw, start: str, end: str, depth: int = 0) -> str:
    """A LaTeX product from size `start` to size `end`, with transposes, inverses and sums."""
    parts: list[str] = []
    cur = start
    for _ in range(draw(st.integers(1, 4))):
        options = []
        for name, (r, c) in MATS.items():
            if r == cur:
                options.append((name, c))
            if c == cur:
                options.append((name + r"^\top", r))
            if name in SQUARE and r == cur:
                options.append((name + "^{-1}", c))
        tok, nxt = draw(st.sampled_from(options))
        if depth < 1 and draw(st.booleans()) and draw(st.booleans()):
            tok = "(" + tok + " + " + draw(chains(cur, nxt, depth + 1)) + ")"
        parts.append(tok)
        cur = nxt
    if cur != end:
        bridge = {("n", "m"): "X", ("m", "n"): r"X^\top", ("n", "n"): "S", ("m", "m"): "R"}[(cur, end)]
        parts.append(bridge)
    return " ".join(parts)


@st.composite
def scalar_functions(draw) -> str:
    kind = draw(st.sampled_from(["tr", "quad", "frob", "logdet"]))
    if kind == "tr":
        return r"\operatorname{tr}(" + draw(chains("n", "n")) + ")"
    if kind == "quad":
        return r"a^\top " + draw(chains("n", "m")) + " b"
    if kind == "frob":
        return r"\|" + draw(chains("n", "m")) + r"\|_F^2"
    return r"\log\det(" + draw(chains("m", "m")) + ")"  # m < n: an m×m product is invertible


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(scalar_functions(), st.sampled_from(["X", "S", "Y", "R"]))
def test_property_gradient_always_verifies(latex: str, wrt: str) -> None:
    sc = SC
    f = expr_of(latex, sc)
    x = ir.Sym(wrt)
    sf = shapes_for(f, sc)
    assert not sf.problems, latex
    g = gradient(f, x, sf)
    v = verify_gradient(f, x, g, sc)
    assert v.ok, (latex, g, v)
    raw = gradient(f, x, sf, simplified=False)
    assert verify_identity(raw, g, sc).ok  # the simplifier kept the value


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(chains("n", "m"), st.sampled_from(["X", "S", "Y", "R"]))
def test_property_component_always_verifies(latex: str, wrt: str) -> None:
    F = expr_of(latex, SC)
    x = ir.Sym(wrt)
    sf = shapes_for(F, SC)
    d = component(F, x, "i", "j", sf)
    assert verify_component(F, x, d, SC, "i", "j", shapes=sf).ok, (latex, d)
