"""Hover, on tiny documents with a cursor marker ``$0`` (texlab's fixture style).

What a hover shows is checked twice: its text, and its mathematics -- the LaTeX in
the hover's ``latex`` block is parsed back and compared with central finite
differences of the hovered formula, so a printer that drops a transpose fails here
even when the engine was right."""

from __future__ import annotations

import re

from fixtures import cursor, span_of

from mcls import ir, verify
from mcls.analysis import analyze
from mcls.features.hover import HoverOptions, hover
from mcls.parse import parse_math
from mcls.scope import resolve

DECL = r"Let $A \in \mathbb{R}^{n\times n}$, $B \in \mathbb{R}^{m\times n}$, $X \in \mathbb{R}^{n\times m}$. "
UNI = HoverOptions(format="unicode")


def at(doc: str, language: str = "markdown", options: HoverOptions = UNI):
    text, offset = cursor(doc)
    d = analyze(text, language)
    return text, d, hover(d, offset, options)


def latex_lines(markdown: str) -> list[str]:
    blocks = re.findall(r"```latex\n(.*?)\n```", markdown, re.S)
    return [ln for b in blocks for ln in b.split("\n")]


def rhs(latex: str, scope) -> ir.Expr:
    """The right side of a shown `lhs = rhs`, read back as the document's analysis reads
    math (E_{ij}, e_i, I are the conventional constants)."""
    return resolve(parse_math(latex.split(" = ", 1)[1]).math.statements[0].parts[0], scope)


def formula(latex: str) -> ir.Expr:
    return parse_math(latex).math.statements[0].parts[0]


def test_matrix_function_shows_the_componentwise_derivative_that_verifies():
    text, offset = cursor(DECL + r"$$M$0 = A X X^\top A^\top$$ with respect to $X$.")
    d = analyze(text, "markdown")
    h = hover(d, offset, UNI)
    assert h.plaintext.splitlines()[0] == "M = A X Xᵀ Aᵀ : n×n"
    assert h.plaintext.splitlines()[1] == "∂M/∂Xᵢⱼ = A (Eᵢⱼ Xᵀ + X Eⱼᵢ) Aᵀ"  # "with respect to X" comes first
    assert "✓ verified numerically" in h.plaintext
    F = formula(r"A X X^\top A^\top")
    shown = [ln for ln in latex_lines(h.markdown) if ln.startswith(r"\frac{\partial M}{\partial X_{ij}}")]
    assert shown and verify.verify_component(F, ir.Sym("X"), rhs(shown[0], d.scope), d.scope, i="i", j="j").ok


def test_scalar_function_shows_gradient_and_differential_that_verify():
    text, offset = cursor(DECL + r"$$f$0 = \operatorname{tr}(A X B)$$ and we differentiate w.r.t. $X$.")
    d = analyze(text, "markdown")
    h = hover(d, offset, UNI)
    lines = h.plaintext.splitlines()
    assert lines[1] == "∂f/∂X = Aᵀ Bᵀ" and lines[2] == "df = tr(A dX B)"
    f = formula(r"\operatorname{tr}(A X B)")
    grad, diff = [ln for ln in latex_lines(h.markdown) if "X" in ln][:2]
    assert verify.verify_gradient(f, ir.Sym("X"), rhs(grad, d.scope), d.scope).ok
    assert verify.verify_differential(f, ["X"], rhs(diff, d.scope), d.scope).ok


def test_vector_function_component_form():
    text, offset = cursor(r"Let $X, A \in \mathbb{R}^{n\times p}$. $$y$0 = (X \odot A)\mathbf{1}_p$$")
    h = hover(analyze(text, "markdown"), offset, UNI)
    assert "∂y/∂Xᵢⱼ = Aᵢⱼ eᵢ" in h.plaintext and "∂y/∂Aᵢⱼ = Xᵢⱼ eᵢ" in h.plaintext


def test_the_variable_can_be_pinned_by_a_comment_or_a_setting():
    doc = DECL + "% mcls: wrt A\n" + r"$$M$0 = A X X^\top A^\top$$"
    _, _, h = at(doc, "latex")
    assert h.plaintext.splitlines()[1].startswith("∂M/∂Aᵢⱼ")
    _, _, h = at(DECL + r"$$M$0 = A X X^\top A^\top$$", options=HoverOptions(format="unicode", wrt="X"))
    assert h.plaintext.splitlines()[1].startswith("∂M/∂Xᵢⱼ")


