"""Analysing a new version with the previous analysis (``analyze(..., previous=…)``, what
the server does on every keystroke) gives exactly what analysing it afresh gives: the
same regions, problems (with their related locations), declarations and assumptions.
Edits are typed mostly inside formulas -- where the reuse paths apply -- but also
everywhere else, and they include declarations, prose and delimiters."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

from mcls.analysis import analyze

ROOT = Path(__file__).resolve().parent
DOCS = sorted(p for p in (ROOT / "corpus").rglob("*") if p.suffix in (".tex", ".md"))
LONG = os.environ.get("MCLS_FUZZ_LONG") == "1"
PIECES = ["x", "X", " ", "^\\top", "_i", "{", "}", "\\", "$", "%", "\n", "+ A", "\\in \\mathbb{R}^{n\\times p}", " is a scalar",
          " and $B$ are $n\\times n$ matrices", "$A$", "= B^\\top", "\\succ 0", "n = p", "\\frac{\\partial f}{\\partial X} = A",
          "\\end{equation}", "d(X^{-1}) = -X^{-1}dX X^{-1}", "😀", "\r\n"]


def _language(path: Path) -> str:
    return "markdown" if path.suffix == ".md" else "latex"


def _edit(text: str, rnd: random.Random, regions) -> str:
    if regions and rnd.random() < 0.85:
        r = rnd.choice(regions).region
        a = rnd.randint(r.start, r.end)
    else:
        a = rnd.randint(0, len(text))
    b = min(len(text), a + rnd.choice([0, 0, 1, 3]))
    return text[:a] + "".join(rnd.choice(PIECES) for _ in range(rnd.choice([0, 1, 1, 2]))) + text[b:]


def _same(a, b) -> None:
    assert [r.region for r in a.regions] == [r.region for r in b.regions]
    assert a.problems == b.problems
    assert a.scope.decls == b.scope.decls
    assert a.scope.assumptions == b.scope.assumptions
    assert a.prose == b.prose


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_incremental_equals_fresh(path: Path) -> None:
    rnd = random.Random(path.name)
    language = _language(path)
    text = path.read_text(encoding="utf-8")
    doc = analyze(text, language, str(path))
    for _ in range(120 if LONG else 25):
        text = _edit(text, rnd, doc.regions)
        doc = analyze(text, language, str(path), previous=doc)
        _same(doc, analyze(text, language, str(path)))


def test_generated_paper() -> None:
    sys.path.insert(0, str(ROOT.parent / "bench"))
    from gen_paper import generate

    text, _ = generate(300)
    rnd = random.Random(3)
    doc = analyze(text, "latex", "/paper.tex")
    for _ in range(60 if LONG else 15):
        text = _edit(text, rnd, doc.regions)
        doc = analyze(text, "latex", "/paper.tex", previous=doc)
        _same(doc, analyze(text, "latex", "/paper.tex"))
