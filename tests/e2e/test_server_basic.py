"""End-to-end: the real server process driven over stdio by pytest-lsp.

``client`` runs ``python -m mcls serve`` with the real analysis and only checks
that the protocol works; ``fake`` runs the same server with a stand-in analysis
(fake_analysis_server.py) so positions, ranges and error handling can be checked
exactly.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

HERE = Path(__file__).parent
from lsp_client import TIMEOUT, change, hover, make_client, open_doc, published, rng  # noqa: F401 (re-exported)


def _fake_config() -> ClientServerConfig:
    return ClientServerConfig(
        server_command=[sys.executable, str(HERE / "fake_analysis_server.py")], client_factory=make_client
    )


@pytest_lsp.fixture(config=_fake_config())
async def fake(lsp_client: LanguageClient):
    """UTF-16 positions (VS Code)."""
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


@pytest_lsp.fixture(config=_fake_config())
async def fake_utf8(lsp_client: LanguageClient):
    """UTF-8 positions (Neovim asks for them first)."""
    result = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("neovim@v0.11.0"))
    )
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


# ---------------------------------------------------------------- real analysis


async def test_initialize_advertises_sync_and_hover(raw: LanguageClient) -> None:
    result = await raw.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    assert result.server_info is not None and result.server_info.name == "mcls"
    caps = result.capabilities
    assert caps.hover_provider
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.open_close and sync.change == types.TextDocumentSyncKind.Incremental
    await asyncio.wait_for(raw.shutdown_session(), TIMEOUT)


TEX = r"""\documentclass{article}
\begin{document}
Let $X \in \mathbb{R}^{n \times p}$ and $f(X) = \operatorname{tr}(X^\top X)$.
\[ \frac{\partial f}{\partial X} = 2X \]
\end{document}
"""

MD = r"""# Gram

