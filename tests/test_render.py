"""Rendering: LaTeX round trips, the author's style, Unicode, NumPy code."""

from __future__ import annotations

from dataclasses import fields, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mcls import ir
from mcls.parse import parse_expr, parse_math
from mcls.render.latex import to_latex
from mcls.render.numpy_code import (compile_numpy_function, python_name, python_names, size_table, sizes_from_arguments,
                                    to_numpy_function)
from mcls.render.style import Style, detect_style
from mcls.render.unicode import to_unicode
from mcls.scope import Scope, declarations_in, resolve
from mcls.shapes import ShapeChecker

SEEDS = Path("/work/shared/seeds")

DECLS = r"""X \in \mathbb{R}^{n\times m} \\ A \in \mathbb{R}^{n\times n} \\ x \in \mathbb{R}^{n} \\ b \in \mathbb{R}^{n}
\\ \mathbf{X} \in \mathbb{R}^{n\times p} \\ \mathbf{A} \in \mathbb{R}^{n\times p} \\ Z \in \mathbb{R}^{n\times m}"""


def _scope(decls: str = DECLS) -> Scope:
    sc = Scope()
    for st in parse_math(decls).math.statements:
        for d in declarations_in(st):
            sc.declare(d)
    return sc


SCOPE = _scope()


def P(latex: str, scope: Scope = SCOPE) -> ir.Expr:
    return resolve(parse_expr(latex), scope)


def norm(x: ir.Expr) -> ir.Expr:
    """Canonical form modulo what rendering may legitimately change: flattened sums and
    products, one leading numeric coefficient, ``-x`` = ``(-1) x``, ``0``, ``\\frac{1}{2}``."""
    if isinstance(x, ir.Zero):
        return ir.Num(Fraction(0))
    if isinstance(x, ir.Div) and isinstance(x.num, ir.Num) and isinstance(x.den, ir.Num):
        return ir.Num(x.num.value / x.den.value)
    if isinstance(x, ir.Neg):
        return norm(ir.Mul((ir.Num(Fraction(-1)), x.x)))
    if isinstance(x, ir.Mul):
        c, rest = Fraction(1), []
        for f in (norm(f) for f in x.factors):
            for g in f.factors if isinstance(f, ir.Mul) else (f,):
                if isinstance(g, ir.Num):
                    c *= g.value
                else:
                    rest.append(g)
        if not rest:
            return ir.Num(c)
        if c == 1:
            return rest[0] if len(rest) == 1 else ir.Mul(tuple(rest))
        return ir.Mul((ir.Num(c),) + tuple(rest))
    if isinstance(x, ir.Add):
        terms: list[ir.Expr] = []
        for t in (norm(t) for t in x.terms):
            terms.extend(t.terms if isinstance(t, ir.Add) else (t,))
        return ir.Add(tuple(terms))
    changes = {}
    for f in fields(x):
        if f.name == "span":
            continue
        v = getattr(x, f.name)
        if isinstance(v, ir.Expr):
            changes[f.name] = norm(v)
        elif isinstance(v, tuple) and v and all(isinstance(e, ir.Expr) for e in v):
            changes[f.name] = tuple(norm(e) for e in v)
    return replace(x, **changes) if changes else x


# ------------------------------------------------------------------ LaTeX round trips

