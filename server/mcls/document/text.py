"""Offset <-> LSP position conversion for one document version.

Offsets are Python ``str`` indices (code points). LSP positions are
``(line, character)`` with ``character`` in UTF-16 code units, so a code point
outside the BMP (emoji, some math alphanumerics) counts 2. Line breaks are
``\\n``, ``\\r\\n`` and ``\\r`` only (``str.splitlines`` also splits on
``\\x0b``, ``\\x85``, ``\\u2028``..., which LSP does not, so it is not used).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import accumulate

_BREAK = re.compile(r"\r\n|\r|\n")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def line_starts(text: str) -> list[int]:
    """Offsets where each line begins (always at least ``[0]``)."""
    # Uniform line endings (the usual case) go through str.split and
    # accumulate, which run in C: a 5 MB document takes a few milliseconds.
    if "\r" not in text:
        return _uniform(text, "\n")
    if "\n" not in text:
        return _uniform(text, "\r")
    crlf = text.count("\r\n")
    if crlf == text.count("\r") == text.count("\n"):
        return _uniform(text, "\r\n")
    return [0, *(m.end() for m in _BREAK.finditer(text))]


def _uniform(text: str, sep: str) -> list[int]:
    parts = text.split(sep)
    parts.pop()  # the last line has no break after it
    return list(accumulate(map(len(sep).__add__, map(len, parts)), initial=0))


class LineIndex:
    """Built once per document version; all queries are O(log lines)."""

    __slots__ = ("text", "_starts", "_astral", "_cols")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = line_starts(text)
        # Most documents have no astral characters at all; then a UTF-16
        # column is just a code-point column and no per-line work is needed.
        self._astral = not text.isascii() and _ASTRAL.search(text) is not None
        self._cols: dict[int, list[int]] = {}  # line -> astral columns, lazily

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_start(self, line: int) -> int:
        """Offset of the first character of ``line`` (clamped)."""
        if line < 0:
            return 0
        if line >= len(self._starts):
            return len(self.text)
        return self._starts[line]

    def line_end(self, line: int) -> int:
        """Offset just past the content of ``line``, before its break (clamped)."""
        if line < 0:
            line = 0
        starts = self._starts
        if line + 1 >= len(starts):
            return len(self.text)
        e = starts[line + 1]
        # A "\n" preceded by "\r" is always one CRLF break.
        return e - 2 if self.text.startswith("\r\n", e - 2) else e - 1

    def line_text(self, line: int) -> str:
        """The line without its break; '' for a line out of range."""
        if not 0 <= line < len(self._starts):
            return ""
        return self.text[self._starts[line] : self.line_end(line)]

    def line_break(self, line: int) -> str:
        """The break ending ``line`` ('\\n', '\\r\\n', '\\r'), or '' for the last line."""
        if not 0 <= line < len(self._starts) - 1:
            return ""
        return self.text[self.line_end(line) : self._starts[line + 1]]

    def offset_to_position(self, offset: int) -> tuple[int, int]:
        offset = min(max(offset, 0), len(self.text))
        line = bisect_right(self._starts, offset) - 1
        # An offset inside a break (e.g. between "\r" and "\n") is the line end.
        col = min(offset, self.line_end(line)) - self._starts[line]
        if self._astral:
            col += bisect_left(self._astral_cols(line), col)  # +1 per astral before
        return line, col

    def position_to_offset(self, line: int, character: int) -> int:
        if line < 0:
            return 0
        if line >= len(self._starts):
            return len(self.text)
        start = self._starts[line]
        ch = max(character, 0)
        if self._astral:
            shift = 0  # astral code points before the position so far
            for p in self._astral_cols(line):
                u = p + shift  # UTF-16 column of this astral code point
                if ch <= u:
                    break
                if ch == u + 1:  # between its two surrogates
                    return start + p
                shift += 1
            ch -= shift
        return start + min(ch, self.line_end(line) - start)

    def _astral_cols(self, line: int) -> list[int]:
        cols = self._cols.get(line)
        if cols is None:
            start = self._starts[line]
            it = _ASTRAL.finditer(self.text, start, self.line_end(line))
            cols = self._cols[line] = [m.start() - start for m in it]
        return cols


def matching_brace(text: str, open_at: int) -> int | None:
    """Offset of the ``}`` closing the ``{`` at ``open_at`` (escaped braces ``\\{`` do not
    count); None when it is never closed."""
    depth = 0
    i = open_at
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None
