"""The derivatives a document claims are checked numerically."""

from mcls.analysis import analyze

DOC = (
    r"Let $A \in \mathbb{R}^{p\times n}$, $X \in \mathbb{R}^{n\times m}$, $B \in \mathbb{R}^{m\times p}$." "\n"
    r"$$\frac{\partial}{\partial X}\operatorname{tr}(AXB) = A^\top B^\top$$" "\n"
    r"$M = A X X^\top A^\top$ and $\frac{\partial M}{\partial X_{ij}} = A(E_{ij}X^\top + X E_{ji})A^\top$" "\n"
)


def claims(text):
    return [p for p in analyze(text, "markdown").problems if p.code == "claim/false"]


def test_true_claims_are_silent():
    assert claims(DOC) == []


def test_false_gradient_claim_is_a_warning_on_the_right_side():
    doc = DOC + r"$$\nabla_X \operatorname{tr}(AXB) = A B$$" "\n"
    # A B is p×p: ill-shaped claims get the shape diagnostic instead
    assert claims(doc) == []
    doc = r"Let $A, X \in \mathbb{R}^{n\times n}$. $$\frac{\partial}{\partial X}\operatorname{tr}(AX) = A$$"
    got = claims(doc)
    assert len(got) == 1
    assert doc[slice(*got[0].span)] == "A" and "A^\\top" in got[0].message


def test_false_component_claim():
    doc = DOC + r"and wrongly $\frac{\partial M}{\partial X_{ij}} = A E_{ij} X^\top A^\top$"
    got = claims(doc)
    assert len(got) == 1 and doc[slice(*got[0].span)] == r"A E_{ij} X^\top A^\top"
    assert "E_{ji}" in got[0].message


def test_differential_claims_treat_unwritten_differentials_as_constants():
    doc = (r"Let $X, A \in \mathbb{R}^{n\times n}$, $x \in \mathbb{R}^n$. "
           r"$d(X A X) = dX A X + X A\, dX$, $d(x^\top A x) = dx^\top A x + x^\top A\, dx$, "
           r"$d(X^{-1}) = -X^{-1}\,dX\,X^{-1}$ but $d(X^{-1}) = -X^{-2}\,dX$.")
    got = claims(doc)
    assert len(got) == 1 and doc[slice(*got[0].span)] == r"-X^{-2}\,dX"
    assert got[0].fix and "X^{-1}" in got[0].fix


def test_equations_and_conditions_are_not_claims():
    doc = (r"Let $A \in \mathbb{R}^{m\times n}$, $x \in \mathbb{R}^n$, $b \in \mathbb{R}^m$, $W \in \mathbb{R}^{n\times k}$. "
           r"The normal equations $A^\top A x = A^\top b$ and $W^\top W = I_k$.")
    assert claims(doc) == []