ROUND_TRIP = [
    # the seeds
    r"A(E_{ij}X^\top + XE_{ji})A^\top",
    r"AE_{ij}X^TA^T + AXE_{ij}^TA^T",
    r"(\mathbf{X}\odot E_{ij})\mathbf{1}_p",
    r"E_{kk}X",
    r"x_{ij} e_i",
    r"\operatorname{tr}(X^{-1}A)",
    r"-X^{-\top}A^\top X^{-\top}",
    r"\log\det X",
    r"\|Ax-b\|_2^2",
    r"\frac{1}{2}x^\top A x",
    r"\sigma'(Z)\odot dZ",
    r"\frac{\partial M}{\partial X_{ij}} = A(E_{ij}X^\top + XE_{ji})A^\top",
    r"\frac{dM}{dX}",
    r"y = \left(X\odot A\right)\mathbf{1}",
    r"\left(E_{kk}X\right):A",
    r"A:\left(B\odot C\right) = \left(A\odot B\right):C",
    r"\operatorname{Tr}\left(A^TB\right)",
    r"\|A\|^2_F",
    # precedence and grouping
    r"A - (B - C)",
    r"-(A + B)",
    r"-A + B",
    r"A - 2B",
    r"(-A)B",
    r"A(-B)",
    r"A : (B : C)",
    r"A \otimes (B \otimes C)",
    r"(A \otimes B) \odot C",
    r"A \odot B \otimes C : D + E",
    r"A \odot (B + C)",
    r"A \oslash (B \odot C)",
    r"(AB)^\top",
    r"(X^{-1})^\top",
    r"(A + B)^{-1}",
    r"(x^\top y)^{2}",
    r"\Sigma^{-1}(x - \mu)",
    r"\lambda X + \mu I_{n}",
    r"W_{1}^\top \sigma(W_{1} x + b)",
    # functions
    r"\det(X^\top X)",
    r"(\det X)^{2}",
    r"\operatorname{tr}(X)^{2}",
    r"\mathrm{Tr}(X) + \operatorname{diag}(X) + \operatorname{vec}(X)^\top",
    r"\exp(X) \odot \tanh'(Z)",
    r"\operatorname{relu}'(Z) \odot \operatorname{softplus}(Z)",
    r"\sqrt{x + 1}",
    r"\lvert x\rvert^{2}",
    r"\log\det(X + A)",
    r"\|X\|_F^{2} + \|x\|",
    r"X^{\dagger}",
    r"\langle A, B\rangle",
    # differentials and derivatives
    r"A\,dX\,B",
    r"(dX)^\top + dX^\top",
    r"d(AB) = dA\,B + A\,dB",
    r"\mathrm{d}\mathbf{X}",
    r"d(\ell)",
    r"\frac{\partial (x^\top A x)}{\partial x}",
    r"\frac{\partial}{\partial x}",
    r"\nabla_X f = A^\top",
    # names, constants, statements
    r"e_{i}^\top X e_{j}",
    r"\mathbf{1}_{p}^\top \mathbf{X}^\top",
    r"{d}X + {\sigma}(A + B)",
    r"X \in \mathbb{R}^{n\times p}",
    r"f := x^\top A x",
    r"a = b = c",
    r"\frac{a + b}{c}",
]


@pytest.mark.parametrize("src", ROUND_TRIP)
def test_latex_round_trip(src: str) -> None:
    a = P(src)
    text = to_latex(a)
    b = P(text)
    assert norm(b) == norm(a), f"{src!r} -> {text!r}"
    assert to_latex(b) == text  # rendering is a fixed point after one trip


def test_multichar_index() -> None:
    # readable commas; the parser currently drops them from subscripts (X_{k,10} -> index "k10")
    assert to_latex(ir.Entry(ir.Sym("X"), "k", "10")) == r"X_{k,10}"
    assert to_latex(ir.Entry(ir.Sym("X"), "\\alpha", "j")) == r"X_{\alpha,j}"


def test_round_trip_count() -> None:
    assert len(ROUND_TRIP) >= 40


@pytest.mark.parametrize(
    "src, expected",
    [
        (r"A(E_{ij}X^\top + XE_{ji})A^\top", r"A(E_{ij}X^\top + XE_{ji})A^\top"),
        (r"(\mathbf{X}\odot E_{ij})\mathbf{1}_p", r"(\mathbf{X} \odot E_{ij})\mathbf{1}_{p}"),
        (r"-X^{-\top}A^\top X^{-\top}", r"-X^{-\top}A^\top X^{-\top}"),
        (r"\log\det X", r"\log\det X"),
        (r"\|Ax-b\|_2^2", r"\|Ax - b\|_2^{2}"),
        (r"\frac{1}{2}x^\top A x", r"\frac{1}{2}x^\top Ax"),
        (r"\sigma'(Z)\odot dZ", r"\sigma'(Z) \odot dZ"),
        (r"\lambda X", r"\lambda X"),
        (r"A\,dX\,B", r"A dX B"),
        (r"\det X\, Y", r"\det(X)Y"),
        (r"\frac{\partial M}{\partial X_{ij}}", r"\frac{\partial M}{\partial X_{ij}}"),
        (r"E_{ij}^\top", r"E_{ij}^\top"),
    ],
)
def test_latex_text(src: str, expected: str) -> None:
    assert to_latex(P(src)) == expected


