"""Quick fixes for shape errors and false claims, shape inlay hints, Jacobian action."""

from mcls.analysis import analyze
from mcls.features.actions import actions_at, resolve
from mcls.features.inlay import shape_hints
from mcls.features.quickfix import quick_fixes
from mcls.problems import Severity

DECL = r"Let $A \in \mathbb{R}^{n\times n}$ and $X \in \mathbb{R}^{n\times m}$." "\n"


def apply(text, edits):
    for e in sorted(edits, key=lambda e: e.span[0], reverse=True):
        text = text[: e.span[0]] + e.new_text + text[e.span[1] :]
    return text


def errors(text, lang="latex"):
    return [p for p in analyze(text, lang).problems if p.severity == Severity.ERROR]


def fixes(text, lang="latex"):
    doc = analyze(text, lang)
    return [(a.title, apply(text, a.edits)) for p in doc.problems for a in quick_fixes(doc, *p.span)]


def test_move_transpose_fixes_the_gram_matrix_typo():
    doc = DECL + r"$M = A X^\top X A^\top$"
    got = fixes(doc)
    assert got, "a fix is offered"
    for title, new in got:
        assert errors(new) == [], title  # every offered fix checks
    assert any(new.endswith(r"$M = A X X^\top A^\top$") for _, new in got)


def test_transpose_in_the_documents_style():
    doc = r"$A \in \mathbb{R}^{n\times m}$, $B \in \mathbb{R}^{n\times p}$, $C = B^T$ and $A B$"
    got = fixes(doc)
    assert any(new.endswith("$A^T B$") for _, new in got)
    assert all(errors(new) == [] for _, new in got)


def test_no_fix_when_none_checks():
    assert fixes(r"$A \in \mathbb{R}^{n\times m}$, $B \in \mathbb{R}^{p\times q}$, $A \odot B$") == []


def test_false_claim_gets_a_replacement_that_verifies():
    doc = r"Let $A, X \in \mathbb{R}^{n\times n}$. $$\frac{\partial}{\partial X}\operatorname{tr}(AX) = A$$"
    got = fixes(doc)
    assert len(got) == 1 and "Replace" in got[0][0]
    new = got[0][1]
    assert [p for p in analyze(new, "latex").problems if p.code == "claim/false"] == []
    assert r"A^\top" in new


def test_inlay_hints_show_lhs_shapes_of_display_formulas():
    doc = DECL + "\\[ M = A X X^\\top A^\\top \\]\nand inline $N = X^\\top X$."
    d = analyze(doc, "latex")
    hints = shape_hints(d, 0, len(doc))
    assert [(doc[h.offset - 1], h.label) for h in hints] == [("M", ": n×n")]


def test_jacobian_action_inserts_a_verified_kronecker_form():
    doc = r"Let $\mathbf{X}, \mathbf{A} \in \mathbb{R}^{n\times p}$." "\n\n" r"$$\mathbf{y} = (\mathbf{X}\odot\mathbf{A})\mathbf{1}_p$$" "\n"
    d = analyze(doc, "markdown")
    at = doc.index("mathbf{y}")
    act = next(a for a in actions_at(d, at, at) if a.data["what"] == "jacobian")
    new = apply(doc, resolve(d, act.data))
    assert r"\otimes" in new and new.startswith(doc.rstrip("\n"))
    assert not new.endswith("\n\n"), "no trailing blank line at the end of the document"
    assert [p for p in analyze(new, "markdown").problems if p.severity == Severity.ERROR] == []


def test_numpy_action_takes_undeclared_symbols_as_arguments():
    """X is not declared (its shape comes from its use): it is still an input of the code,
    and the code runs and matches central differences."""
    import numpy as np

    text = "$M = A X X^\\top A^\\top$\n$A \\in \\mathbb{R}^{n\\times n}$\n"
    d = analyze(text, "latex")
    act = next(a for a in actions_at(d, 1, 1) if a.data["what"] == "numpy")
    block = resolve(d, act.data)[0].new_text
    code = block.split("\\begin{verbatim}", 1)[1].split("\\end{verbatim}", 1)[0]
    assert "import numpy as np" in code and "verified numerically" in block
    ns: dict = {}
    exec(code, ns)  # noqa: S102 - code mcls generated, run as a reader would
    rng = np.random.default_rng(5)
    A, X = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    M = lambda A: A @ X @ X.T @ A.T  # noqa: E731
    h = 1e-6
    for i, j in [(0, 0), (2, 1)]:
        E = np.zeros_like(A)
        E[i, j] = h
        assert np.allclose(ns["component"](A, X, i, j), (M(A + E) - M(A - E)) / (2 * h), atol=1e-6)


MACRO_DOC = r"""\newcommand{\X}{\mathbf{X}}
\newcommand{\A}{\mathbf{A}}
\newcommand{\tr}{\operatorname{Tr}}
\newcommand{\T}{\top}
Let $\A \in \mathbb{R}^{n\times n}$ and $\X \in \mathbb{R}^{n\times m}$.
\begin{equation}
  f = \tr(\X^\T \A \X)
\end{equation}
"""


def test_inserted_derivations_use_the_document_s_macros():
    d = analyze(MACRO_DOC, "latex")
    at = MACRO_DOC.index("f =")
    act = next(a for a in actions_at(d, at, at) if a.data["what"] == "derivation" and a.data["wrt"] == "\\mathbf{X}")
    e = resolve(d, act.data)[0]
    assert r"\frac{\partial f}{\partial \X} &= (\A + \A^\T)\X" in e.new_text
    assert "mathbf" not in e.new_text and "operatorname" not in e.new_text
    new = MACRO_DOC[:e.span[0]] + e.new_text + MACRO_DOC[e.span[1]:]
    after = analyze(new, "latex")
    assert after.problems == [] and len(after.verified) >= 1  # its steps re-read, expand and verify


def test_fold_respects_command_boundaries():
    from mcls.document.macros import collect_macros, fold

    m = collect_macros(r"\newcommand{\T}{\top}\newcommand{\X}{\mathbf{X}}\newcommand{\x}{x}")
    assert fold(r"\mathbf{X}^\top \topsep x \mathbf{X}b", m) == r"\X^\T \topsep x \X b"