def test_hovering_a_stated_derivative_shows_its_value():
    text, d, h = at(DECL + r"$$\frac{\partial$0}{\partial X}\operatorname{tr}(A X B) = A^\top B^\top$$")
    assert "= Aᵀ Bᵀ" in h.plaintext and "✓ verified numerically" in h.plaintext


def test_a_subexpression_gets_its_own_shape_and_range():
    text, d, h = at(DECL + r"$$M = A X$0^\top A^\top$$")
    assert h.plaintext.splitlines()[0] == "Xᵀ : m×n"
    assert h.span == span_of(text, r"X^\top")


def test_formats():
    doc = DECL + r"$$M$0 = A X X^\top A^\top$$"
    _, _, img = at(doc, options=HoverOptions(format="image"))
    assert "data:image/svg+xml;base64," in img.markdown and "```latex" in img.markdown
    _, _, tex = at(doc, options=HoverOptions(format="latex"))
    assert "data:image" not in tex.markdown and "`∂M/∂" not in tex.markdown and "```latex" in tex.markdown
    _, _, plain = at(doc, options=HoverOptions(format="unicode", markdown=False))
    assert "```" not in plain.markdown and "∂M/∂" in plain.plaintext


def test_the_time_budget_is_said():
    _, _, h = at(DECL + r"$$M$0 = A X X^\top A^\top$$", options=HoverOptions(format="unicode", budget_s=0.0))
    assert "budget" in h.plaintext and h.plaintext.startswith("M = A X Xᵀ Aᵀ : n×n")


def test_not_on_math_no_hover():
    text, offset = cursor(DECL + "plain te$0xt")
    assert hover(analyze(text, "markdown"), offset, UNI) is None


def test_hovering_a_stated_identity_says_whether_it_holds():
    text, offset = cursor(DECL + r"We have $(AX)^\top =$0 X^\top A^\top$ and $(A X)^\top X = X^\top A X$.")
    d = analyze(text, "markdown")
    assert hover(d, offset, UNI).plaintext.splitlines()[1].startswith("✓ this identity is right: verified numerically")
    wrong = hover(d, text.index("= X^\\top A X"), UNI).plaintext.splitlines()[1]
    assert wrong.startswith("✗ this identity does not hold") and r"X^\top A^\top X" in wrong


def test_elementwise_functions_of_square_matrices_say_their_convention():
    text, offset = cursor(r"Let $X \in \mathbb{R}^{n\times n}$, $x \in \mathbb{R}^n$. $$F$0 = \exp(X)$$ and $$s = \exp(x)$$")
    d = analyze(text, "markdown")
    assert "exp acts element-wise here" in hover(d, offset, UNI).plaintext
    assert "element-wise" not in hover(d, text.index("s ="), UNI).plaintext  # a vector: no ambiguity


def test_e_to_the_power_is_the_exponential():
    text, offset = cursor(r"Let $x, w \in \mathbb{R}^{n}$. $$s$0 = e^{w^\top x}$$")
    d = analyze(text, "markdown")
    assert not [p for p in d.problems if p.code == "shape/undeclared"]  # `e` is Euler's number, not a name
    shown = hover(d, offset, UNI).plaintext
    assert "∂s/∂w = exp(wᵀ x) x" in shown and "✓ verified numerically" in shown


def test_the_style_read_from_the_analysis_is_the_document_s_style():
    """Hover and actions read the notation from the analysis's regions (no second scan);
    it must be what ``detect_style`` reads from the text."""
    from pathlib import Path

    from mcls.features.hover import _style
    from mcls.render.style import detect_style

    root = Path(__file__).resolve().parent
    docs = sorted((root / "corpus").rglob("*.tex")) + sorted((root / "corpus").rglob("*.md"))
    for path in docs:
        text = path.read_text(encoding="utf-8")
        language = "markdown" if path.suffix == ".md" else "latex"
        assert _style(analyze(text, language)) == detect_style(text, language), path.name