def test_engine_trees() -> None:
    """Trees the calculus builds (not from the parser) render and re-parse."""
    X, A, x = ir.Sym("X"), ir.Sym("A"), ir.Sym("x")
    half = ir.Num(Fraction(1, 2))
    cases = {
        ir.Mul((ir.Num(Fraction(-1, 2)), A)): r"-\frac{1}{2} A",
        ir.Mul((X, ir.Num(Fraction(2)))): r"2 X",
        ir.Mul((ir.Num(Fraction(-1)), X, A)): r"-XA",
        ir.Add((A, ir.Mul((ir.Num(Fraction(-2)), X)), ir.Neg(ir.Transpose(X)))): r"A - 2 X - X^\top",
        ir.Inverse(ir.Transpose(X)): r"X^{-\top}",
        ir.Inverse(ir.Transpose(ir.Mul((A, X)))): r"(AX)^{-\top}",
        ir.Transpose(ir.Basis("i", "j")): r"E_{ij}^\top",
        ir.Transpose(ir.Transpose(X)): r"(X^\top)^\top",
        ir.Mul((half, ir.Transpose(x), A, x)): r"\frac{1}{2} x^\top Ax",
        ir.Entry(X, "i", "j"): r"X_{ij}",
        ir.Entry(x, "i"): r"x_{i}",
        ir.UnitVec("i"): r"e_{i}",
        ir.Ones("p"): r"\mathbf{1}_{p}",
        ir.Identity("n"): r"I_{n}",
        ir.Identity(): "I",
        ir.Zero(): "0",
        ir.Differential(ir.Mul((A, X))): r"d(AX)",
        ir.Differential(ir.Func("tr", X)): r"d(\operatorname{tr}(X))",
        ir.Func("tr", ir.Mul((A, X))): r"\operatorname{tr}(AX)",
        ir.Func("logdet", X): r"\log\det X",
        ir.Func("det", ir.Inverse(X)): r"\det(X^{-1})",
        ir.Func("exp", X): r"\exp(X)",
        ir.Func("sigma'", ir.Sym("Z")): r"\sigma'(Z)",
        ir.Func("abs", x): r"\lvert x\rvert",
        ir.Func("sqrt'", x): r"\operatorname{sqrt}'(x)",
        ir.Norm(x, "2"): r"\|x\|_2",
        ir.Power(ir.Norm(X, "F"), ir.Num(Fraction(2))): r"\|X\|_F^{2}",
        ir.Frob(A, ir.Hadamard(X, A)): r"A : X \odot A",
        ir.Kron(A, X): r"A \otimes X",
        ir.Div(x, ir.Num(Fraction(2))): r"\frac{x}{2}",
        ir.Derivative(ir.Sym("f"), X): r"\frac{\partial f}{\partial X}",
        ir.Derivative(ir.Sym("M"), ir.Entry(X, "i", "j")): r"\frac{\partial M}{\partial X_{ij}}",
        ir.Chain((ir.Sym("y"), ir.Mul((ir.Entry(X, "i", "j"), ir.UnitVec("i")))), ("=",)): r"y = X_{ij}e_{i}",
        ir.Mul((ir.Sym("\\lambda"), X)): r"\lambda X",
        ir.Mul((ir.Transpose(X), A)): r"X^\top A",
        ir.Mul((A, ir.Differential(X), ir.Num(Fraction(3)))): r"3 A dX",
        ir.Mul((ir.Sym("d"), X)): r"{d}X",
        ir.Opaque("pinv", (X,)): r"X^{\dagger}",
        ir.Opaque("\\mathbb{E}", (x,)): r"\mathbb{E}(x)",
    }
    for tree, expected in cases.items():
        text = to_latex(tree)
        assert text == expected, (tree, text)
        back = norm(P(text, _scope(r"X \in \mathbb{R}^{n\times m} \\ x \in \mathbb{R}^{n}")))
        if not isinstance(tree, ir.Opaque) or tree.text == "pinv":
            assert back == norm(tree), (text, back)


