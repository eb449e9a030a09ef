"""Robustness: random and mutated documents through the protocol-free analysis.

Every document goes through ``mcls.analysis.analyze`` (as LaTeX and as
Markdown) and ``mcls.features.hover.hover`` at several offsets. Properties:

* no exception escapes;
* each call finishes within ``BUDGET`` seconds (a hard limit aborts a call
  that hangs, so a regression fails fast instead of stalling CI);
* every span handed back (problems, related information, regions, IR nodes,
  declarations, hovers) lies inside the document, and offset <-> LSP
  position conversion round-trips.

The default run is bounded (derandomized, small ``max_examples``, no
shrinking, about a minute). ``MCLS_FUZZ_LONG=1`` runs many more random
examples with shrinking.

Inputs that are known to blow the budget today are not drawn by the fuzzer;
each has its own ``xfail`` test at the end (see "Known bugs"), so it turns
into an XPASS once fixed and can then move into ``HEAVY``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from mcls.analysis import DocumentAnalysis, analyze
from mcls.lsp.convert import PositionMap

try:  # the hover feature is optional while it grows
    from mcls.features.hover import HoverOptions
    from mcls.features.hover import hover as hover_feature
except ImportError:  # pragma: no cover
    hover_feature = None  # type: ignore[assignment]
    HoverOptions = None  # type: ignore[assignment,misc]

try:  # code actions, likewise optional
    from mcls.features.actions import actions_at
    from mcls.features.actions import resolve as resolve_action
    from mcls.features.derive import DeriveError
except ImportError:  # pragma: no cover
    actions_at = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
LONG = os.environ.get("MCLS_FUZZ_LONG") == "1"
BUDGET = 2.0  # seconds per call (analysis of a document, one hover)
HARD_LIMIT = 30.0 if LONG else 8.0  # abort a call that runs this long
KNOWN_BUG_LIMIT = BUDGET + 0.5  # the xfail tests need not wait longer

_PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if LONG else [])


def fuzz_settings(ci_examples: int, long_examples: int = 2000):
    return settings(
        max_examples=long_examples if LONG else ci_examples,
        deadline=None,  # timing is asserted per call below
        derandomize=not LONG,
        database=None,
        phases=_PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# ---------------------------------------------------------------- budget guard


class _HardLimit(BaseException):
    """Raised by SIGALRM; a BaseException so analysis code's `except Exception` cannot swallow it."""


