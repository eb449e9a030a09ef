"""The two hand derivations mcls must reproduce (/work/shared/seeds/*.txt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcls import ir
from mcls.calculus import as_derivative, component, differential, gradient, shapes_for
from mcls.parse import parse_expr, parse_math
from mcls.scope import Scope, declarations_in, resolve
from mcls.verify import verify_component, verify_differential, verify_gradient, verify_identity

SEEDS = Path("/work/shared/seeds")


def scope_of(decls: str) -> Scope:
    sc = Scope()
    for stmt in parse_math(decls).math.statements:
        for d in declarations_in(stmt):
            sc.declare(d)
    return sc


def contains(tree: ir.Expr, node: ir.Expr) -> bool:
    return any(n == node for n in tree.walk())


# ---------------------------------------------------------------- seed 1: Gram matrix differential

GRAM = r"A \in \mathbb{R}^{n\times n}, X \in \mathbb{R}^{n\times m}, b, c \in \mathbb{R}^{m}"


def test_gram_component() -> None:
    sc = scope_of(GRAM)
    M = resolve(parse_expr(r"A X X^\top A^\top"), sc)
    X = ir.Sym("X")
    st = shapes_for(M, sc)
    D = component(M, X, "i", "j", st)
    # structurally: the transpose of the basis matrix is written E_{ji}
    assert contains(D, ir.Basis("j", "i"))
    assert not any(isinstance(n, ir.Transpose) and isinstance(n.x, ir.Basis) for n in D.walk())
    # and the whole answer has the seed's shape A(E_ij Xᵀ + X E_ji)Aᵀ
    assert D == resolve(parse_expr(r"A(E_{ij} X^\top + X E_{ji})A^\top"), sc)
    assert verify_component(M, X, D, sc).ok
    answer = resolve(parse_expr(r"A(E_{ij} X^\top + X E_{ji})A^\top"), sc)
    assert verify_component(M, X, answer, sc).ok
    assert verify_identity(D, answer, sc).ok
    # the second answer's unsimplified form A E_ij Xᵀ Aᵀ + A X E_ijᵀ Aᵀ is the same number
    other = resolve(parse_expr(r"A E_{ij} X^\top A^\top + A X E_{ij}^\top A^\top"), sc)
    assert verify_identity(D, other, sc).ok


def test_gram_wrong_answers_fail() -> None:
    sc = scope_of(GRAM)
    M = resolve(parse_expr(r"A X X^\top A^\top"), sc)
    for wrong in (r"A(E_{ij} X^\top + X E_{ij})A^\top", r"A(E_{ij} X^\top + X E_{ji})A", r"2 A E_{ij} X^\top A^\top"):
        assert not verify_component(M, ir.Sym("X"), resolve(parse_expr(wrong), sc), sc).ok, wrong


def test_gram_directional_derivative() -> None:
    """dM = A(dX Xᵀ + X dXᵀ)Aᵀ: the answer's directional derivative with Y = dX."""
    sc = scope_of(GRAM)
    M = resolve(parse_expr(r"A X X^\top A^\top"), sc)
    st = shapes_for(M, sc)
    dM = differential(M, {"X"}, st)
    dX = ir.Differential(ir.Sym("X"))
    assert contains(dM, ir.Transpose(dX)) and contains(dM, dX)
    assert verify_differential(M, ["X"], dM, sc).ok


def test_gram_cookbook_identity() -> None:
    sc = scope_of(GRAM)
    chain = resolve(parse_expr(r"\frac{\partial}{\partial X} b^\top X^\top X c = X (bc^\top + cb^\top)"), sc)
    d = as_derivative(chain.parts[0])
    X = ir.Sym("X")
    G = gradient(d.f, X, shapes_for(d.f, sc))
    assert verify_gradient(d.f, X, G, sc).ok
    assert verify_gradient(d.f, X, chain.parts[1], sc).ok
    assert verify_identity(G, chain.parts[1], sc).ok
    # X(...) with the sum of the two outer products inside, as the Cookbook writes it
    assert isinstance(G, ir.Mul) and G.factors[0] == X and isinstance(G.factors[1], ir.Add)