Let $X \in \mathbb{R}^{n \times p}$; then $$\nabla_X \operatorname{tr}(X^\top X) = 2X.$$
"""


@pytest.mark.parametrize(
    ("name", "language_id", "text"), [("doc.tex", "latex", TEX), ("doc.md", "markdown", MD)]
)
async def test_hover_and_diagnostics(client: LanguageClient, tmp_path: Path, name: str, language_id: str, text: str) -> None:
    uri = (tmp_path / name).as_uri()
    open_doc(client, uri, text, language_id)
    params = await published(client, uri, 1)
    for d in params.diagnostics:  # whatever the analysis says, ranges lie in the document
        assert 0 <= d.range.start.line <= d.range.end.line < len(text.splitlines()) + 1
    for line, character in [(2, 5), (2, 30), (3, 10), (0, 0), (99, 99)]:
        result = await hover(client, uri, line, character)
        assert result is None or isinstance(result, types.Hover)


async def test_survives_binary_junk(client: LanguageClient, tmp_path: Path) -> None:
    junk = bytes(range(256)).decode("latin-1") * 4 + "$\x00\ud800$ \\begin{align} \\frac{"
    uri = (tmp_path / "junk.tex").as_uri()
    open_doc(client, uri, junk, "latex")
    await published(client, uri, 1)
    for line, character in [(0, 0), (0, 50), (1, 3), (5, 1000)]:
        await hover(client, uri, line, character)
    # Still alive and analysing.
    uri2 = (tmp_path / "after.md").as_uri()
    open_doc(client, uri2, MD, "markdown")
    await published(client, uri2, 1)


async def test_change_past_end_of_document(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "edit.tex").as_uri()
    open_doc(client, uri, TEX, "latex")
    await published(client, uri, 1)
    change(client, uri, 2, rng(500, 0, 900, 7), " $x$")
    await published(client, uri, 2)
    change(client, uri, 3, rng(1, 400, 1, 900), "y")
    await published(client, uri, 3)
    await hover(client, uri, 1000, 1000)
    await hover(client, uri, 2, 1000)


async def test_close_clears_diagnostics(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "close.md").as_uri()
    open_doc(client, uri, MD, "markdown")
    await published(client, uri, 1)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    await published(client, uri, None)
    assert list(client.diagnostics[uri]) == []


async def test_shutdown_and_exit(raw: LanguageClient, tmp_path: Path) -> None:
    await raw.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    uri = (tmp_path / "pending.tex").as_uri()
    open_doc(raw, uri, TEX, "latex")  # a diagnostics run may still be pending
    await asyncio.wait_for(raw.shutdown_session(), TIMEOUT)  # returns once the process has exited
    server = getattr(raw, "_server", None)
    if server is not None:
        assert server.returncode == 0


# ---------------------------------------------------------------- stand-in analysis

# "a 𝐱 BAD": 𝐱 (U+1D431) is 2 UTF-16 units and 4 UTF-8 bytes.
WIDE = "a \U0001d431 BAD\nMEH\n"


async def test_diagnostic_ranges_utf16(fake: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "wide.tex").as_uri()
    open_doc(fake, uri, WIDE, "latex")
    bad, meh = (await published(fake, uri, 1)).diagnostics
    assert bad.range == rng(0, 5, 0, 8)
    assert (bad.code, bad.severity, bad.source) == ("test/bad", types.DiagnosticSeverity.Error, "mcls")
    assert bad.message == "found BAD in latex"
    assert bad.related_information and bad.related_information[0].location.range == rng(0, 0, 0, 1)
    assert meh.range == rng(1, 0, 1, 3)
    assert meh.severity == types.DiagnosticSeverity.Warning


async def test_diagnostic_ranges_utf8(fake_utf8: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "wide.md").as_uri()
    open_doc(fake_utf8, uri, WIDE, "markdown")
    bad, _ = (await published(fake_utf8, uri, 1)).diagnostics
    assert bad.range == rng(0, 7, 0, 10)
    assert bad.message == "found BAD in markdown"
    result = await hover(fake_utf8, uri, 0, 8)
    assert result is not None and result.range == rng(0, 7, 0, 10)
    # Inside the 4-byte character: maps to its start, never to a split code point.
    result = await hover(fake_utf8, uri, 0, 4)
    assert result is not None and result.range == rng(0, 2, 0, 6)


async def test_hover_range_and_markdown(fake: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "wide.tex").as_uri()
    open_doc(fake, uri, WIDE, "latex")
    result = await hover(fake, uri, 0, 6)
    assert result is not None
    assert result.range == rng(0, 5, 0, 8)
    assert isinstance(result.contents, types.MarkupContent)
    assert result.contents.kind == types.MarkupKind.Markdown
    assert result.contents.value == "**BAD** in latex"
    assert await hover(fake, uri, 0, 1) is None  # on a space between words


async def test_incremental_edits_update_diagnostics(fake: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "edit.md").as_uri()
    open_doc(fake, uri, WIDE, "markdown")
    assert len((await published(fake, uri, 1)).diagnostics) == 2
    change(fake, uri, 2, rng(0, 5, 0, 8), "ok")  # BAD -> ok
    (meh,) = (await published(fake, uri, 2)).diagnostics
    assert meh.range == rng(1, 0, 1, 3)
    change(fake, uri, 3, rng(1, 3, 1, 3), " BAD")  # "MEH BAD"
    diags = (await published(fake, uri, 3)).diagnostics
    assert [d.range for d in diags] == [rng(1, 0, 1, 3), rng(1, 4, 1, 7)]


async def test_burst_of_edits_is_debounced(fake: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "burst.md").as_uri()
    open_doc(fake, uri, "", "markdown")
    for version in range(2, 22):
        change(fake, uri, version, rng(0, version - 2, 0, version - 2), "x")
    params = await published(fake, uri, 21)
    assert list(params.diagnostics) == []
    versions = [p.version for p in fake.published if p.uri == uri]  # type: ignore[attr-defined]
    assert versions == sorted(versions)
    assert len(versions) < 10


async def test_out_of_range_spans_are_clamped(fake: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "wild.tex").as_uri()
    open_doc(fake, uri, "WILD\nx", "latex")
    (wild,) = (await published(fake, uri, 1)).diagnostics
    assert wild.range == rng(0, 0, 1, 1)


async def test_analysis_exceptions_do_not_kill_the_server(fake: LanguageClient, tmp_path: Path) -> None:
    crash = (tmp_path / "crash.tex").as_uri()
    open_doc(fake, crash, "CRASH", "latex")
    boom = (tmp_path / "boom.tex").as_uri()
    open_doc(fake, boom, "BOOM BAD", "latex")
    await published(fake, boom, 1)
    assert await hover(fake, boom, 0, 1) is None
    assert not any(p.uri == crash for p in fake.published)  # type: ignore[attr-defined]
    assert fake.messages == []  # logged on stderr, no error popups
    ok = (tmp_path / "ok.tex").as_uri()
    open_doc(fake, ok, "BAD", "latex")
    assert len((await published(fake, ok, 1)).diagnostics) == 1


async def test_language_from_extension_when_id_is_unknown(fake: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "notes.md").as_uri()
    open_doc(fake, uri, "BAD", "plaintext")
    (bad,) = (await published(fake, uri, 1)).diagnostics
    assert bad.message == "found BAD in markdown"


@pytest.mark.parametrize("odd_break", ["\x0c", "\u2028", "\x0b", "\x85"])
async def test_incremental_edits_split_lines_like_lsp(fake: LanguageClient, tmp_path: Path, odd_break: str) -> None:
    # LSP lines end at \n, \r\n and \r only; str.splitlines also splits at form
    # feeds, U+2028 and friends, which would put an edit on the wrong line.
    uri = (tmp_path / "ff.tex").as_uri()
    open_doc(fake, uri, f"a{odd_break}b\nBAD\n", "latex")
    (bad,) = (await published(fake, uri, 1)).diagnostics
    assert bad.range == rng(1, 0, 1, 3)
    change(fake, uri, 2, rng(1, 0, 1, 3), "ok MEH")
    (meh,) = (await published(fake, uri, 2)).diagnostics
    assert meh.range == rng(1, 3, 1, 6)
    change(fake, uri, 3, rng(0, 2, 0, 3), "BAD")  # the "b" after the odd break
    diags = (await published(fake, uri, 3)).diagnostics
    assert [d.range for d in diags] == [rng(0, 2, 0, 5), rng(1, 3, 1, 6)]
