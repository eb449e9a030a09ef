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


# ---------------------------------------------------------------- identities `lhs = rhs`

DECL = (r"Let $A, B, C \in \mathbb{R}^{n\times n}$, $U \in \mathbb{R}^{n\times k}$, $W \in \mathbb{R}^{k\times k}$, "
        r"$V \in \mathbb{R}^{k\times n}$, $x, y \in \mathbb{R}^n$. ")


def test_true_identities_are_silent():
    doc = DECL + (
        r"We have $(AB)^\top = B^\top A^\top$, $(AB)^{-1} = B^{-1}A^{-1}$, "
        r"$\operatorname{tr}(ABC) = \operatorname{tr}(CAB)$, $\det(AB) = \det(A)\det(B)$, "
        r"$x^\top A y = \operatorname{tr}(A y x^\top)$, $\|Ax\|^2 = x^\top A^\top A x$, "
        r"$(A + UWV)^{-1} = A^{-1} - A^{-1}U(W^{-1} + VA^{-1}U)^{-1}VA^{-1}$ and "
        r"$\operatorname{vec}(ABC) = (C^\top \otimes A)\operatorname{vec}(B)$."
    )
    assert claims(doc) == []


def test_false_identities_are_warnings_with_the_left_side_as_fix():
    from mcls import verify
    from mcls.analysis import analyze
    from mcls.parse import parse_math

    doc = DECL + r"Note that $(AB)^\top = A^\top B^\top$ and $(A+B)^{-1} = A^{-1} + B^{-1}$."
    got = claims(doc)
    assert [doc[slice(*p.span)] for p in got] == [r"A^\top B^\top", r"A^{-1} + B^{-1}"]
    assert got[0].fix == r"B^\top A^\top" and r"B^\top A^\top" in got[0].message
    assert got[1].fix is None  # nothing simpler than the left side to offer
    # The suggested right side is the left side's value (checked numerically).
    scope = analyze(doc, "markdown").scope
    lhs = parse_math(r"(AB)^\top").math.statements[0].parts[0]
    fixed = parse_math(got[0].fix).math.statements[0].parts[0]
    assert verify.verify_identity(lhs, fixed, scope).ok


def test_equations_and_conditions_with_the_same_symbols_are_not_identities():
    doc = DECL + (
        r"The normal equations $A^\top A x = A^\top b$, the eigenvalue problem $A x = \lambda x$, "
        r"$U^\top U = I_k$, $A^2 = A$, $A^\top A - I = 0$. "
        r"If $AB = BA$, the two commute. Suppose $A^\top B = B^\top A$. "
        r"Find $x$ such that $x^\top A x = x^\top B x$. "
        r"The matrix $A$ is normal, i.e. $A^\top A = A A^\top$. For orthogonal $C$, $C^\top C = C C^\top$. "
        r"Since $B$ is idempotent, $B^2 x = B x$. For a projection $B$, $\operatorname{tr}(B) = \operatorname{rank}(B)$. "
        r"Also $AB = BA$ when $A$ and $B$ commute, and $AC = CA$ holds only for special matrices. "
        r"Wrong: $(A + B)^{-1} = A^{-1} + B^{-1}$ is a common mistake."
        "\n\n" r"$$\min_x \|x\|^2 \quad\text{s.t.}\quad x^\top A x = x^\top B x$$"
    )
    assert claims(doc) == []


def test_a_false_kronecker_transpose_is_found():
    doc = DECL + r"Note that $(A \otimes B)^\top = B^\top \otimes A^\top$."
    got = claims(doc)
    assert len(got) == 1 and doc[slice(*got[0].span)] == r"B^\top \otimes A^\top"
    assert got[0].fix == r"A^\top \otimes B^\top"


def test_a_false_step_of_an_expansion_is_found():
    doc = DECL + r"Expanding, $$\|Ax - y\|^2 = (Ax - y)^\top (Ax - y) = x^\top A^\top A x - x^\top A^\top y + y^\top y.$$"
    got = claims(doc)
    assert len(got) == 1 and doc[slice(*got[0].span)] == r"x^\top A^\top A x - x^\top A^\top y + y^\top y"


def test_claims_that_hold_are_listed_apart_as_verified():
    from mcls.analysis import analyze

    doc = DECL + r"We have $(AB)^\top = B^\top A^\top$ and $\frac{\partial}{\partial A}\operatorname{tr}(AB) = B^\top$, but $(AB)^{-1} = A^{-1}B^{-1}$."
    d = analyze(doc, "markdown")
    assert [p.code for p in d.problems] == ["claim/false"]
    assert [doc[slice(*p.span)] for p in d.verified] == [r"B^\top A^\top", r"B^\top"]
    assert all(p.code == "claim/verified" and p.severity.name == "INFORMATION" for p in d.verified)