@pytest.mark.parametrize(
    "decls, question",
    [
        (r"A \in \mathbb{R}^{n\times n}, X \in \mathbb{R}^{n\times m}", r"\frac{\partial (AXX^\top A^\top)}{\partial X_{ij}}"),
        (r"X, A \in \mathbb{R}^{n\times n}", r"\frac{\partial}{\partial X}\operatorname{tr}(X^{-1}A)"),
        (r"X \in \mathbb{R}^{n\times n}", r"\frac{\partial}{\partial X}\log\det X"),
        (r"A \in \mathbb{R}^{m\times n}, x \in \mathbb{R}^{n}, b \in \mathbb{R}^{m}", r"\frac{\partial}{\partial x} \frac{1}{2}\|Ax - b\|_2^2"),
        (r"\Sigma \in \mathbb{R}^{n\times n}, x, \mu \in \mathbb{R}^{n}",
         r"\frac{\partial}{\partial \Sigma}\left(-\frac{1}{2}\log\det\Sigma - \frac{1}{2}(x-\mu)^\top \Sigma^{-1}(x-\mu)\right)"),
        (r"X \in \mathbb{R}^{n\times n}", r"\frac{\partial}{\partial X}\operatorname{tr}(X^3)"),
        (r"w, x \in \mathbb{R}^{n}", r"\frac{\partial}{\partial w} \log \sigma(w^\top x)"),
    ],
)
def test_calculus_results_round_trip(decls: str, question: str) -> None:
    """What the calculus builds renders to LaTeX that reads back as the same tree."""
    from mcls.calculus import as_derivative, component, gradient, shapes_for

    sc = _scope(decls)
    d = as_derivative(P(question, sc))
    assert d is not None
    st = shapes_for(d.f, sc)
    if isinstance(d.wrt, ir.Entry):
        got = component(d.f, d.wrt.of, d.wrt.i, d.wrt.j, st)
    else:
        got = gradient(d.f, d.wrt, st)
    text = to_latex(got)
    assert norm(P(text, sc)) == norm(got), text
    assert to_unicode(got)


# ------------------------------------------------------------------ the author's style