@contextlib.contextmanager
def hard_limit(seconds: float, what: str):
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _alarm(signum, frame):
        # Re-arm first: an exception raised while a gc callback or a __del__ runs
        # is printed and dropped, so keep interrupting until one lands.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise _HardLimit

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _HardLimit:
        raise AssertionError(f"{what} still running after {seconds:.0f} s (budget {BUDGET} s)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def timed(what: str, fn, *args, hard: float = HARD_LIMIT):
    # The smaller of wall-clock and this process's CPU time: wall time counts
    # other jobs sharing the machine, CPU time counts numpy's BLAS threads
    # several times over; a call that is really slow is slow by both.
    w0, c0 = time.perf_counter(), time.process_time()
    with hard_limit(hard, what):
        result = fn(*args)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    assert min(wall, cpu) < BUDGET, f"{what} took {wall:.2f} s ({cpu:.2f} s of CPU), budget {BUDGET} s"
    return result


# ---------------------------------------------------------------- invariants


def _inside(span, n: int, what: str) -> None:
    assert isinstance(span, tuple) and len(span) == 2, f"{what}: span {span!r} is not a pair"
    a, b = span
    assert isinstance(a, int) and isinstance(b, int), f"{what}: span {span!r}"
    assert 0 <= a <= b <= n, f"{what}: span {span!r} outside the document (length {n})"


def check_analysis(doc: DocumentAnalysis, text: str) -> None:
    n = len(text)
    assert doc.text == text
    prev_end = 0
    for ra in doc.regions:
        r = ra.region
        assert 0 <= r.outer_start <= r.start <= r.end <= r.outer_end <= n, f"region {r!r} outside the document"
        assert r.outer_start >= prev_end, "regions overlap or are out of order"
        prev_end = r.outer_end
        assert text[r.start : r.end] == r.text
        rlen = len(r.text)
        for st_ in ra.statements:
            for node in st_.walk():
                if node.span is not None:
                    a, b = node.span
                    assert 0 <= a <= b <= rlen, f"IR node {type(node).__name__} span {node.span} outside its region (length {rlen})"
    for p in doc.problems:
        _inside(p.span, n, f"problem {p.code}")
        assert isinstance(p.message, str) and p.message
        assert int(p.severity) in (1, 2, 3, 4)
        for rel in p.related:
            if rel.path in (None, doc.path):
                _inside(rel.span, n, f"related information of {p.code}")
    for d in doc.scope.decls.values():
        if d.path in (None, doc.path):
            _inside(d.span, n, f"declaration of {d.name}")


def check_positions(text: str, offsets) -> None:
    for encoding in ("utf-16", "utf-8", "utf-32"):
        pm = PositionMap(text, encoding)
        for o in offsets:
            if 0 < o < len(text) and text[o - 1] == "\r" and text[o] == "\n":
                continue  # between \r and \n: not a position LSP can name
            pos = pm.position(o)
            assert pos.line >= 0 and pos.character >= 0
            assert pm.offset(pos) == o, f"{encoding}: offset {o} -> {pos} -> {pm.offset(pos)}"


def hover_offsets(doc: DocumentAnalysis, text: str, rng: random.Random, limit: int = 10) -> list[int]:
    n = len(text)
    offs = {0, n, max(0, n - 1)}
    for ra in doc.regions[:4] + doc.regions[-2:]:
        r = ra.region
        offs.update({r.outer_start, r.start, r.end, r.outer_end, (r.start + r.end) // 2})
    for _ in range(limit):
        offs.add(rng.randrange(n + 1))
    out = sorted(offs)
    return out if len(out) <= limit + 3 else sorted(rng.sample(out, limit + 3))


_OPTIONS = []
if HoverOptions is not None:
    _OPTIONS = [HoverOptions(), HoverOptions(format="unicode", markdown=False), HoverOptions(format="latex", wrt="X")]


def check_document(text: str, language: str, seed: int = 0, hovers: int = 10, hard: float = HARD_LIMIT) -> DocumentAnalysis:
    path = "/fuzz/doc." + ("md" if language == "markdown" else "tex")
    doc = timed(f"analyze({language})", analyze, text, language, path, hard=hard)
    check_analysis(doc, text)
    rng = random.Random(seed)
    offsets = hover_offsets(doc, text, rng, hovers)
    check_positions(text, offsets)
    if hover_feature is not None:
        for k, off in enumerate(offsets):
            options = _OPTIONS[k % len(_OPTIONS)]
            result = timed(f"hover at {off}", hover_feature, doc, off, options, hard=hard)
            if result is not None:
                _inside(tuple(result.span), len(text), f"hover at {off}")
                assert isinstance(result.markdown, str) and isinstance(result.plaintext, str)
    if actions_at is not None:
        check_actions(doc, text, [o for o in offsets if doc.region_at(o) is not None][:3], hard)
    return doc


def check_actions(doc: DocumentAnalysis, text: str, offsets: list[int], hard: float, resolves: int = 2) -> None:
    """Code actions listed at ``offsets`` and the first few resolved: JSON data, edits inside the document;
    resolving may refuse with DeriveError (the documented way), nothing else."""
    for off in offsets:
        for action in timed(f"actions at {off}", actions_at, doc, off, off, hard=hard):
            assert isinstance(action.title, str) and action.title
            json.dumps(action.data)  # travels through the client as JSON
            for edit in action.edits or ():
                _inside(tuple(edit.span), len(text), f"edit of {action.title!r}")
            if resolves <= 0:
                continue
            resolves -= 1
            try:
                edits = timed(f"resolve {action.title!r}", resolve_action, doc, json.loads(json.dumps(action.data)), hard=hard)
            except DeriveError:
                continue
            for edit in edits:
                _inside(tuple(edit.span), len(text), f"resolved edit of {action.title!r}")
                assert isinstance(edit.new_text, str)


@pytest.fixture(scope="module", autouse=True)
def _warm():
    """Import and build everything once, so budgets time the analysis, not imports."""
    doc = analyze("Let $X \\in \\mathbb{R}^{n\\times p}$ and $$f = \\operatorname{tr}(X^\\top X)$$", "latex")
    if hover_feature is not None:
        for off in range(0, len(doc.text), 7):
            hover_feature(doc, off)
    yield


# ---------------------------------------------------------------- inputs

SEEDS: list[tuple[str, str]] = []
for _p in sorted((ROOT / "examples").glob("*")):
    if _p.suffix in (".tex", ".md"):
        SEEDS.append((_p.read_text(encoding="utf-8"), "markdown" if _p.suffix == ".md" else "latex"))
SEEDS += [
    (r"""\documentclass{article}
\newcommand{\R}{\mathbb{R}}
\DeclareMathOperator{\tr}{tr}
\begin{document}
Let $X \in \R^{n \times p}$, $A \in \mathbb{R}^{n\times n}$ and $f(X) = \operatorname{tr}(X^\top A X)$.
\[ \frac{\partial f}{\partial X} = (A + A^\top) X \]
\begin{align*}
  M &= A X X^\top A^\top \\
  dM &= A\,dX\,X^\top A^\top + A X\,dX^\top A^\top % comment $x$
\end{align*}
$\left( X^\top X \right)^{-1} \odot I_p$ and $\|X\|_F^2 = X : X$, $\log\det(X^\top X)$.
\end{document}
""", "latex"),
    ("# Notes\n\nLet $\\mathbf{x} \\in \\mathbb{R}^n$ and `$not math$`.\n\n```math\n\\nabla_{\\mathbf{x}} \\mathbf{x}^\\top W \\mathbf{x} = (W + W^\\top)\\mathbf{x}\n```\n\n$$\nY = (X \\odot A) \\mathbf{1}_p\n$$\n", "markdown"),
    ("Let $\U0001d431 \\in \\mathbb{R}^{n}$ 😀 and $A\\in\\mathbb{R}^{m\\times n}$: $A\U0001d431 + 😀$.\r\nNext line\rold mac line\n$$A A$$", "latex"),
]

# Fragments the random documents are made of: delimiters, commands, operators,
# and hostile characters (NUL, lone surrogates, astral, odd line breaks).
TOKENS = [
    "$", "$$", "\\[", "\\]", "\\(", "\\)", "{", "}", "(", ")", "[", "]", "^", "_", "&", "\\\\", "'", "|", "\\|",
    "+", "-", "=", ":", ",", ".", " ", "  ", "\n", "\n\n", "\r\n", "\r", "\t", "%", "#1", "~", "`", "```", "```math\n",
    "X", "A", "B", "x", "y", "n", "p", "i", "j", "T", "0", "1", "2", "-1", "f", "M", "E_{ij}", "e_i", "I",
    "\\mathbf{X}", "\\boldsymbol{x}", "\\bm{A}", "\\in", "\\mathbb{R}", "\\mathbb{R}^{n\\times p}", "\\mathbb{R}^{n}",
    "\\times", "\\top", "^\\top", "^T", "^{-1}", "^{-\\top}", "\\odot", "\\circ", "\\otimes", "\\cdot",
    "\\operatorname{tr}", "\\mathrm{Tr}", "\\det", "\\log\\det", "\\operatorname{diag}", "\\operatorname{vec}",
    "\\frac{", "\\partial", "\\nabla_", "\\left(", "\\right)", "\\left.", "\\right|", "\\Big(", "\\langle", "\\rangle",
    "\\exp", "\\sigma", "\\tanh", "\\sum_{i=1}^n", "\\begin{align}", "\\end{align}", "\\begin{equation*}",
    "\\end{equation*}", "\\begin{verbatim}", "\\end{verbatim}", "\\verb|", "\\label{eq}", "\\text{ for }",
    "\\newcommand{\\R}{\\mathbb{R}}", "\\newcommand{\\m}[1]{#1^\\top #1}", "\\def\\x{X}", "\\DeclareMathOperator{\\tr}{tr}",
    "\\R", "\\m{X}", "\\x", "\\tr", "\\unknowncmd", "\\", "\x00", "\ud800", "\udfff", "\U0001d431", "😀", "\u2028", "\x0c", "\x85",
    "é", "∂", "∈", "ℝ",
]

# Hostile inserts for mutations. Deep nesting is 500 levels as the spec asks.
NESTING = 500
HEAVY = {
    "braces": "{" * NESTING + "X" + "}" * NESTING,
    "parens": "(" * NESTING + "X" + ")" * NESTING,
    "left-right": "\\left(" * NESTING + "X" + "\\right)" * NESTING,
    "frac": "\\frac{" * NESTING + "X" + "}{Y}" * NESTING,
    "superscripts": "X" + "^{" * NESTING + "2" + "}" * NESTING,
    "subscripts": "X" + "_{" * NESTING + "i" + "}" * NESTING,
    "trace": "\\operatorname{tr}(" * NESTING + "X" + ")" * NESTING,
    "inverse": "(" * NESTING + "X" + ")^{-1}" * NESTING,
    "transposes": "X" + "^\\top" * NESTING,
    "unclosed-braces": "{" * NESTING + "X",
    "unclosed-left": "\\left(" * NESTING + "X",
    "huge-exponent": "X^{99999999999} + X^{-99999999999} \\mathbb{R}^{99999999999\\times 99999999999}",
    "region-sum-1e5": "$$" + "X + " * 25_000 + "X$$",
    "region-text-1e5": "$$\\text{" + "a" * 100_000 + "}$$",
}

MUTATION_INSERTS = TOKENS + [
    "{", "{{{", "}", "\\left(", "\\left[", "\\right)", "X^{99999999999}", "\\mathbb{R}^{99999999999}",
    "\x00", "\ud800", "\udc00", "\r", "\r\n", "$", "\\begin{align}", "\\end{equation}",
]


@st.composite
def random_document(draw):
    parts = draw(st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=120))
    return "".join(parts)


@st.composite
def mutated_document(draw, heavy: bool = False):
    text, language = draw(st.sampled_from(SEEDS))
    ops = draw(st.lists(st.tuples(st.sampled_from(["delete", "insert", "crlf", "cr", "swap"]), st.integers(0, 10**9)), min_size=1, max_size=12))
    done = []
    for op, k in ops:
        i = k % (len(text) + 1)
        if op == "delete" and text:
            j = min(len(text), i + 1 + k % 3)
            text = text[:i] + text[j:]
            done.append(f"delete [{i}:{j}]")
        elif op == "insert":
            ins = draw(st.sampled_from(MUTATION_INSERTS))
            text = text[:i] + ins + text[i:]
            done.append(f"insert {ins!r} at {i}")
        elif op in ("crlf", "cr"):
            at = text.find("\n", i)
            if at >= 0 and not (at > 0 and text[at - 1] == "\r"):
                text = text[:at] + ("\r\n" if op == "crlf" else "\r") + text[at + 1 :]
                done.append(f"{op} at {at}")
        elif op == "swap" and len(text) > 1:
            i = min(i, len(text) - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
            done.append(f"swap at {i}")
    if heavy:
        name = draw(st.sampled_from(sorted(HEAVY)))
        i = draw(st.integers(0, len(text)))
        wrap = draw(st.sampled_from(["", "$", "$$"]))
        text = text[:i] + wrap + HEAVY[name] + wrap + text[i:]
        done.append(f"heavy {name} at {i} wrapped in {wrap!r}")
    note("mutations: " + "; ".join(done))
    return text, language


# ---------------------------------------------------------------- the fuzz tests


@fuzz_settings(ci_examples=50)
@given(random_document(), st.sampled_from(["latex", "markdown"]), st.integers(0, 1000))
def test_random_documents(text: str, language: str, seed: int) -> None:
    check_document(text, language, seed)


@fuzz_settings(ci_examples=50)
@given(mutated_document(), st.integers(0, 1000))
def test_mutated_documents(doc: tuple[str, str], seed: int) -> None:
    text, language = doc
    check_document(text, language, seed)
    other = "markdown" if language == "latex" else "latex"
    check_document(text, other, seed, hovers=3)


@fuzz_settings(ci_examples=8, long_examples=200)
@given(mutated_document(heavy=True), st.integers(0, 1000))
def test_mutated_documents_with_hostile_inserts(doc: tuple[str, str], seed: int) -> None:
    text, language = doc
    check_document(text, language, seed, hovers=6)


@pytest.mark.parametrize("name", sorted(HEAVY))
@pytest.mark.parametrize("language", ["latex", "markdown"])
def test_hostile_region(name: str, language: str) -> None:
    body = HEAVY[name]
    if not body.startswith("$$"):
        body = "$$" + body + "$$"
    text = "Let $X \\in \\mathbb{R}^{n\\times n}$ be given.\n\n" + body + "\n\nand $X^\\top X$ after it.\n"
    check_document(text, language, hovers=8)


@pytest.mark.parametrize("breaks", ["\n", "\r\n", "\r", "mixed"])
def test_line_endings_do_not_change_problems(breaks: str) -> None:
    """The same document with other line breaks: same problems, spans shifted by the extra characters only."""
    text = SEEDS[-3][0].replace("\r\n", "\n").replace("\r", "\n")
    if breaks == "mixed":
        lines = text.split("\n")
        seps = ["\n", "\r\n", "\r"]
        other = "".join(line + seps[k % 3] for k, line in enumerate(lines[:-1])) + lines[-1]
    else:
        other = text.replace("\n", breaks)
    a = check_document(text, "latex")
    b = check_document(other, "latex")
    assert [(p.code, p.message) for p in a.problems] == [(p.code, p.message) for p in b.problems]

    def to_plain(t: str, offset: int) -> int:  # offset in `other` -> offset in `text`
        return offset - t[:offset].count("\r\n")

    for pa, pb in zip(a.problems, b.problems):
        assert pa.span == (to_plain(other, pb.span[0]), to_plain(other, pb.span[1]))


def test_nul_and_surrogates_everywhere() -> None:
    for text, language in SEEDS:
        for junk in ["\x00", "\ud800", "\udfff", "\ud83d", "\x00\ud800\r"]:
            spaced = junk.join(text[i : i + 7] for i in range(0, len(text), 7))
            check_document(spaced, language, hovers=4)


def test_check_document_is_deterministic() -> None:
    """Same text, same problems: per-region caches must not leak between documents."""
    from mcls.analysis import check_document as check

    text, language = SEEDS[-3]
    first = check(text, language)
    analyze(text.replace("n \\times p", "p \\times n"), language)  # fills caches with other results
    assert check(text, language) == first


# ---------------------------------------------------------------- known bugs
# Found while fuzzing / building the benchmark paper; see the report to the lead.


# The hard limit may first fire inside a gc callback, which prints and drops it.
_ALARM_NOISE = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@_ALARM_NOISE
def test_recursive_macro_is_cheap() -> None:
    check_document("\\def\\a{\\a\\a}$\\a$ \\newcommand{\\b}{\\b\\b}$\\b$", "latex", hovers=2, hard=KNOWN_BUG_LIMIT)


@_ALARM_NOISE
def test_macro_expansion_bomb_is_cheap() -> None:
    defs = "\\def\\a{XX}" + "".join(f"\\def\\{b}{{\\{a}\\{a}\\{a}\\{a}}}" for a, b in zip("abcdefg", "bcdefgh"))
    check_document(defs + "$\\h\\h\\h$", "latex", hovers=2, hard=KNOWN_BUG_LIMIT)


@_ALARM_NOISE
def test_huge_product_region() -> None:
    check_document("Let $X \\in \\mathbb{R}^{n\\times n}$. $$" + "X" * 100_000 + "$$", "latex", hovers=3, hard=KNOWN_BUG_LIMIT)


# Found with the benchmark paper; fixed since: `f = tr(...)` then `f(X) = ...` is an application, not f·X.
def test_function_application_after_definition() -> None:
    text = (
        "Let $X \\in \\mathbb{R}^{n\\times p}$.\n"
        "$$f = \\operatorname{tr}(X^\\top X)$$ and $$f(X) = \\operatorname{tr}(X^\\top X)$$\n"
    )
    assert [p.message for p in analyze(text, "latex").problems] == []


def test_related_spans_follow_the_declarations() -> None:
    base = r"Let $X \in \mathbb{R}^{n\times m}$ and $A \in \mathbb{R}^{n\times n}$. $$M = A X^\top$$"
    analyze(base, "latex")  # caches the region `M = A X^\top`
    text = "An introduction was typed above. " + base
    (problem,) = [p for p in analyze(text, "latex").problems if p.code == "shape/matmul"]
    assert problem.related
    for rel in problem.related:
        name = rel.message.split()[0]
        assert text[rel.span[0] : rel.span[1]] == name, (rel, text[rel.span[0] : rel.span[1]])


def test_hover_with_product_sizes_is_cheap() -> None:
    # In a child process: numpy's QR cannot be interrupted, so the child is killed instead.
    code = """
import time
from mcls.analysis import analyze
from mcls.features.hover import hover
text = ("Let $A \\\\in \\\\mathbb{R}^{n mes n}$ and $X \\\\in \\\\mathbb{R}^{n \\\\times m$} with $m \\\\ne n$.\\r"
        "\\\\begin{equation}\\n  M = A X^\\\\top X A^\\\\top\\n\\\\end{equation}\\n")
doc = analyze(text, "latex")
t0 = time.perf_counter()
hover(doc, text.index("A \\\\in"))
print(time.perf_counter() - t0)
"""
    import subprocess
    import sys

    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=BUDGET + 4)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hover still running after {BUDGET + 4:.0f} s (including ~2 s of imports)")
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.split()[-1]) < BUDGET
