"""``update_regions`` (re-scan only the edited region) equals ``find_regions`` on the
new text, for edits anywhere in real documents -- including edits that type or
delete delimiters, braces, comments, line breaks and environment ends, where the
incremental path must notice that the structure changed and scan afresh."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcls.document.regions import find_regions, update_regions

ROOT = Path(__file__).resolve().parent
DOCS = sorted(p for p in (ROOT / "corpus").rglob("*") if p.suffix in (".tex", ".md"))
LONG = os.environ.get("MCLS_FUZZ_LONG") == "1"

# What users type inside math, and what breaks its structure.
PIECES = ["x", "A", " ", "^", "_", "{", "}", "\\", "$", "$$", "%", "\n", "\r\n", "\n\n", "\\end{equation}",
          "\\begin{align}", "\\]", "\\[", "\\)", "\\(", "\\text{", "\\verb|", "\\section", "&", "\\\\",
          "\\frac{\\partial f}{\\partial X}", "⊙", "😀", "`", "```", "\\newcommand{"]


def _edit(text: str, rnd: random.Random, language: str = "latex") -> str:
    regions = find_regions(text, language)
    if regions and rnd.random() < 0.8:  # mostly inside math, as when typing a formula
        r = rnd.choice(regions)
        a = rnd.randint(r.start, r.end)
    else:
        a = rnd.randint(0, len(text))
    b = min(len(text), a + rnd.choice([0, 0, 0, 1, 2, 5]))
    ins = "".join(rnd.choice(PIECES) for _ in range(rnd.choice([0, 1, 1, 1, 2, 3])))
    return text[:a] + ins + text[b:]


@pytest.mark.parametrize("language", ["latex", "markdown"])
@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_edits_of_real_documents(path: Path, language: str) -> None:
    rnd = random.Random(path.name)
    text = path.read_text(encoding="utf-8")
    regions = find_regions(text, language)
    reused = 0
    for _ in range(400 if LONG else 60):
        new = _edit(text, rnd, language)
        got, changed = update_regions(text, regions, new, language)
        assert got == find_regions(new, language), (text, new)
        if changed is not None:  # exactly one region differs, in place
            assert len(got) == len(regions) and got[:changed] == regions[:changed]
            assert got[changed].outer_start == regions[changed].outer_start
        reused += changed is not None
        text, regions = new, got
    if regions:
        assert reused > 0  # the fast path is taken, not just the fallback


@settings(max_examples=300 if LONG else 80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES + ["$x$", "$$y$$", " and ", "\\begin{equation}a\\end{equation}"]), max_size=30),
       st.integers(0, 10_000), st.lists(st.sampled_from(PIECES), max_size=3), st.integers(0, 4))
def test_edits_of_random_documents(pieces: list[str], at: int, ins: list[str], cut: int) -> None:
    text = "".join(pieces)
    a = at % (len(text) + 1)
    new = text[:a] + "".join(ins) + text[a + cut:]
    got, _ = update_regions(text, find_regions(text, "latex"), new, "latex")
    assert got == find_regions(new, "latex")


def test_typing_inside_a_formula_rescans_one_region() -> None:
    text = "Let $A$ be given.\n\\[ M = AX \\]\nand $B$.\n"
    new = text.replace("AX", "AXY")
    got, changed = update_regions(text, find_regions(text, "latex"), new, "latex")
    assert changed == 1 and got == find_regions(new, "latex")
    assert got[2].start == find_regions(text, "latex")[2].start + 1


def test_typing_a_closing_dollar_scans_afresh() -> None:
    text = "Let $A x$ be given and $B$.\n"
    new = text.replace("A x", "A $x")
    got, changed = update_regions(text, find_regions(text, "latex"), new, "latex")
    assert changed is None and got == find_regions(new, "latex")


def test_markdown_code_span_closed_inside_math_is_noticed() -> None:
    text = "a `b $x$ c\n"
    new = text.replace("$x$", "$x`$")
    got, changed = update_regions(text, find_regions(text, "markdown"), new, "markdown")
    assert changed is None and got == find_regions(new, "markdown") == []


def test_markdown_typing_inside_a_formula_names_the_region() -> None:
    text = "Let $A$ be given.\n\n$$\nM = AX\n$$\n\nand $B$.\n"
    new = text.replace("AX", "AXY")
    got, changed = update_regions(text, find_regions(text, "markdown"), new, "markdown")
    assert changed == 1 and got == find_regions(new, "markdown")