def test_a_claim_next_to_its_definition_in_one_display_is_checked():
    from mcls.analysis import analyze

    doc = (r"Let $\mathbf{X} \in \mathbb{R}^{n\times p}$, $\mathbf{w} \in \mathbb{R}^{p}$, $\mathbf{y} \in \mathbb{R}^{n}$." "\n"
           r"$$L = \left\| \mathbf{y} - \mathbf{X}\mathbf{w} \right\|_2^2, \qquad \nabla_{\mathbf{w}} L = -2\mathbf{X}^{\intercal}(\mathbf{y} - \mathbf{X}\mathbf{w})$$" "\n"
           r"$$J = \left\| \mathbf{y} - \mathbf{X}\mathbf{w} \right\|_2^2, \qquad \nabla_{\mathbf{w}} J = -2\mathbf{X}^\top(\mathbf{y} + \mathbf{X}\mathbf{w})$$" "\n")
    d = analyze(doc, "markdown")
    assert [doc[slice(*p.span)] for p in d.verified] == [r"-2\mathbf{X}^{\intercal}(\mathbf{y} - \mathbf{X}\mathbf{w})"]
    got = [p for p in d.problems if p.code == "claim/false"]
    assert [doc[slice(*p.span)] for p in got] == [r"-2\mathbf{X}^\top(\mathbf{y} + \mathbf{X}\mathbf{w})"]


def test_labelled_steps_are_checked_and_definitions_are_not():
    doc = DECL + (r"$$g \overset{\text{def}}{=} x^\top A B x$$" "\n"
                  r"$$(A B)^\top \overset{(a)}{=} B^\top A^\top \overset{(b)}{=} A^\top B^\top$$" "\n")
    got = claims(doc)
    assert [doc[slice(*p.span)] for p in got] == [r"A^\top B^\top"]


def test_corrections_are_written_in_the_formula_s_own_style():
    doc = (r"Let $X, A, B \in \mathbb{R}^{n\times n}$." "\n"
           r"$$\mathrm{d}\,\log\det X = \operatorname{tr}(X^{-T}\mathrm{d}X)$$" "\n"
           r"$$(AB)^T = A^T B^T$$" "\n")
    assert [p.fix for p in claims(doc)] == [r"\operatorname{tr}(X^{-1} \mathrm{d}X)", "B^T A^T"]


def test_markup_in_the_sentence_is_not_a_condition():
    """`\\begin{equation}` says no "equation", `$m \\ne n$` no "not"."""
    doc = DECL + ("Two slips:\n\\begin{equation}\n  d(A^{-1}) = -A^{-2}\\, dA,\n\\end{equation}\n"
                  r"and $(AB)^\top = A^\top B^\top$ with $m \ne n$.")
    assert [doc[slice(*p.span)] for p in claims(doc)] == [r"-A^{-2}\, dA", r"A^\top B^\top"]


def test_function_definitions_and_prose_assumptions_on_declarations():
    """`f(x) = …` defines f; "let $\\Sigma \\in …$ be symmetric positive definite" makes the
    symmetric-form gradient of a Gaussian log-likelihood right (it is false for general Σ)."""
    from mcls.analysis import analyze

    doc = (r"Let $A \in \mathbb{R}^{m\times n}$, $b \in \mathbb{R}^m$, $x, \mu \in \mathbb{R}^n$ and let "
           r"$\Sigma \in \mathbb{R}^{n\times n}$ be symmetric positive definite. Let $f(x) = \|Ax - b\|_2^2$, so that "
           r"$\nabla_x f = 2A^\top A x - 2A^\top b$. With $r = x - \mu$ and "
           r"$\ell(\Sigma) = -\tfrac12 \log\det\Sigma - \tfrac12 r^\top \Sigma^{-1} r$, we obtain "
           r"$\frac{\partial \ell}{\partial \Sigma} = \tfrac12(\Sigma^{-1} r r^\top \Sigma^{-1} - \Sigma^{-1})$.")
    d = analyze(doc, "markdown")
    assert {"symmetric", "spd"} <= d.scope.assumptions_of(r"\Sigma")
    assert [p for p in d.problems if p.code.startswith("claim/")] == []
    assert len(d.verified) == 2


def test_generic_letters_in_a_conformable_sentence_are_not_size_errors():
    from mcls.analysis import analyze

    decl = r"Let $A \in \mathbb{R}^{m\times n}$, $B \in \mathbb{R}^{n\times m}$, $C \in \mathbb{R}^{n\times n}$. "
    generic = decl + r"For conformable matrices the trace is cyclic: $\operatorname{tr}(ABC) = \operatorname{tr}(CAB)$."
    assert [p for p in analyze(generic, "markdown").problems if p.severity.name == "ERROR"] == []
    plain = decl + r"Then $\operatorname{tr}(ABC)$ is a number."
    assert [p.code for p in analyze(plain, "markdown").problems if p.severity.name == "ERROR"] == ["shape/matmul"]


def test_is_defined_as_does_not_make_letters_generic():
    from mcls.analysis import analyze

    doc = (r"Let $A \in \mathbb{R}^{m\times n}$, $X \in \mathbb{R}^{m\times n}$. "
           r"The matrix $M = A X$ is defined as the product of the two.")
    assert [p.code for p in analyze(doc, "markdown").problems if p.severity.name == "ERROR"] == ["shape/matmul"]
