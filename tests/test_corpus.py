"""The quality bar on documents people actually write (issues 4 and 7).

* every document under ``tests/corpus/real/`` gets **no error-severity diagnostic**;
* at least 90% of their math regions parse and get a shape (definition in ``region_stats``);
* a broken copy of each (one transpose dropped or added) gets **exactly one error, at the
  place that was broken** (the erroneous text range is asserted);
* property tests: random well-shaped expressions over declared matrices never produce an
  error, and transposing one operand of a random non-square product produces exactly one
  error, at that product.

Multi-file papers: each file of ``real/paper/`` is checked with the context of its project
(``mcls.document.project``): ``sections/method.tex`` gets the macros of ``macros.sty`` (loaded
by ``\\usepackage{macros}`` in ``main.tex``) and the declarations ``main.tex`` makes before
``\\input{sections/method}``; ``main.tex`` gets ``macros.sty`` and what its section declares.

Run ``python tests/test_corpus.py`` for a per-document report (regions, parse issues,
unshaped statements and errors).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcls import ir
from mcls.analysis import DocumentAnalysis
from mcls.analysis import analyze as _analyze
from mcls.document.project import Project
from mcls.problems import Severity
from mcls.shapes import is_known

CORPUS = Path(__file__).parent / "corpus"
REAL = CORPUS / "real"
PAPER = REAL / "paper"
_PAPER_PROJECT = Project([str(PAPER)])


# ------------------------------------------------------------------ loading


def language_of(path: Path) -> str:
    return "markdown" if path.suffix in (".md", ".markdown", ".qmd") else "latex"


def document_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def analyze(text: str, language: str, path: str | None = None) -> DocumentAnalysis:
    """The analysis; files of the multi-file paper get their project context (the other
    files as on disk, this one as ``text``)."""
    context = None
    if path is not None and Path(path).is_relative_to(PAPER) and path.endswith(".tex"):
        context = _PAPER_PROJECT.context_for(path, text)
        assert context is not None, f"{path}: no project context"
    return _analyze(text, language, path, context)


def real_documents() -> list[Path]:
    return sorted(p for p in REAL.rglob("*") if p.suffix in (".tex", ".md"))


def rel(path: Path) -> str:
    return path.relative_to(REAL).as_posix()


def errors_of(da: DocumentAnalysis):
    return [p for p in da.problems if p.severity == Severity.ERROR]


# ------------------------------------------------------------------ coverage ("stats")


@dataclass
class RegionStats:
    """Counts over one document.

    A region *parses* when it has no ``parse/syntax`` issue. A statement (one relation chain,
    e.g. one row of an ``align``) *gets a shape* when the shape of its top node -- the chain,
    whose shape is that of its first side after unification with the other sides -- has at
    least one dimension that is not an unknown size; declarations (``X \\in \\mathbb{R}^{…}``)
    count as shaped, so does a statement that is only a space (``$\\mathbb{R}^{n}$`` in prose)
    and a tuple ``$(A, B)$`` whose items are shaped. Statements that are not matrix
    expressions are not counted: distribution statements (``\\sim``), big-O, and operators or
    placeholders mentioned in prose (``where $\\odot$ is …``). A region *gets a shape* when it
    parses and every counted statement gets one; regions with nothing to count (a ``\\def``
    block, ``$\\mathcal{O}(n^3)$``) are left out.
    """

    regions: int = 0
    parsed: int = 0
    shaped: int = 0
    unparsed: list[str] = field(default_factory=list)
    unshaped: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.shaped / self.regions if self.regions else 1.0


# Notation that is not a matrix expression: complexity classes and distributions.
NOT_MATRICES = {"\\mathcal{O}", "O", "\\Theta", "\\Omega", "\\mathcal{N}", "\\mathcal{GP}", "\\mathcal{U}"}


def statement_status(ra, st: ir.Chain) -> str:
    """"shaped", "unshaped" or "n/a" (not a matrix expression: a distribution statement
    ``x \\sim \\mathcal{N}(…)``, big-O, an operator or placeholder mentioned in prose)."""
    if "\\in" in st.ops or all(isinstance(p, ir.Space) for p in st.parts):
        return "shaped"  # a declaration, or the space of one ("… vector in $\\mathbb{R}^n$")
    if "\\sim" in st.ops:
        return "n/a"
    top = st.parts[0]
    if not st.ops and getattr(top, "_paren", None) == "\\{":
        return "n/a"  # a set, $\\{E_{ij}\\}$
    if not st.ops and isinstance(top, ir.Opaque):
        if top.text in NOT_MATRICES or not top.args or all(isinstance(a, ir.Opaque) and not a.args for a in top.args):
            return "n/a"
    if not st.ops and isinstance(top, ir.Tuple):  # $(A, B)$: shaped when every item is
        return "shaped" if all(node_shaped(ra, i) for i in top.items if not isinstance(i, ir.Opaque)) else "unshaped"
    return "shaped" if node_shaped(ra, st) else "unshaped"


def node_shaped(ra, node: ir.Expr) -> bool:
    s = ra.shape_of(node)
    if s is None:
        return False
    if ra.shapes.is_soft_scalar(s):
        return True  # a presumed scalar (`\\lambda`, an entry `x_i`)
    sizes = ra.shapes.sizes
    return is_known(sizes.resolve(s.rows)) or is_known(sizes.resolve(s.cols))


def region_stats(da: DocumentAnalysis) -> RegionStats:
    out = RegionStats()
    for ra in da.regions:
        status = [statement_status(ra, st) for st in ra.statements]
        if not ra.parsed.issues and all(s == "n/a" for s in status):
            continue
        out.regions += 1
        snippet = " ".join(ra.region.text.split())[:90]
        if any(p.code == "parse/syntax" for p in ra.problems):
            out.unparsed.append(snippet)
            continue
        out.parsed += 1
        if "unshaped" not in status:
            out.shaped += 1
        else:
            out.unshaped.append(snippet)
    return out


# ------------------------------------------------------------------ (a) no false errors


@pytest.mark.parametrize("path", real_documents(), ids=rel)
def test_real_documents_have_no_errors(path: Path):
    da = analyze(document_text(path), language_of(path), str(path))
    errs = errors_of(da)
    text = da.text
    assert not errs, "\n".join(f"{p.code} at {text[p.span[0]:p.span[1]]!r}: {p.message}" for p in errs)


SNIPPETS = CORPUS / "snippets"


@pytest.mark.parametrize("path", real_documents() + sorted(SNIPPETS.glob("*.*")), ids=lambda p: p.name)
def test_correct_documents_get_no_false_claims(path: Path):
    """Every derivative and identity these documents state is right (or a condition, an
    equation to solve): none may be called false, and the ones checked must verify."""
    da = analyze(document_text(path) if path.parent != SNIPPETS else path.read_text(encoding="utf-8"), language_of(path), str(path))
    wrong = [p for p in da.problems if p.code == "claim/false"]
    assert not wrong, "\n".join(f"{da.text[p.span[0]:p.span[1]]!r}: {p.message}" for p in wrong)


@pytest.mark.parametrize("path", sorted(SNIPPETS.glob("*.*")), ids=lambda p: p.name)
def test_snippets_have_no_errors(path: Path):
    """Shorter notes in other styles (attention, GLS with `X'X`, Woodbury and Schur
    complements, optimizers, lemmas that reuse a declared letter generically)."""
    da = analyze(path.read_text(encoding="utf-8"), language_of(path), str(path))
    errs = errors_of(da)
    assert not errs, "\n".join(f"{p.code} at {da.text[p.span[0]:p.span[1]]!r}: {p.message}" for p in errs)


def test_front_matter_macros_expand():
    """KaTeX macros in Markdown front matter (multi-line YAML, quoted or not)."""
    from mcls.document.macros import collect_macros, expand

    text = '---\ntitle: t\nkatex:\n  macros:\n    "\\\\R": "\\\\mathbb{R}"\n    \'\\vx\': \'\\mathbf{x}\'\n---\n$\\vx \\in \\R^n$\n'
    macros = collect_macros(text)
    assert macros["\\R"].body == "\\mathbb{R}" and macros["\\vx"].body == "\\mathbf{x}"
    assert "\\mathbf{x}" in expand("\\vx \\in \\R^n", 0, macros).text


# ------------------------------------------------------------------ (b) coverage


def test_real_documents_parse_and_get_shapes():
    total = RegionStats()
    for path in real_documents():
        s = region_stats(analyze(document_text(path), language_of(path), str(path)))
        total.regions += s.regions
        total.parsed += s.parsed
        total.shaped += s.shaped
        total.unparsed += [f"{rel(path)}: {u}" for u in s.unparsed]
        total.unshaped += [f"{rel(path)}: {u}" for u in s.unshaped]
    assert total.regions > 300
    assert total.parsed / total.regions >= 0.97, "\n".join(total.unparsed)
    assert total.ratio >= 0.90, f"{total.shaped}/{total.regions}\n" + "\n".join(total.unshaped)


@pytest.mark.parametrize("path", real_documents(), ids=rel)
def test_each_document_is_mostly_understood(path: Path):
    s = region_stats(analyze(document_text(path), language_of(path), str(path)))
    # a floor per document; the Hadamard seed answer never declares its plain-font X and A
    assert s.ratio >= 0.6, f"{s.shaped}/{s.regions}\n" + "\n".join(s.unshaped + s.unparsed)


# ------------------------------------------------------------------ (c) broken copies

# (document, text to replace (unique), replacement, the text the one error must cover).
# The error range is located inside the replacement, so it is exact.
BROKEN = [
    ("lecture_notes.tex", r"\nabla_x f = 2A^\top A x", r"\nabla_x f = 2A A x", r"A A"),
    ("least_squares.tex", r"= 2A^\top (Ax - b).", r"= 2A (Ax - b).", r"A (Ax - b)"),
    ("least_squares.tex", r"A^\top A \hat{x} = A^\top b", r"A^\top A^\top \hat{x} = A^\top b", r"A^\top A^\top"),
    ("pca.tex", r"Z &= \tilde{X} W \in", r"Z &= \tilde{X}^\top W \in", r"\tilde{X}^\top W"),
    ("pca.tex", r"\hat{X} &= Z W^\top", r"\hat{X} &= Z W", r"Z W"),
    ("kalman.tex", r"S_k &= H_k P_{k|k-1} H_k^\top + R_k", r"S_k &= H_k P_{k|k-1} H_k + R_k", r"P_{k|k-1} H_k"),
    ("kalman.tex", r"K = P^{-} H^\top \left(", r"K = P^{-} H \left(", r"P^{-} H"),
    ("gaussian_process.md", r"\bar{f}_* &= K_*^\top \left(K + \sigma_n^2 I\right)^{-1} y",
     r"\bar{f}_* &= K_* \left(K + \sigma_n^2 I\right)^{-1} y", r"K_* \left(K + \sigma_n^2 I\right)^{-1}"),
    ("backprop.tex", r"&= \delta^{(l)} \big(a^{(l-1)}\big)^\top", r"&= \delta^{(l)} \big(a^{(l-1)}\big)",
     r"\delta^{(l)} \big(a^{(l-1)}\big)"),
    ("backprop.tex", r"\Big( \big(W^{(l+1)}\big)^\top \delta^{(l+1)} \Big)", r"\Big( \big(W^{(l+1)}\big) \delta^{(l+1)} \Big)",
     r"\big(W^{(l+1)}\big) \delta^{(l+1)}"),
    ("paper/sections/method.tex", r"\grad{\mathcal{L}}{\mA} = \mB\T \mG", r"\grad{\mathcal{L}}{\mA} = \mB \mG", r"\mB \mG"),
    ("paper/main.tex", r"(\vX \mW\T - \vY)\T \vX", r"(\vX \mW - \vY)\T \vX", r"\vX \mW"),
    ("jupyter_regression.md", r"&= -\mathbf{X}^T(\mathbf{y} - \mathbf{X}\mathbf{w})", r"&= -\mathbf{X}(\mathbf{y} - \mathbf{X}\mathbf{w})",
     r"\mathbf{X}(\mathbf{y} - \mathbf{X}\mathbf{w})"),
    ("blog_gaussian_mle.md", r"\mSigma^{-1}(\vx - \vmu)(\vx - \vmu)^\top\mSigma^{-1} - \mSigma^{-1}",
     r"\mSigma^{-1}(\vx - \vmu)(\vx - \vmu)\mSigma^{-1} - \mSigma^{-1}", r"(\vx - \vmu)(\vx - \vmu)"),
    ("seed_gram_matrix.md", r"$M=AXX^\top A^\top$", r"$M=AXX A^\top$", r"XX"),
    ("seed_hadamard.tex", r"$(\mathbf{X} \odot \mathbf{A}) \mathbf{1}_p$", r"$(\mathbf{X}^\top \odot \mathbf{A}) \mathbf{1}_p$",
     r"\mathbf{X}^\top \odot \mathbf{A}"),
    ("physics_lyapunov.tex", r"\pdv{X} \tr(X^\top P X)", r"\pdv{X} \tr(X P X)", r"X P"),
    ("cookbook_cheatsheet.md", r"$a b^\top X C^\top + b a^\top X C$", r"$a b X C^\top + b a^\top X C$", r"a b"),
]


def test_every_real_document_has_a_broken_copy():
    assert {b[0] for b in BROKEN} == {rel(p) for p in real_documents() if p.suffix != ".sty"}


@pytest.mark.parametrize("doc,old,new,expected", BROKEN, ids=[f"{b[0]}:{b[3]}" for b in BROKEN])
def test_broken_copy_gets_exactly_one_error_at_the_break(doc, old, new, expected):
    path = REAL / doc
    text = document_text(path)
    assert text.count(old) == 1, f"{old!r} must occur once in {doc}"
    broken = text.replace(old, new)
    at = broken.index(new) + new.index(expected)
    errs = errors_of(analyze(broken, language_of(path), str(path)))
    assert len(errs) == 1, "\n".join(f"{p.code} at {broken[p.span[0]:p.span[1]]!r}: {p.message}" for p in errs)
    assert errs[0].span == (at, at + len(expected)), (broken[errs[0].span[0]:errs[0].span[1]], expected)


# ------------------------------------------------------------------ property tests

# Declared sizes are distinct symbols, so every product of non-square factors is checked.
SIZES = ["n", "p", "q", "r"]
MATS = {  # name -> (rows, cols)
    "A": ("n", "p"), "B": ("p", "q"), "C": ("q", "r"), "D": ("n", "n"), "F": ("p", "p"),
    "G": ("r", "n"), r"\mathbf{W}": ("q", "q"), r"\Sigma": ("r", "r"), r"\bm{U}": ("n", "q"),
    "x": ("p", "1"), "y": ("n", "1"), r"\mathbf{z}": ("q", "1"),
}
DECLS = ", ".join(
    f"${name} \\in \\mathbb{{R}}^{{{r}}}$" if c == "1" else f"${name} \\in \\mathbb{{R}}^{{{r} \\times {c}}}$"
    for name, (r, c) in MATS.items()
)
PREAMBLE = f"Let {DECLS}, and let $\\lambda$ be a scalar.\n\n"
TRANSPOSES = [r"^\top", "^T", r"^{\top}", r"^\intercal", r"^{\mathsf{T}}"]


def _leaves(rows: str, cols: str) -> list[str]:
    out = []
    for name, (r, c) in MATS.items():
        if (r, c) == (rows, cols):
            out.append(name)
        if (c, r) == (rows, cols):
            out.append(name + "{T}")  # a transpose, spelled by the drawing below
    return out


@st.composite
def expr_of(draw, rows: str, cols: str, depth: int = 3) -> str:
    """LaTeX for a random expression of shape rows×cols ("1" means 1)."""
    leaves = _leaves(rows, cols)
    kinds = ["leaf"] if leaves else []
    if depth > 0:
        kinds += ["mul", "add", "scale", "transpose", "paren"]
        if rows == cols and rows != "1":
            kinds += ["inverse", "identity"]
        if rows == cols == "1":
            kinds += ["trace", "frob"]
        if rows != "1" or cols != "1":
            kinds += ["hadamard"]
    if not kinds:
        kinds = ["mul"]
    kind = draw(st.sampled_from(kinds))
    if kind == "leaf":
        leaf = draw(st.sampled_from(leaves))
        if leaf.endswith("{T}"):
            return leaf[:-3] + draw(st.sampled_from(TRANSPOSES))
        return leaf
    d = depth - 1
    if kind == "mul":
        inner = draw(st.sampled_from(SIZES))
        return f"{_wrap(draw(expr_of(rows, inner, d)))} {_wrap(draw(expr_of(inner, cols, d)))}"
    if kind == "add":
        op = draw(st.sampled_from([" + ", " - "]))
        return f"{draw(expr_of(rows, cols, d))}{op}{draw(expr_of(rows, cols, d))}"
    if kind == "scale":
        s = draw(st.sampled_from([r"\lambda ", "2", r"\frac{1}{2}", r"\tfrac12 ", "3 \\cdot "]))
        return f"{s}{_group(draw(expr_of(rows, cols, d)))}"
    if kind == "transpose":
        return f"{_group(draw(expr_of(cols, rows, d)))}{draw(st.sampled_from(TRANSPOSES))}"
    if kind == "paren":
        left, right = draw(st.sampled_from([("(", ")"), (r"\left(", r"\right)"), (r"\big(", r"\big)"), ("[", "]")]))
        return f"{left}{draw(expr_of(rows, cols, d))}{right}"
    if kind == "inverse":
        return f"{_group(draw(expr_of(rows, cols, d)))}^{{-1}}"
    if kind == "identity":
        ident = draw(st.sampled_from(["I", f"I_{rows}", "\\lambda I"]))
        return f"{_group(draw(expr_of(rows, cols, d)))} + {ident}"
    if kind == "trace":
        k = draw(st.sampled_from(SIZES))
        fn = draw(st.sampled_from([r"\operatorname{tr}", r"\mathrm{Tr}", r"\text{tr}"]))
        return f"{fn}\\left({draw(expr_of(k, k, d))}\\right)"
    if kind == "frob":
        k1, k2 = draw(st.sampled_from(SIZES)), draw(st.sampled_from(SIZES))
        a, b = draw(expr_of(k1, k2, d)), draw(expr_of(k1, k2, d))
        return draw(st.sampled_from([rf"\langle {a}, {b} \rangle", f"({a}) : ({b})"]))
    if kind == "hadamard":
        return f"({draw(expr_of(rows, cols, d))}) \\odot ({draw(expr_of(rows, cols, d))})"
    raise AssertionError(kind)


def _wrap(s: str) -> str:
    """Parenthesise a product operand unless precedence already keeps it whole."""
    if any(op in s for op in (" + ", " - ", "\\odot", ":", "\\langle")) and not _one_group(s):
        return f"({s})"
    return s


def _one_group(s: str) -> bool:
    if not s.startswith("("):
        return False
    depth = 0
    for i, c in enumerate(s):
        depth += c == "("
        depth -= c == ")"
        if depth == 0:
            return i == len(s) - 1 or re.fullmatch(r"\^(?:\\top|T|\\intercal|\{[^{}]*\})", s[i + 1 :]) is not None
    return False


def _group(s: str) -> str:
    return f"({s})"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_well_shaped_expressions_have_no_errors(data):
    rows = data.draw(st.sampled_from(SIZES + ["1"]))
    cols = data.draw(st.sampled_from(SIZES + ["1"]))
    expr = data.draw(expr_of(rows, cols))
    doc = PREAMBLE + f"$$ {expr} $$\n"
    errs = errors_of(analyze(doc, "latex"))
    assert not errs, (expr, [(p.code, doc[p.span[0]:p.span[1]], p.message) for p in errs])


NON_SQUARE = [n for n, (r, c) in MATS.items() if r != c and c != "1"]


@st.composite
def product_chain(draw):
    """A product M_1 M_2 … M_k of non-square declared matrices whose sizes chain."""
    first = draw(st.sampled_from(NON_SQUARE))
    names = [first]
    for _ in range(draw(st.integers(1, 3))):
        nxt = [n for n in NON_SQUARE if MATS[n][0] == MATS[names[-1]][1]]
        if not nxt:
            break
        names.append(draw(st.sampled_from(nxt)))
    return names


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_transposing_one_operand_of_a_product_gives_exactly_one_error(data):
    names = data.draw(product_chain())
    k = data.draw(st.integers(0, len(names) - 1))
    mark = data.draw(st.sampled_from(TRANSPOSES))
    assert len(names) >= 2  # every non-square matrix above has a conforming successor
    shown = [n + (mark if i == k else "") for i, n in enumerate(names)]
    product = " ".join(shown)
    # an innocent, well-shaped context around the product (which is rows×cols when unbroken)
    rows, cols = MATS[names[0]][0], MATS[names[-1]][1]
    ctx = data.draw(st.sampled_from(["{P}", "\\lambda\\, {P}", "({P})^\\top", "{P} - {E}", "\\operatorname{tr}\\left({P} {F}\\right)"]))
    body = ctx.replace("{P}", "(" + product + ")")
    if "{E}" in body:
        body = body.replace("{E}", _wrap(data.draw(expr_of(rows, cols, 2))))
    if "{F}" in body:
        body = body.replace("{F}", _wrap(data.draw(expr_of(cols, rows, 2))))
    doc = PREAMBLE + f"$$ {body} $$\n"
    errs = errors_of(analyze(doc, "latex"))
    expected_left = shown[k - 1] if k > 0 else shown[0]
    expected_right = shown[k] if k > 0 else shown[1]
    assert len(errs) == 1, (body, [(p.code, doc[p.span[0]:p.span[1]]) for p in errs])
    start = doc.index(product) + product.index(expected_left + " " + expected_right)
    assert errs[0].code == "shape/matmul"
    assert errs[0].span == (start, start + len(expected_left) + 1 + len(expected_right)), doc[errs[0].span[0]:errs[0].span[1]]


# ------------------------------------------------------------------ report


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or real_documents()
    grand = RegionStats()
    for path in paths:
        da = analyze(document_text(path), language_of(path), str(path))
        s = region_stats(da)
        grand.regions += s.regions
        grand.parsed += s.parsed
        grand.shaped += s.shaped
        print(f"{rel(path) if path.is_relative_to(REAL) else path}: {s.shaped}/{s.regions} shaped, {s.parsed} parsed, {len(errors_of(da))} errors")
        for p in errors_of(da):
            print(f"   ERROR {p.code} {da.text[p.span[0]:p.span[1]]!r}: {p.message}")
        for u in s.unparsed:
            print(f"   unparsed: {u}")
        for u in s.unshaped:
            print(f"   unshaped: {u}")
    print(f"TOTAL {grand.shaped}/{grand.regions} shaped ({grand.ratio:.1%}), {grand.parsed} parsed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def test_the_corpus_claims_are_checked_not_skipped():
    """The silence above must come from claims that verify, not from checking nothing:
    the corpus states dozens of derivatives and identities (39 verified when written)."""
    total = 0
    for path in real_documents() + sorted(SNIPPETS.glob("*.*")):
        text = document_text(path) if path.parent != SNIPPETS else path.read_text(encoding="utf-8")
        total += len(analyze(text, language_of(path), str(path)).verified)
    assert total >= 30, total
