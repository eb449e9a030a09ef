"""Offsets <-> LSP positions in every encoding, checked against a plain reference."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

from mcls.lsp.convert import PositionMap, to_diagnostic
from mcls.problems import Problem, Related, Severity

ENCODINGS = ["utf-8", "utf-16", "utf-32"]


def units(s: str, encoding: str) -> int:
    return {
        "utf-8": len(s.encode("utf-8", "surrogatepass")),
        "utf-16": len(s.encode("utf-16-le", "surrogatepass")) // 2,
        "utf-32": len(s),
    }[encoding]


def reference_position(text: str, offset: int, encoding: str) -> tuple[int, int]:
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    line = max(i for i, s in enumerate(starts) if s <= offset)
    return line, units(text[starts[line] : offset], encoding)


def inside_crlf(text: str, offset: int) -> bool:
    return 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n"


texts = st.lists(
    st.sampled_from(list("ab $\\{}") + ["\n", "\r", "\r\n", "é", "\u2028", "\U0001d431", "\x00"]),
    max_size=40,
).map("".join)


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(text=texts)
def test_positions_match_reference_and_round_trip(encoding: str, text: str) -> None:
    pm = PositionMap(text, encoding)
    for offset in range(len(text) + 1):
        if inside_crlf(text, offset):
            continue
        pos = pm.position(offset)
        assert (pos.line, pos.character) == reference_position(text, offset, encoding)
        assert pm.offset(pos) == offset


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_out_of_range_positions_clamp(encoding: str) -> None:
    text = "ab\r\n\U0001d431c\nlast"
    pm = PositionMap(text, encoding)
    assert pm.offset(types.Position(line=0, character=99)) == 2  # end of line 0, not into line 1
    assert pm.offset(types.Position(line=1, character=99)) == 6
    assert pm.offset(types.Position(line=7, character=0)) == len(text)
    assert pm.position(-4) == types.Position(line=0, character=0)
    assert pm.position(10_000) == pm.position(len(text))


def test_utf8_and_utf16_inside_a_wide_character_map_to_its_start() -> None:
    text = "a\U0001d431b"
    assert PositionMap(text, "utf-8").offset(types.Position(line=0, character=3)) == 1
    assert PositionMap(text, "utf-8").offset(types.Position(line=0, character=5)) == 2


def test_encoding_enum_is_accepted() -> None:
    pm = PositionMap("\U0001d431x", types.PositionEncodingKind.Utf8)
    assert pm.position(1) == types.Position(line=0, character=4)


def test_range_and_span_are_clamped_and_ordered() -> None:
    pm = PositionMap("abc\ndef", "utf-16")
    assert pm.range((5, 2)) == types.Range(
        start=types.Position(line=1, character=1), end=types.Position(line=1, character=1)
    )
    assert pm.range((-1, 99)).end == types.Position(line=1, character=3)
    assert pm.span(types.Range(start=types.Position(line=1, character=2), end=types.Position(line=0, character=0))) == (6, 6)


def test_to_diagnostic() -> None:
    text = "x \U0001d431 y\n"
    problem = Problem(
        code="shape/matmul",
        message="cannot multiply",
        span=(2, 3),
        severity=Severity.WARNING,
        related=(Related(span=(0, 1), message="declared here"), Related(span=(0, 1), message="elsewhere", path="o.tex")),
    )
    d = to_diagnostic(problem, PositionMap(text, "utf-16"), "file:///a.tex")
    assert d.range == types.Range(start=types.Position(line=0, character=2), end=types.Position(line=0, character=4))
    assert (d.code, d.source, d.message) == ("shape/matmul", "mcls", "cannot multiply")
    assert d.severity == types.DiagnosticSeverity.Warning
    assert d.related_information is not None and len(d.related_information) == 1
    assert d.related_information[0].location.uri == "file:///a.tex"
