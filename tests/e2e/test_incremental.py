"""Incremental sync end to end: the diagnostics the server pushes after every
edit equal what ``mcls check`` reports for the same text, positions exact.

The test keeps its own copy of the document, applies each edit to it (LSP
positions, in the negotiated encoding; line breaks \\n, \\r\\n and \\r), and
after every version compares the server's publishDiagnostics with
``mcls check --format json`` on that text (in process for each version, and
once as a real subprocess on the final text). The document mixes CRLF, CR and
LF line endings, emoji and astral math letters before and inside the math, and
has errors after every edited line so a shifted offset cannot go unnoticed.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from mcls import cli

from lsp_client import SERVER, TIMEOUT, make_client, published  # noqa: F401

SEVERITY = {1: "error", 2: "warning", 3: "information", 4: "hint"}


# ---------------------------------------------------------------- the client's model of the text

_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _BREAK.finditer(text))]


def line_end(text: str, starts: list[int], line: int) -> int:
    """Offset of the end of ``line``'s content (before its break)."""
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    while end > starts[line] and text[end - 1] in "\r\n":
        end -= 1
    return end


def units(ch: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(ch.encode("utf-8", "surrogatepass"))
    return len(ch.encode("utf-16-le", "surrogatepass")) // 2


def to_offset(text: str, line: int, character: int, encoding: str) -> int:
    starts = line_starts(text)
    if line >= len(starts):
        return len(text)
    offset, end, seen = starts[line], line_end(text, starts, line), 0
    while offset < end and seen + units(text[offset], encoding) <= character:
        seen += units(text[offset], encoding)
        offset += 1
    return offset


def to_position(text: str, offset: int, encoding: str) -> tuple[int, int]:
    starts = line_starts(text)
    line = max(i for i, s in enumerate(starts) if s <= offset)
    return line, sum(units(c, encoding) for c in text[starts[line] : offset])


def position_of(text: str, needle: str, encoding: str, nth: int = 0, after: int = 0) -> tuple[int, int]:
    """Position of the ``nth`` occurrence of ``needle`` (plus ``after`` code points)."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    return to_position(text, at + after, encoding)


# ---------------------------------------------------------------- what `mcls check` says


def check_json(text: str, path: Path) -> list[dict[str, Any]]:
    """``mcls check --format json`` on ``text``, run in process (the CLI's own code)."""
    path.write_bytes(text.encode("utf-8"))  # bytes: no newline translation
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["check", "--format", "json", str(path)])
    return json.loads(out.getvalue())


def expected(text: str, items: list[dict[str, Any]], encoding: str) -> list[tuple]:
    """CLI JSON (UTF-16 positions) -> comparable tuples in ``encoding``."""
    out = []
    for item in items:
        r = item["range"]
        if encoding == "utf-16":
            pos = (r["start"]["line"], r["start"]["character"], r["end"]["line"], r["end"]["character"])
        else:
            s = to_offset(text, r["start"]["line"], r["start"]["character"], "utf-16")
            e = to_offset(text, r["end"]["line"], r["end"]["character"], "utf-16")
            pos = (*to_position(text, s, encoding), *to_position(text, e, encoding))
        out.append((*pos, item["severity"], item["code"], item["message"]))
    return sorted(out)


def actual(params: types.PublishDiagnosticsParams) -> list[tuple]:
    return sorted(
        (
            d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character,
            SEVERITY[int(d.severity or 1)], d.code, d.message,
        )
        for d in params.diagnostics
    )


# ---------------------------------------------------------------- the document and the edits

DOC = (
    "\\documentclass{article}\r\n"
    "\\begin{document}\r\n"
    "😀 Let $\U0001d431 \\in \\mathbb{R}^{n}$, $A \\in \\mathbb{R}^{m\\times n}$ and $B \\in \\mathbb{R}^{n\\times n}$.\r\n"
    "Emoji 😀😀 then $A \U0001d431 + A\U0001d431$ and the mistake $\U0001d431 A$ 🎉\n"
    "\\begin{align}\r\n"
    "  M &= A B A^\\top \\\\\r\n"
    "  N &= B A \\\\\r\n"
    "\\end{align}\r\n"
    "An old Mac line\r"
    "$$B + A$$ then $A + 😀 A$\r\n"
    "\\end{document}\r\n"
)


class Editor:
    """Sends edits to the server and applies them to its own copy."""

    def __init__(self, client: LanguageClient, uri: str, text: str, encoding: str) -> None:
        self.client, self.uri, self.text, self.encoding, self.version = client, uri, text, encoding, 1

    def open(self) -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=self.uri, language_id="latex", version=1, text=self.text)
            )
        )

    def edit(self, *changes: tuple[tuple[int, int], tuple[int, int], str] | str) -> int:
        """One didChange with several content changes, applied in order; a bare
        string replaces the whole document."""
        events: list[Any] = []
        for ch in changes:
            if isinstance(ch, str):
                events.append(types.TextDocumentContentChangeWholeDocument(text=ch))
                self.text = ch
                continue
            (l0, c0), (l1, c1), new = ch
            s = to_offset(self.text, l0, c0, self.encoding)
            e = to_offset(self.text, l1, c1, self.encoding)
            self.text = self.text[:s] + new + self.text[e:]
            events.append(
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=l0, character=c0), end=types.Position(line=l1, character=c1)),
                    text=new,
                )
            )
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=events,
            )
        )
        return self.version

    def at(self, needle: str, nth: int = 0, after: int = 0) -> tuple[int, int]:
        return position_of(self.text, needle, self.encoding, nth, after)

    def replace(self, needle: str, new: str, nth: int = 0) -> int:
        start = self.at(needle, nth)
        end = self.at(needle, nth, after=len(needle))
        return self.edit((start, end, new))

    def insert(self, needle: str, new: str, nth: int = 0, after: int = 0) -> int:
        p = self.at(needle, nth, after)
        return self.edit((p, p, new))


