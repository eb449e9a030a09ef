"""Shape checking on small documents: exact ranges, messages in the document's own sizes."""

from mcls.analysis import analyze
from mcls.problems import Severity

from fixtures import span_of

DECL = r"Let $A \in \mathbb{R}^{n \times n}$ and $X \in \mathbb{R}^{n \times m}$, $b, c \in \mathbb{R}^m$." + "\n"


def errors(text: str, lang: str = "latex"):
    return [p for p in analyze(text, lang).problems if p.severity == Severity.ERROR]


def test_seed_gram_matrix_is_clean():
    doc = DECL + r"$M = AXX^\top A^\top$ and $\frac{\partial M}{\partial X_{ij}} = A(E_{ij} X^\top + X E_{ji})A^\top$"
    assert errors(doc) == []


def test_matmul_mismatch_points_at_the_operands():
    doc = DECL + r"$M = A X^\top X A^\top$"
    errs = errors(doc)
    assert len(errs) == 1
    e = errs[0]
    assert e.code == "shape/matmul"
    assert doc[slice(*e.span)] == r"A X^\top"
    assert "n×n" in e.message and "m×n" in e.message and "inner sizes n and m differ" in e.message
    related = {doc[slice(*r.span)] for r in e.related}
    assert {"A", "X"} <= related


def test_add_hadamard_square_and_equation():
    assert errors(DECL + "$A + X$")[0].code == "shape/add"
    assert errors(DECL + r"$A \odot X$")[0].code == "shape/hadamard"
    assert errors(DECL + r"$\operatorname{tr}(X)$")[0].code == "shape/square"
    assert errors(DECL + r"$\det(X^\top X) = \operatorname{tr}(X X^\top)$") == []
    assert errors(DECL + r"$X^{-1}$")[0].code == "shape/square"
    assert errors(DECL + "$A = X$")[0].code == "shape/equation"


def test_vectors_scalars_and_conventions():
    assert errors(DECL + r"$b^\top X^\top X c$") == []
    assert errors(DECL + r"$f = b^\top X^\top X c + \operatorname{tr}(A)$") == []
    assert errors(DECL + r"$y = (X \odot X) \mathbf{1}_m$") == []
    assert errors(DECL + r"$y = (X \odot X) \mathbf{1}_n$")[0].code == "shape/matmul"
    assert errors(DECL + r"$A + I_n = A X X^\top + I$") == []
    assert errors(DECL + r"$x = X e_i$") == []


def test_size_equalities_in_text_merge_sizes():
    doc = DECL + r"where $m = n$, so $A + X$ is fine."
    assert errors(doc) == []


def test_undeclared_symbols_are_never_errors():
    assert errors(r"$Q R + S$ and $\alpha W x$") == []


def test_redeclaration_warns_on_the_second():
    doc = r"$X \in \mathbb{R}^{n\times p}$ then $X \in \mathbb{R}^{p\times n}$"
    ps = [p for p in analyze(doc, "latex").problems if p.code == "shape/redeclared"]
    assert len(ps) == 1 and ps[0].severity == Severity.WARNING
    assert ps[0].span == span_of(doc, "X", 1)


def test_prose_declarations():
    doc = r"I have $M=AXX^\top A^\top$. Here $A$ is $n\times n$ and $X$ is $n\times m$. Also $A X^\top$."
    errs = errors(doc)
    assert [e.code for e in errs] == ["shape/matmul"]


def test_macros_expand_and_ranges_land_on_the_use():
    doc = r"\newcommand{\vX}{\mathbf{X}}" + "\n" + r"$\vX \in \mathbb{R}^{n\times p}$, $\vX \vX$"
    errs = errors(doc)
    assert len(errs) == 1
    assert doc[slice(*errs[0].span)] == r"\vX \vX"


def test_markdown_and_utf16_text_before_math():
    doc = "∂ ⊙ 😀 $X \\in \\mathbb{R}^{n\\times m}$ 😀 $X X$\n"
    errs = errors(doc, "markdown")
    assert len(errs) == 1 and doc[slice(*errs[0].span)] == "X X"
