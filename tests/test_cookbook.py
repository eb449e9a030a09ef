"""Matrix Cookbook (Petersen & Pedersen, ch. 2) identities as papers write them.

For each: parse, compute the derivative with mcls, and check numerically that
(a) mcls's result matches central finite differences and (b) the Cookbook's
stated right-hand side matches too (and so equals mcls's result).
"""

from __future__ import annotations

import pytest

from mcls import ir
from mcls.calculus import as_derivative, component, gradient, shapes_for
from mcls.parse import parse_expr, parse_math
from mcls.scope import Scope, declarations_in, resolve
from mcls.verify import verify_component, verify_gradient, verify_identity

SQ = r"X, A, B, C, D \in \mathbb{R}^{n\times n}, a, b, c, d, x \in \mathbb{R}^{n}"
RECT = r"X \in \mathbb{R}^{n\times m}, A \in \mathbb{R}^{p\times n}, B \in \mathbb{R}^{m\times q}, a \in \mathbb{R}^{n}, b \in \mathbb{R}^{m}"

# (id, declarations, identity, assumptions)
CASES = [
    # 2.4.1 first order
    ("69 x^T a", SQ, r"\frac{\partial x^\top a}{\partial x} = a", {}),
    ("69 a^T x", SQ, r"\frac{\partial a^\top x}{\partial x} = a", {}),
    ("70 a^T X b", RECT, r"\frac{\partial a^\top X b}{\partial X} = a b^\top", {}),
    ("71 a^T X^T b", r"X \in \mathbb{R}^{n\times m}, a \in \mathbb{R}^{m}, b \in \mathbb{R}^{n}", r"\frac{\partial a^\top X^\top b}{\partial X} = b a^\top", {}),
    ("72 a^T X a", SQ, r"\frac{\partial a^\top X a}{\partial X} = a a^\top", {}),
    ("73 X_ij", RECT, r"\frac{\partial X}{\partial X_{ij}} = E_{ij}", {}),
    ("77 b^T X^T X c", r"X \in \mathbb{R}^{n\times m}, b, c \in \mathbb{R}^{m}", r"\frac{\partial}{\partial X} b^\top X^\top X c = X (bc^\top + cb^\top)", {}),
    ("78 (Bx+b)^T C (Dx+d)", r"C \in \mathbb{R}^{n\times n}, x \in \mathbb{R}^{m}, b, d \in \mathbb{R}^{n}, B, D \in \mathbb{R}^{n\times m}",
     r"\frac{\partial}{\partial x} (Bx+b)^\top C (Dx+d) = B^\top C (Dx + d) + D^\top C^\top (Bx + b)", {}),
    ("79 (X^T B X)_kl", r"X \in \mathbb{R}^{n\times m}, B \in \mathbb{R}^{n\times n}",
     r"\frac{\partial (X^\top B X)}{\partial X_{ij}} = X^\top B E_{ij} + E_{ji} B X", {}),
    ("81 x^T B x", SQ, r"\frac{\partial}{\partial x} x^\top B x = (B + B^\top) x", {}),
    ("82 b^T X^T D X c", r"X \in \mathbb{R}^{n\times m}, D \in \mathbb{R}^{n\times n}, b, c \in \mathbb{R}^{m}",
     r"\frac{\partial}{\partial X} b^\top X^\top D X c = D^\top X b c^\top + D X c b^\top", {}),
    ("83 (Xb+c)^T D (Xb+c)", r"X \in \mathbb{R}^{n\times m}, D \in \mathbb{R}^{n\times n}, b \in \mathbb{R}^{m}, c \in \mathbb{R}^{n}",
     r"\frac{\partial}{\partial X} (Xb + c)^\top D (Xb + c) = (D + D^\top)(Xb + c) b^\top", {}),
    ("84 x^T B x symmetric", SQ, r"\frac{\partial}{\partial x} x^\top B x = 2 B x", {"B": {"symmetric"}}),
    ("x^T x", SQ, r"\frac{\partial}{\partial x} x^\top x = 2x", {}),
    ("least squares", r"A \in \mathbb{R}^{m\times n}, x \in \mathbb{R}^{n}, b \in \mathbb{R}^{m}",
     r"\frac{\partial}{\partial x} \frac{1}{2}\|Ax - b\|_2^2 = A^\top (Ax - b)", {}),
    ("(Ax-b)^T(Ax-b)", r"A \in \mathbb{R}^{m\times n}, x \in \mathbb{R}^{n}, b \in \mathbb{R}^{m}",
     r"\frac{\partial}{\partial x} (Ax - b)^\top (Ax - b) = 2 A^\top (Ax - b)", {}),
    ("a^T X^-1 b (61)", SQ, r"\frac{\partial a^\top X^{-1} b}{\partial X} = -X^{-\top} a b^\top X^{-\top}", {}),
    # 2.1 determinants
    ("49 det X", SQ, r"\frac{\partial \det(X)}{\partial X} = \det(X) X^{-\top}", {}),
    ("49 |X|", SQ, r"\frac{\partial |X|}{\partial X} = |X| X^{-\top}", {}),
    ("51 det(AXB)", SQ, r"\frac{\partial \det(AXB)}{\partial X} = \det(AXB) X^{-\top}", {}),
    ("52 det(X^T A X)", r"X \in \mathbb{R}^{n\times m}, A \in \mathbb{R}^{n\times n}",
     r"\frac{\partial \det(X^\top A X)}{\partial X} = \det(X^\top A X) (A X (X^\top A X)^{-1} + A^\top X (X^\top A^\top X)^{-1})", {}),
    ("53 det(X^2)", SQ, r"\frac{\partial \det(X^2)}{\partial X} = 2 \det(X^2) X^{-\top}", {}),
    ("57 log|det X|", SQ, r"\frac{\partial}{\partial X}\log|\det X| = X^{-\top}", {}),
    ("57 log|X|", SQ, r"\frac{\partial \log|X|}{\partial X} = X^{-\top}", {}),
    ("log det X", SQ, r"\frac{\partial}{\partial X}\log\det X = X^{-\top}", {}),
    ("log det Sigma spd", r"\Sigma \in \mathbb{R}^{n\times n}", r"\frac{\partial}{\partial \Sigma}\log\det \Sigma = \Sigma^{-1}", {"\\Sigma": {"spd"}}),
    # 2.2 inverses
    ("63 tr(A X^-1 B)", SQ, r"\frac{\partial}{\partial X}\operatorname{tr}(A X^{-1} B) = -X^{-\top} A^\top B^\top X^{-\top}", {}),
    ("tr(X^-1 A)", SQ, r"\frac{\partial \operatorname{tr}(X^{-1}A)}{\partial X} = -X^{-\top}A^\top X^{-\top}", {}),
    # 2.5 traces, first order
    ("99 tr X", SQ, r"\frac{\partial}{\partial X}\operatorname{tr}(X) = I", {}),
    ("100 tr(XA)", SQ, r"\frac{\partial}{\partial X}\operatorname{tr}(XA) = A^\top", {}),
    ("101 tr(AXB)", r"X \in \mathbb{R}^{n\times m}, A \in \mathbb{R}^{p\times n}, B \in \mathbb{R}^{m\times p}",
     r"\frac{\partial}{\partial X}\operatorname{tr}(AXB) = A^\top B^\top", {}),
    ("102 tr(AX^TB)", r"X \in \mathbb{R}^{n\times m}, A \in \mathbb{R}^{p\times m}, B \in \mathbb{R}^{n\times p}",
     r"\frac{\partial}{\partial X}\operatorname{tr}(AX^\top B) = BA", {}),
    ("103 tr(X^TA)", RECT.replace(r"A \in \mathbb{R}^{p\times n}", r"A \in \mathbb{R}^{n\times m}"), r"\frac{\partial}{\partial X}\operatorname{Tr}(X^\top A) = A", {}),
    ("104 tr(AX^T)", RECT.replace(r"A \in \mathbb{R}^{p\times n}", r"A \in \mathbb{R}^{n\times m}"), r"\frac{\partial}{\partial X}\operatorname{tr}(AX^\top) = A", {}),
    ("105 tr(A kron X)", SQ.replace(r"A, ", "") + r", A \in \mathbb{R}^{m\times m}", r"\frac{\partial}{\partial X}\operatorname{tr}(A \otimes X) = \operatorname{tr}(A) I", {}),
    # 2.5 traces, second order
    ("106 tr(X^2)", SQ, r"\frac{\partial}{\partial X}\operatorname{tr}(X^2) = 2X^\top", {}),
    ("107 tr(X^2 B)", SQ, r"\frac{\partial}{\partial X}\operatorname{tr}(X^2 B) = (XB + BX)^\top", {}),
    ("108 tr(X^T B X)", r"X \in \mathbb{R}^{n\times m}, B \in \mathbb{R}^{n\times n}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(X^\top B X) = BX + B^\top X", {}),
    ("109 tr(B X X^T)", r"X \in \mathbb{R}^{n\times m}, B \in \mathbb{R}^{n\times n}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(B X X^\top) = BX + B^\top X", {}),
    ("110 tr(X X^T B)", r"X \in \mathbb{R}^{n\times m}, B \in \mathbb{R}^{n\times n}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(X X^\top B) = BX + B^\top X", {}),
    ("111 tr(X B X^T)", r"X \in \mathbb{R}^{n\times m}, B \in \mathbb{R}^{m\times m}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(X B X^\top) = X B^\top + X B", {}),
    ("112 tr(B X^T X)", r"X \in \mathbb{R}^{n\times m}, B \in \mathbb{R}^{m\times m}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(B X^\top X) = X B^\top + X B", {}),
    ("113 tr(X^T X B)", r"X \in \mathbb{R}^{n\times m}, B \in \mathbb{R}^{m\times m}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(X^\top X B) = X B^\top + X B", {}),
    ("114 tr(AXBX)", SQ, r"\frac{\partial}{\partial X} \operatorname{tr}(AXBX) = A^\top X^\top B^\top + B^\top X^\top A^\top", {}),
    ("115 ||X||_F^2", RECT, r"\frac{\partial}{\partial X}\|X\|_F^2 = 2X", {}),
    ("115 tr(X^T X)", RECT, r"\frac{\partial}{\partial X}\operatorname{tr}(X^\top X) = 2X", {}),
    ("116 tr(B^T X^T C X B)", r"X \in \mathbb{R}^{n\times m}, C \in \mathbb{R}^{n\times n}, B \in \mathbb{R}^{m\times p}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(B^\top X^\top C X B) = C^\top X B B^\top + C X B B^\top", {}),
    ("117 tr(X^T B X C)", r"X \in \mathbb{R}^{n\times m}, B \in \mathbb{R}^{n\times n}, C \in \mathbb{R}^{m\times m}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(X^\top B X C) = B X C + B^\top X C^\top", {}),
    ("118 tr(A X B X^T C)", r"X \in \mathbb{R}^{n\times m}, A \in \mathbb{R}^{p\times n}, B \in \mathbb{R}^{m\times m}, C \in \mathbb{R}^{n\times p}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(A X B X^\top C) = A^\top C^\top X B^\top + C A X B", {}),
    ("119 tr((AXB+C)(AXB+C)^T)", r"X \in \mathbb{R}^{n\times m}, A \in \mathbb{R}^{p\times n}, B \in \mathbb{R}^{m\times q}, C \in \mathbb{R}^{p\times q}",
     r"\frac{\partial}{\partial X} \operatorname{tr}\left[(AXB + C)(AXB + C)^\top\right] = 2 A^\top (AXB + C) B^\top", {}),
    ("120 tr(X kron X)", SQ, r"\frac{\partial}{\partial X}\operatorname{tr}(X \otimes X) = 2\operatorname{tr}(X) I", {}),
    # 2.5 higher order
    ("121 tr(X^3)", SQ, r"\frac{\partial}{\partial X}\operatorname{tr}(X^3) = 3 (X^2)^\top", {}),
    ("122 tr(A X^3)", SQ, r"\frac{\partial}{\partial X}\operatorname{tr}(A X^3) = (A X^2 + X A X + X^2 A)^\top", {}),
    ("123 tr(B^T X^T C X X^T C X B)", r"X \in \mathbb{R}^{n\times m}, C \in \mathbb{R}^{n\times n}, B \in \mathbb{R}^{m\times p}",
     r"\frac{\partial}{\partial X} \operatorname{tr}(B^\top X^\top C X X^\top C X B) = C X X^\top C X B B^\top + C^\top X B B^\top X^\top C^\top X + C X B B^\top X^\top C X + C^\top X X^\top C^\top X B B^\top", {}),
    # 2.6 norms, 2.7 others
    ("129 ||x - a||_2", SQ, r"\frac{\partial}{\partial x}\|x - a\|_2 = \frac{x - a}{\|x - a\|_2}", {}),
    ("||X||_F", RECT, r"\frac{\partial}{\partial X}\|X\|_F = \frac{X}{\|X\|_F}", {}),
    ("131 ||x||^2", SQ, r"\frac{\partial \|x\|_2^2}{\partial x} = 2x", {}),
    ("Frobenius <A, X>", RECT.replace(r"A \in \mathbb{R}^{p\times n}", r"A \in \mathbb{R}^{n\times m}"), r"\frac{\partial}{\partial X}\langle A, X\rangle = A", {}),
    ("Hadamard tr(A^T (X o B))", r"X, A, B \in \mathbb{R}^{n\times m}",
     r"\frac{\partial}{\partial X}\operatorname{tr}(A^\top (X \odot B)) = A \odot B", {}),
    ("logistic log sigma(w^T x)", r"w, x \in \mathbb{R}^{n}",
     r"\frac{\partial}{\partial w} \log \sigma(w^\top x) = (1 - \sigma(w^\top x)) x", {}),
    ("exp(a^T x)", SQ, r"\frac{\partial}{\partial x} \exp(a^\top x) = \exp(a^\top x) a", {}),
    ("x^T A^-1 x", SQ, r"\frac{\partial}{\partial A} x^\top A^{-1} x = -A^{-\top} x x^\top A^{-\top}", {}),
    ("Gaussian log-likelihood", r"\Sigma \in \mathbb{R}^{n\times n}, x, \mu \in \mathbb{R}^{n}",
     r"\frac{\partial}{\partial \Sigma}\left(-\frac{1}{2}\log\det\Sigma - \frac{1}{2}(x-\mu)^\top \Sigma^{-1}(x-\mu)\right) = -\frac{1}{2}\Sigma^{-1} + \frac{1}{2}\Sigma^{-1}(x-\mu)(x-\mu)^\top\Sigma^{-1}",
     {"\\Sigma": {"spd"}}),
]


