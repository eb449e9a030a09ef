"""Text integrity: applying any code action of mcls, the way an LSP client does (UTF-16
positions, edits spliced into the text), changes nothing outside the range it replaces
or the point where it inserts -- on random documents with CRLF, CR and LF line ends,
tabs, emoji (surrogate pairs in UTF-16) and combining characters. Inserted text uses
the document's line ending and never lands inside a CRLF pair or before a combining
mark."""

from __future__ import annotations

import json
import os
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcls.analysis import analyze
from mcls.features.actions import actions_at, resolve
from mcls.features.derive import DeriveError
from mcls.lsp.convert import PositionMap

LONG = os.environ.get("MCLS_FUZZ_LONG") == "1"

PROSE = ["Let ", "😀 ", "é ", "e\u0301 ", "\tindented ", "naïve ", "the 𝐱 ", "and ", "# Title ", "see ", "∂ and ⊙ "]
MATH = [
    r"$A \in \mathbb{R}^{n\times n}$", r"$X \in \mathbb{R}^{n\times m}$", r"$B \in \mathbb{R}^{m\times p}$",
    r"$M = A X X^\top A^\top$", r"$f = \operatorname{tr}(A X B)$", r"$A X^\top$",
    "\\[\n  g = \\operatorname{tr}(X^\\top A X)\n\\]", "\\begin{equation}\n\tF = X \\odot X\n\\end{equation}",
    "$$\nM = A X X^\\top A^\\top\n$$", r"$\frac{\partial}{\partial X}\operatorname{tr}(AX) = A$",
]


@st.composite
def documents(draw):
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = []
    for _ in range(draw(st.integers(2, 8))):
        parts = draw(st.lists(st.sampled_from(PROSE + MATH), min_size=1, max_size=5))
        lines.append("".join(parts).replace("\n", eol))
    tail = draw(st.sampled_from(["", eol]))
    return eol.join(lines) + tail, eol, draw(st.sampled_from(["latex", "markdown"]))


def _apply_like_a_client(text: str, start, end, new_text: str) -> str:
    """Splice in UTF-16 code units, as VS Code and Neovim (utf-16 encoding) do."""
    lines, out, i = [], [], 0
    units = text.encode("utf-16-le")

    def unit_offset(pos) -> int:
        # offset in UTF-16 units of (line, character), lines split at \r\n, \r, \n
        line, k, u = 0, 0, 0
        while line < pos.line and k < len(text):
            c = text[k]
            u += 2 if ord(c) > 0xFFFF else 1
            k += 1
            if c == "\r" and k < len(text) and text[k] == "\n":
                u += 1
                k += 1
                line += 1
            elif c in "\r\n":
                line += 1
        return u + pos.character

    a, b = unit_offset(start), unit_offset(end)
    del lines, out, i
    return (units[: 2 * a] + new_text.encode("utf-16-le") + units[2 * b:]).decode("utf-16-le")


@settings(max_examples=300 if LONG else 40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents(), st.integers(0, 10_000))
def test_actions_change_nothing_outside_their_range(case, pick) -> None:
    text, eol, language = case
    doc = analyze(text, language)
    positions = PositionMap(text)
    regions = [ra.region for ra in doc.regions]
    if not regions:
        return
    r = regions[pick % len(regions)]
    off = r.start + (pick // len(regions)) % max(1, r.end - r.start)
    for action in actions_at(doc, off, off):
        if action.edits is not None:
            edits = action.edits
        else:
            try:
                edits = resolve(doc, json.loads(json.dumps(action.data)))
            except DeriveError:
                continue
        for e in edits:
            start, end = e.span
            rng = positions.range(e.span)
            new = _apply_like_a_client(text, rng.start, rng.end, e.new_text)
            assert new == text[:start] + e.new_text + text[end:], action.title
            if start == end:  # an insertion: at a boundary of characters and of lines
                assert not (text[start - 1:start] == "\r" and text[start:start + 1] == "\n"), action.title
                assert not (start < len(text) and unicodedata.combining(text[start])), action.title
                if eol != "\n":
                    assert "\n" not in e.new_text.replace("\r\n", ""), f"{action.title}: bare LF in a {eol!r} document"
                if eol != "\r":
                    assert "\r" not in e.new_text.replace("\r\n", ""), action.title
