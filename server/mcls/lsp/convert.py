"""Document offsets <-> LSP positions, and Problem -> Diagnostic.

Positions are counted in the encoding negotiated at initialize (pygls picks the
client's first preference: Neovim asks for UTF-8, VS Code gets UTF-16). Every
conversion clamps, so a range we send always lies inside the document and an
out-of-range position from a client maps to the nearest offset.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types

from mcls.document.text import LineIndex
from mcls.problems import Problem

def _units(s: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(s.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


class PositionMap:
    """Offsets of one document version <-> LSP positions in ``encoding``."""

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.encoding = str(getattr(encoding, "value", encoding)).lower()  # enum or str
        self.index = LineIndex(text)

    def clamp(self, offset: int) -> int:
        return min(max(offset, 0), len(self.text))

    def position(self, offset: int) -> types.Position:
        offset = self.clamp(offset)
        line, char16 = self.index.offset_to_position(offset)
        if self.encoding == "utf-16":
            return types.Position(line=line, character=char16)
        start, end = self.index.line_start(line), min(offset, self.index.line_end(line))
        return types.Position(line=line, character=_units(self.text[start:end], self.encoding))

    def offset(self, position: types.Position) -> int:
        line, char = position.line, max(position.character, 0)
        if line >= self.index.line_count:
            return len(self.text)  # past the last line: the end of the document
        if self.encoding == "utf-16":
            return self.clamp(self.index.position_to_offset(line, char))
        offset, end = self.index.line_start(line), self.index.line_end(line)
        units = 0
        while offset < end:  # walk code points until `char` units are consumed
            step = _units(self.text[offset], self.encoding)
            if units + step > char:
                break
            units += step
            offset += 1
        return offset

    def range(self, span: tuple[int, int]) -> types.Range:
        start = self.clamp(span[0])
        end = max(self.clamp(span[1]), start)
        return types.Range(start=self.position(start), end=self.position(end))

    def span(self, rng: types.Range) -> tuple[int, int]:
        start, end = self.offset(rng.start), self.offset(rng.end)
        return (start, max(start, end))


# Related information in another file of the project (a declaration in main.tex): its
# range needs that file's text. The server sets a reader that prefers open buffers.
_text_source: Callable[[str], str | None] | None = None
_other_maps: OrderedDict[tuple[str, int, int, str], PositionMap] = OrderedDict()


def set_text_source(read: Callable[[str], str | None] | None) -> None:
    """How ``to_diagnostic`` reads another file (default: from disk)."""
    global _text_source
    _text_source = read


def path_to_uri(path: str) -> str:
    from pygls.uris import from_fs_path

    return from_fs_path(path) or Path(path).absolute().as_uri()


def _other_file_range(path: str, span: tuple[int, int], encoding: str) -> types.Range | None:
    if not os.path.isabs(path):
        return None  # a location needs a file URI
    if _text_source is not None:
        text = _text_source(path)
    else:
        from mcls.document.project import disk_reader

        text = disk_reader(path)
    if text is None:
        return None
    key = (path, hash(text), len(text), encoding)
    pm = _other_maps.get(key)
    if pm is None:
        pm = _other_maps[key] = PositionMap(text, encoding)
        if len(_other_maps) > 16:
            _other_maps.popitem(last=False)
    else:
        _other_maps.move_to_end(key)
    return pm.range(span)


def to_diagnostic(problem: Problem, positions: PositionMap, uri: str) -> types.Diagnostic:
    related = []
    for rel in problem.related:
        if rel.path is None:
            location = types.Location(uri=uri, range=positions.range(rel.span))
        else:  # another file of the project
            try:
                rng = _other_file_range(rel.path, rel.span, positions.encoding)
            except Exception:  # noqa: BLE001 - an unreadable file only loses the link
                rng = None
            if rng is None:
                continue
            location = types.Location(uri=path_to_uri(rel.path), range=rng)
        related.append(types.DiagnosticRelatedInformation(location=location, message=rel.message))
    return types.Diagnostic(
        range=positions.range(problem.span),
        message=problem.message,
        severity=types.DiagnosticSeverity(int(problem.severity)),
        code=problem.code,
        source="mcls",
        related_information=related or None,
    )