@pytest.mark.skipif(not (SEEDS / "gram-matrix-differential.txt").exists(), reason="seed file not present")
def test_gram_from_the_document() -> None:
    """End to end: declarations from the prose ("A is n×n and X is n×m"), M from its definition."""
    from mcls.analysis import analyze

    doc = analyze((SEEDS / "gram-matrix-differential.txt").read_text(), "markdown")
    definition = next(st for ra in doc.regions for st in ra.statements
                      if st.ops[:1] == ("=",) and st.parts[0] == ir.Sym("M"))
    M = definition.parts[1]
    D = component(M, ir.Sym("X"), "i", "j", shapes_for(M, doc.scope))
    assert contains(D, ir.Basis("j", "i"))
    assert verify_component(M, ir.Sym("X"), D, doc.scope).ok


# ---------------------------------------------------------------- seed 2: Hadamard product

HAD = r"\mathbf{X} \in \mathbb{R}^{n \times p}, \mathbf{A} \in \mathbb{R}^{n \times p}"
HAD_PLAIN = r"X \in \mathbb{R}^{n \times p}, A \in \mathbb{R}^{n \times p}"


def test_hadamard_component() -> None:
    sc = scope_of(HAD)
    y = resolve(parse_expr(r"(\mathbf{X}\odot\mathbf{A})\mathbf{1}_p"), sc)
    A = ir.Sym(r"\mathbf{A}")
    D = component(y, A, "i", "j", shapes_for(y, sc))
    assert verify_component(y, A, D, sc).ok
    stated = resolve(parse_expr(r"(\mathbf{X}\odot E_{ij})\mathbf{1}_p"), sc)
    assert verify_component(y, A, stated, sc).ok
    # = x_ij e_i, which is also what the simplifier writes
    assert D == ir.Mul((ir.Entry(ir.Sym(r"\mathbf{X}"), "i", "j"), ir.UnitVec("i")))
    assert verify_identity(D, stated, sc).ok


def test_hadamard_row_gradient() -> None:
    sc = scope_of(HAD_PLAIN)
    yk = resolve(parse_expr(r"e_k^\top(X\odot A)\mathbf 1"), sc)
    A = ir.Sym("A")
    G = gradient(yk, A, shapes_for(yk, sc))
    assert verify_gradient(yk, A, G, sc).ok
    stated = resolve(parse_expr(r"E_{kk} X"), sc)
    assert verify_gradient(yk, A, stated, sc).ok
    assert G == stated  # the seed's E_kk X exactly


def test_hadamard_frobenius_form() -> None:
    """The seed's steps: (e_k 1ᵀ) : (X ⊙ A) = (X ⊙ e_k 1ᵀ) : A = (E_kk X) : A."""
    sc = scope_of(HAD_PLAIN)
    A = ir.Sym("A")
    for step in (r"(e_k \mathbf{1}^\top) : (X \odot A)", r"(X \odot e_k \mathbf{1}^\top) : A", r"(E_{kk} X) : A"):
        f = resolve(parse_expr(step), sc)
        G = gradient(f, A, shapes_for(f, sc))
        assert verify_gradient(f, A, G, sc).ok, step
        assert verify_gradient(f, A, resolve(parse_expr(r"E_{kk} X"), sc), sc).ok, step


def test_hadamard_wrong_answer_fails() -> None:
    sc = scope_of(HAD_PLAIN)
    yk = resolve(parse_expr(r"e_k^\top(X\odot A)\mathbf 1"), sc)
    assert not verify_gradient(yk, ir.Sym("A"), resolve(parse_expr(r"X E_{kk}"), sc), sc).ok
    assert not verify_gradient(yk, ir.Sym("A"), resolve(parse_expr(r"E_{kk} A"), sc), sc).ok