async def run_script(client: LanguageClient, tmp_path: Path, encoding: str) -> None:
    uri = (tmp_path / "doc.tex").as_uri()
    ed = Editor(client, uri, DOC, encoding)
    scratch = tmp_path / "check.tex"
    checked = 0

    async def agree(version: int) -> None:
        nonlocal checked
        params = await published(client, uri, version)
        want = expected(ed.text, check_json(ed.text, scratch), encoding)
        assert actual(params) == want, f"version {version}, text:\n{ed.text!r}"
        checked += 1

    ed.open()
    await agree(1)
    assert actual(await published(client, uri, 1)), "the document should start with errors"

    # Fix one product, break another (inside an align with CRLF lines).
    await agree(ed.replace("B A \\\\", "B B \\\\"))
    await agree(ed.replace("M &= A B", "M &= B A"))
    # Delete the emoji at the start of line 2 (two UTF-16 units, four UTF-8 bytes).
    await agree(ed.replace("😀 Let", "Let"))
    # Type a formula one character at a time after the emoji pair; every
    # intermediate state (unclosed $, half a command) is checked too.
    for k, ch in enumerate("$\\mathbf{y} = B\U0001d431$ "):
        await agree(ed.insert("😀😀 ", ch, after=len("😀😀 ") + k))
    # New lines with each kind of break.
    await agree(ed.insert("An old Mac line\r", "$$A B$$\r\n", after=len("An old Mac line\r")))
    await agree(ed.insert("then $A +", "\r", after=0))
    await agree(ed.insert("🎉", "\n$$B A$$ 😀\r", after=1))
    # Two changes in one notification: the second one's positions refer to the
    # text after the first.
    p1 = ed.at("$$B + A$$")
    first = (p1, p1, "$$A^\\top B$$\r\n")
    ed_text_before = ed.text
    s = to_offset(ed.text, *p1, encoding)
    ed_after_first = ed.text[:s] + first[2] + ed.text[s:]
    p2 = position_of(ed_after_first, "\\begin{align}", encoding)
    second = (p2, p2, "% 😀 a comment $A A$\r\n")
    ed.text = ed_text_before
    await agree(ed.edit(first, second))
    # A change spanning lines with different breaks, deleting the CRLF/LF between them.
    await agree(ed.edit((ed.at("then $A"), ed.at("\\begin{align}"), "joined: $A A$ ")))
    # Turn one CRLF into LF (LSP cannot address the point between \r and \n,
    # so the edit replaces the whole break).
    line, _ = ed.at("\\end{align}")
    assert ed.text[to_offset(ed.text, line, 0, encoding) - 2 : to_offset(ed.text, line, 0, encoding)] == "\r\n"
    await agree(ed.edit(((line - 1, 10_000), (line, 0), "\n")))
    # A whole-document replacement, then incremental edits on top of it.
    await agree(ed.edit(DOC.replace("\r\n", "\n")))
    await agree(ed.replace("$\U0001d431 A$", "$A \U0001d431$"))
    # A burst of edits without waiting: only the last version has to be right.
    for k in range(8):
        ed.insert("Emoji", "x")
    await agree(ed.version)
    assert checked >= 20

    # Finally the real CLI, as a subprocess, on the final text.
    final = tmp_path / "final.tex"
    final.write_bytes(ed.text.encode("utf-8"))
    proc = subprocess.run([sys.executable, "-m", "mcls", "check", "--format", "json", str(final)], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    assert actual(await published(client, uri, ed.version)) == expected(ed.text, json.loads(proc.stdout), encoding)


async def test_incremental_edits_match_check_utf16(client: LanguageClient, tmp_path: Path) -> None:
    await run_script(client, tmp_path, "utf-16")


async def test_incremental_edits_match_check_utf8(client_utf8: LanguageClient, tmp_path: Path) -> None:
    await run_script(client_utf8, tmp_path, "utf-8")