def _scope(decls: str, assume: dict[str, set[str]]) -> Scope:
    sc = Scope()
    for st in parse_math(decls).math.statements:
        for d in declarations_in(st):
            sc.declare(d)
    for k, v in assume.items():
        sc.assumptions.setdefault(k, set()).update(v)
    return sc


def test_at_least_forty_identities() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name,decls,identity,assume", CASES, ids=[c[0] for c in CASES])
def test_cookbook_identity(name: str, decls: str, identity: str, assume: dict) -> None:
    sc = _scope(decls, assume)
    chain = resolve(parse_expr(identity), sc)
    assert isinstance(chain, ir.Chain) and chain.ops == ("=",), chain
    d = as_derivative(chain.parts[0])
    assert d is not None, chain.parts[0]
    rhs = chain.parts[1]
    if isinstance(d.wrt, ir.Entry):
        x = d.wrt.of
        st = shapes_for(d.f, sc)
        got = component(d.f, x, d.wrt.i, d.wrt.j, st)
        mine = verify_component(d.f, x, got, sc, d.wrt.i, d.wrt.j)
        theirs = verify_component(d.f, x, rhs, sc, d.wrt.i, d.wrt.j)
    else:
        x = d.wrt
        st = shapes_for(d.f, sc)
        got = gradient(d.f, x, st)
        mine = verify_gradient(d.f, x, got, sc)
        theirs = verify_gradient(d.f, x, rhs, sc)
    assert mine.ok, (name, got, mine)
    assert theirs.ok, (name, rhs, theirs)
    same = verify_identity(got, rhs, sc)
    assert same.ok, (name, got, rhs, same)