STYLES = [
    Style(transpose="T", trace="\\mathrm{Tr}", hadamard="\\circ", differential="\\mathrm{d}", ones="\\mathbb{1}"),
    Style(transpose="\\intercal", trace="\\tr", differential="\\partial", left_right=True),
    Style(transpose="\\mathsf{T}", trace="\\operatorname{Tr}", ones="\\bm{1}", identity="\\mathbf{I}"),
    Style(transpose="'"),
    Style(transpose="\\prime"),
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("src", ROUND_TRIP[:24] + [r"\operatorname{tr}(X^{-\top}A) + \mathbf{1}_{p}^\top I_{n}", r"X \odot dX"])
def test_styles_round_trip(style: Style, src: str) -> None:
    a = P(src)
    text = to_latex(a, style)
    assert norm(P(text)) == norm(a), f"{src!r} -> {text!r}"


def test_style_forms() -> None:
    X, A = ir.Sym("X"), ir.Sym("A")
    e = ir.Add((ir.Func("tr", ir.Mul((ir.Inverse(ir.Transpose(X)), A))), ir.Hadamard(ir.Differential(X), A)))
    s = Style(transpose="T", trace="\\mathrm{Tr}", hadamard="\\circ", differential="\\mathrm{d}", left_right=True)
    assert to_latex(e, s) == r"\mathrm{Tr}\left(X^{-T}A\right) + \mathrm{d}X \circ A"
    assert to_latex(ir.Transpose(X), Style(transpose="\\mathsf{T}")) == r"X^{\mathsf{T}}"
    assert to_latex(ir.Inverse(ir.Transpose(X)), Style(transpose="'")) == r"X'^{-1}"
    assert to_latex(ir.Mul((ir.Transpose(ir.Ones("p")), ir.Identity("n"))), Style(ones="\\bm{1}", identity="\\mathbf{I}")) \
        == r"\bm{1}_{p}^\top \mathbf{I}_{n}"
    # the node's own spelling wins over the style
    assert to_latex(P(r"\mathrm{Tr}(X)"), Style(trace="\\operatorname{tr}")) == r"\mathrm{Tr}(X)"
    assert to_latex(ir.Differential(X), Style(differential="\\partial")) == r"\partial X"


def test_detect_defaults() -> None:
    s = detect_style("no math here")
    assert s == Style()
    assert (s.transpose, s.trace, s.hadamard, s.differential, s.ones) == ("\\top", "\\operatorname{tr}", "\\odot", "d", "\\mathbf{1}")


def test_detect_most_frequent() -> None:
    doc = r"Let $X^T A$ and $B^{T}$, $C^\top$; $\mathrm{Tr}(X)$, $\mathrm{d}X$, $A \circ B$, $\mathbb{1}_p$."
    s = detect_style(doc)
    assert s.transpose == "T"
    assert s.trace == "\\mathrm{Tr}"
    assert s.diag == "\\mathrm{diag}"  # follows the trace's wrapper
    assert s.hadamard == "\\circ"
    assert s.differential == "\\mathrm{d}"
    assert s.ones == "\\mathbb{1}"


def test_detect_marks() -> None:
    assert detect_style(r"$X^{\mathsf{T}} A + B^{-\mathsf{T}}$").transpose == "\\mathsf{T}"
    assert detect_style(r"$X^\intercal$").transpose == "\\intercal"
    assert detect_style(r"$X'A$ and $(AB)'$ but $f'(x)$ and $\sigma'(z)$").transpose == "'"
    assert detect_style(r"$\sigma'(z) \odot f'(x)$").transpose == "\\top"


def test_detect_through_macros() -> None:
    doc = r"""\DeclareMathOperator{\Tr}{Tr}
    $$\Tr(X) + \Tr(Y) + \partial X$$ and $\frac{\partial f}{\partial X}$"""
    s = detect_style(doc)
    assert s.trace == "\\operatorname{Tr}"
    assert s.differential == "\\partial"


def test_detect_seeds() -> None:
    gram = detect_style((SEEDS / "gram-matrix-differential.txt").read_text())
    assert gram.transpose == "\\top"
    had = detect_style((SEEDS / "hadamard-derivative.txt").read_text())
    assert had.trace == "\\operatorname{Tr}"  # via \def\trace#1{\operatorname{Tr}\LR{#1}}
    assert had.Diag == "\\operatorname{Diag}"
    assert had.left_right  # \LR is \left(#1\right)
    assert had.transpose == "T"
    assert had.hadamard == "\\odot"
    text = to_latex(P(r"\operatorname{tr}(A^\top B)"), replace(had, trace=had.trace))
    assert text == r"\operatorname{tr}\left(A^T B\right)"  # the node's own spelling kept
    assert to_latex(ir.Func("tr", ir.Mul((ir.Transpose(ir.Sym("A")), ir.Sym("B")))), had) == r"\operatorname{Tr}\left(A^T B\right)"


# ------------------------------------------------------------------ Unicode


@pytest.mark.parametrize(
    "src, expected",
    [
        (r"\frac{\partial M}{\partial X_{ij}} = AE_{ij}X^\top A^\top + AXE_{ji}A^\top", "∂M/∂Xᵢⱼ = A Eᵢⱼ Xᵀ Aᵀ + A X Eⱼᵢ Aᵀ"),
        (r"A(E_{ij}X^\top + XE_{ji})A^\top", "A (Eᵢⱼ Xᵀ + X Eⱼᵢ) Aᵀ"),
        (r"X^{-1}", "X⁻¹"),
        (r"-X^{-\top}A^\top X^{-\top}", "-X⁻ᵀ Aᵀ X⁻ᵀ"),
        (r"A \odot B + C \otimes D", "A ⊙ B + C ⊗ D"),
        (r"\operatorname{tr}(AXB)", "tr(AXB)"),
        (r"\det X", "det X"),
        (r"\log\det X", "log det X"),
        (r"\|x\|_2^2", "‖x‖₂²"),
        (r"\|X\|_F", "‖X‖_F"),
        (r"(\mathbf{X}\odot E_{ij})\mathbf{1}_p", "(𝐗 ⊙ Eᵢⱼ) 𝟏ₚ"),
        (r"I_{n} + \Sigma", "Iₙ + Σ"),
        (r"\frac{1}{2}x^\top A x", "½ xᵀ A x"),
        (r"\sigma'(Z)\odot dZ", "σ′(Z) ⊙ dZ"),
        (r"W_{1}^\top \boldsymbol{\Sigma}", "W₁ᵀ 𝚺"),
        (r"\mathbf{X} \in \mathbb{R}^{n\times p}", "𝐗 ∈ ℝⁿˣᵖ"),
        (r"X^{(k)}", "X⁽ᵏ⁾"),
        (r"\frac{\partial (x^\top A x)}{\partial x}", "∂(xᵀ A x)/∂x"),
        (r"\|Ax-b\|_2^2", "‖Ax - b‖₂²"),
        (r"A : B", "A : B"),
        (r"\lvert x\rvert + \sqrt{x}", "|x| + √x"),
    ],
)
def test_unicode(src: str, expected: str) -> None:
    assert to_unicode(P(src)) == expected


def test_unicode_fallbacks_and_style() -> None:
    assert to_unicode(ir.Entry(ir.Sym("X"), "i+1", "j")) == "X_{i+1,j}"
    assert to_unicode(ir.Power(ir.Sym("x"), ir.Sym("q"))) == "x^q"
    assert to_unicode(ir.Mul((ir.Num(Fraction(1, 12)), ir.Sym("X")))) == "¹⁄₁₂ X"
    s = Style(transpose="'", hadamard="\\circ", differential="\\partial", trace="\\mathrm{Tr}")
    e = ir.Add((ir.Func("tr", ir.Transpose(ir.Sym("X"))), ir.Hadamard(ir.Differential(ir.Sym("X")), ir.Sym("A"))))
    assert to_unicode(e, s) == "Tr(X′) + ∂X ∘ A"


# ------------------------------------------------------------------ NumPy


def test_python_names() -> None:
    assert python_name("\\mathbf{X}") == "X"
    assert python_name("\\Sigma") == "Sigma"
    assert python_name("W_{1}") == "W_1"
    assert python_name("\\lambda") == "lambda_"
    assert python_name("\\hat{x}") == "x_hat"
    assert python_names(["X", "\\mathbf{X}", "\\Sigma"]) == {"X": "X", "\\mathbf{X}": "X_bf", "\\Sigma": "Sigma"}


RNG = np.random.default_rng(7)
SIZES = {"n": 4, "m": 3, "p": 5, "q": 2, "s": 2, "t": 3}  # distinct sizes so a wrong transpose fails
N, M = SIZES["n"], SIZES["m"]


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _E(i: int, j: int, r: int, c: int) -> np.ndarray:
    e = np.zeros((r, c))
    e[i, j] = 1
    return e


# (latex, {latex name: (rows, cols) | (rows,) | "spd" | float}, extra indices, reference(values, extra))
NUMPY_CASES = [
    (r"A(E_{ij}X^\top + XE_{ji})A^\top", {"A": ("n", "n"), "X": ("n", "m")}, {"i": 2, "j": 1},
     lambda v, e: v["A"] @ (_E(e["i"], e["j"], N, M) @ v["X"].T + v["X"] @ _E(e["j"], e["i"], M, N)) @ v["A"].T),
    (r"(\mathbf{X}\odot E_{ij})\mathbf{1}_p", {"\\mathbf{X}": ("n", "p")}, {"i": 3, "j": 2},
     lambda v, e: v["\\mathbf{X}"][e["i"], e["j"]] * np.eye(N)[:, [e["i"]]]),
    (r"E_{kk}X", {"X": ("n", "m")}, {"k": 1}, lambda v, e: _E(e["k"], e["k"], N, N) @ v["X"]),
    (r"\operatorname{tr}(X^{-1}A)", {"X": ("n", "n"), "A": ("n", "n")}, {},
     lambda v, e: np.trace(np.linalg.solve(v["X"], v["A"]))),
    (r"-X^{-\top}A^\top X^{-\top}", {"X": ("n", "n"), "A": ("n", "n")}, {},
     lambda v, e: -np.linalg.inv(v["X"]).T @ v["A"].T @ np.linalg.inv(v["X"]).T),
    (r"\log\det X", {"X": "spd"}, {}, lambda v, e: np.log(np.linalg.det(v["X"]))),
    (r"\|Ax-b\|_2^2", {"A": ("n", "m"), "x": ("m",), "b": ("n",)}, {},
     lambda v, e: np.sum((v["A"] @ v["x"] - v["b"]) ** 2)),
    (r"\frac{1}{2}x^\top A x", {"A": ("n", "n"), "x": ("n",)}, {}, lambda v, e: 0.5 * (v["x"].T @ v["A"] @ v["x"])),
    (r"\sigma'(Z)\odot \sigma(Z) + \tanh'(Z)", {"Z": ("n", "m")}, {},
     lambda v, e: _sig(v["Z"]) * (1 - _sig(v["Z"])) * _sig(v["Z"]) + 1 / np.cosh(v["Z"]) ** 2),
    (r"\tanh(Wx + b) \odot \operatorname{relu}(c)", {"W": ("n", "m"), "x": ("m",), "b": ("n",), "c": ("n",)}, {},
     lambda v, e: np.tanh(v["W"] @ v["x"] + v["b"]) * np.maximum(v["c"], 0)),
    (r"A \otimes B", {"A": ("s", "t"), "B": ("t", "s")}, {}, lambda v, e: np.kron(v["A"], v["B"])),
    (r"A : B", {"A": ("n", "m"), "B": ("n", "m")}, {}, lambda v, e: np.trace(v["A"].T @ v["B"])),
    (r"\operatorname{vec}(AXB)", {"A": ("n", "n"), "X": ("n", "m"), "B": ("m", "q")}, {},
     lambda v, e: np.kron(v["B"].T, v["A"]) @ v["X"].reshape(-1, 1, order="F")),
    (r"\operatorname{diag}(AX^T)", {"A": ("n", "m"), "X": ("n", "m")}, {},
     lambda v, e: (v["X"] * v["A"]) @ np.ones((M, 1))),
    (r"(x^\top A x) B", {"A": ("n", "n"), "x": ("n",), "B": ("m", "m")}, {},
     lambda v, e: (v["x"].T @ v["A"] @ v["x"]).item() * v["B"]),
    (r"\lambda X + I_{n}", {"\\lambda": 0.7, "X": ("n", "n")}, {}, lambda v, e: 0.7 * v["X"] + np.eye(N)),
    (r"\det(X) X^{-\top}", {"X": ("n", "n")}, {}, lambda v, e: np.linalg.det(v["X"]) * np.linalg.inv(v["X"]).T),
    (r"\operatorname{Diag}(x) A", {"x": ("n",), "A": ("n", "m")}, {}, lambda v, e: np.diag(v["x"][:, 0]) @ v["A"]),
    (r"\|X\|_F^2 + \operatorname{tr}(X)^{2}", {"X": ("n", "n")}, {},
     lambda v, e: np.sum(v["X"] ** 2) + np.trace(v["X"]) ** 2),
    (r"e_{i}^\top X e_{j} - X_{ij}", {"X": ("n", "m")}, {"i": 1, "j": 2}, lambda v, e: 0.0),
    (r"\exp(X) \oslash (\mathbf{1}_n \mathbf{1}_m^\top + \exp(X))", {"X": ("n", "m")}, {}, lambda v, e: _sig(v["X"])),
    (r"2X - \frac{1}{2}X^\top", {"X": ("n", "n")}, {}, lambda v, e: 2 * v["X"] - 0.5 * v["X"].T),
    (r"X^{\dagger} X^{2}", {"X": ("n", "n")}, {}, lambda v, e: np.linalg.pinv(v["X"]) @ v["X"] @ v["X"]),
    (r"\operatorname{softplus}(x) - \log(\mathbf{1}_n + \exp(x))", {"x": ("n",)}, {}, lambda v, e: np.zeros((N, 1))),
]


@pytest.mark.parametrize("src, shapes, extra, ref", NUMPY_CASES)
def test_numpy_matches_direct(src, shapes, extra, ref) -> None:
    decl_lines = []
    values: dict[str, object] = {}
    for name, sh in shapes.items():
        if isinstance(sh, float):
            values[name], space = sh, ""
        elif sh == "spd":
            a = RNG.standard_normal((N, N))
            values[name], space = a @ a.T + N * np.eye(N), "^{n\\times n}"
        elif len(sh) == 1:
            values[name], space = RNG.standard_normal((SIZES[sh[0]], 1)), f"^{{{sh[0]}}}"
        else:
            values[name], space = RNG.standard_normal((SIZES[sh[0]], SIZES[sh[1]])), f"^{{{sh[0]}\\times {sh[1]}}}"
        decl_lines.append(f"{name} \\in \\mathbb{{R}}{space}")
    scope = _scope(" \\\\ ".join(decl_lines))
    expr = P(src, scope)
    checker = ShapeChecker(scope)
    checker.check(expr)
    assert not checker.res.problems, [p.message for p in checker.res.problems]
    arguments = [(py, latex) for latex, py in python_names(shapes).items()]
    dims = {latex: (scope.decls[latex].rows, scope.decls[latex].cols) for latex in shapes}
    size_of = sizes_from_arguments(size_table(arguments, dims), shape_of=checker.res.get)
    src_py = to_numpy_function(expr, "f", arguments, list(extra), size_of=size_of)
    f = compile_numpy_function(src_py)
    got = f(*[values[latex] for _, latex in arguments], *extra.values())
    assert np.allclose(np.asarray(got, dtype=float), ref(values, extra)), src_py


def test_numpy_case_count() -> None:
    assert len(NUMPY_CASES) >= 15


def test_numpy_source_shape() -> None:
    expr = P(r"\operatorname{tr}(X^{-1}A) + \mathbf{1}_m^\top X^\top \mathbf{1}_n")
    size_of = sizes_from_arguments({"n": [("X", 0)], "m": [("X", 1)]})
    src = to_numpy_function(expr, "g", [("X", "X"), ("A", "A")], size_of=size_of)
    assert src == ("def g(X, A):\n    return np.trace(np.linalg.inv(X) @ A) + "
                   "np.ones((X.shape[1], 1)).T @ X.T @ np.ones((X.shape[0], 1))\n")
    # a size_of taking only the node is accepted too
    src1 = to_numpy_function(ir.Ones("p"), "h", [("X", "X")], size_of=lambda node: "X.shape[1]")
    assert "np.ones((X.shape[1], 1))" in src1


def test_numpy_errors() -> None:
    with pytest.raises(ValueError, match="not among the arguments"):
        to_numpy_function(P("AX"), "f", [("A", "A")])
    with pytest.raises(ValueError, match="numerically"):
        to_numpy_function(P("dX"), "f", [("X", "X")])
    with pytest.raises(ValueError, match="size of"):
        to_numpy_function(ir.Basis("i", "j"), "f", [], ["i", "j"])
    with pytest.raises(ValueError, match="identifier"):
        to_numpy_function(P("X"), "f", [("lambda", "X")])
