"""End-to-end over stdio with the real server: definition, declaration, references,
highlights, rename (applied, sent back, re-diagnosed), document symbols, semantic tokens,
completion and signature help on a .tex and a .md document with emoji and CRLF lines.
Positions are UTF-16, as VS Code sends them."""

from __future__ import annotations

import asyncio
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities


from lsp_client import TIMEOUT, apply, change, make_client, open_doc, pos, published  # type: ignore[import-not-found]

TEX = (
    "% 😀 notes ∂\r\n"
    "\\newcommand{\\vX}{\\mathbf{X}}\r\n"
    "\\section{Data 😀}\r\n"
    "😀 Let $X \\in \\mathbb{R}^{n\\times p}$ and $\\vX \\in \\mathbb{R}^{p\\times p}$ 😀, $y \\in \\mathbb{R}^n$.\r\n"
    "\\section{Model}\r\n"
    "😀😀 $M = X^\\top X + \\vX$ and $r = y^\\top X \\vX X^\\top y$.\r\n"
)
MD = (
    "# Notes 😀\r\n"
    "\r\n"
    "😀 Let $\\mathbf{A} \\in \\mathbb{R}^{n\\times m}$ and $b \\in \\mathbb{R}^n$.\r\n"
    "\r\n"
    "$$\r\n"
    "c = \\mathbf{A}^\\top b\r\n"
    "$$\r\n"
    "😀😀 and $d = b^\\top b$ 😀\r\n"
)


def rng(text: str, needle: str, nth: int = 0, length: int | None = None) -> types.Range:
    return types.Range(start=pos(text, needle, 0, nth), end=pos(text, needle, len(needle) if length is None else length, nth))


def decode(data: list[int], legend: types.SemanticTokensLegend) -> list[tuple[int, int, int, str, set[str]]]:
    out, line, col = [], 0, 0
    for i in range(0, len(data), 5):
        dl, dc, ln, ty, mods = data[i : i + 5]
        line += dl
        col = dc if dl else col + dc
        out.append((line, col, ln, legend.token_types[ty], {m for b, m in enumerate(legend.token_modifiers) if mods >> b & 1}))
    return out


def doc_id(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mcls", "serve"], client_factory=make_client)
)
async def client(lsp_client: LanguageClient):
    result = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    lsp_client.server_caps = result.capabilities  # type: ignore[attr-defined]
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


async def call(coro):
    return await asyncio.wait_for(coro, TIMEOUT)


async def test_tex_navigation_rename_tokens(client: LanguageClient):
    caps = client.server_caps  # type: ignore[attr-defined]
    assert caps.definition_provider and caps.declaration_provider and caps.references_provider
    assert caps.rename_provider.prepare_provider and caps.document_symbol_provider and caps.document_highlight_provider
    assert "\\" in caps.completion_provider.trigger_characters and "x" in caps.completion_provider.trigger_characters
    legend = caps.semantic_tokens_provider.legend
    assert {"variable", "parameter", "operator", "function"} <= set(legend.token_types)
    assert {"matrix", "vector", "scalar"} <= set(legend.token_modifiers)

    uri = "file:///tmp/e2e-nav.tex"
    open_doc(client, uri, TEX, "latex")
    before = await published(client, uri, 1)

    # definition: from X in `y^\top X \vX` (after two emoji on a CRLF line) to `X \in`
    locs = await call(client.text_document_definition_async(types.DefinitionParams(text_document=doc_id(uri), position=pos(TEX, "X \\vX"))))
    assert [(l.uri, l.range) for l in locs] == [(uri, rng(TEX, "X", length=1, nth=TEX[: TEX.index("X \\in")].count("X")))]
    assert locs[0].range.start == pos(TEX, "X \\in")
    # a macro use: its \newcommand, then the declaration of \mathbf{X}
    locs = await call(client.text_document_definition_async(types.DefinitionParams(text_document=doc_id(uri), position=pos(TEX, "\\vX$", 1))))
    assert [l.range.start for l in locs] == [pos(TEX, "\\vX}"), pos(TEX, "\\vX \\in")]
    locs = await call(client.text_document_declaration_async(types.DeclarationParams(text_document=doc_id(uri), position=pos(TEX, "\\vX$", 1))))
    assert [l.range.start for l in locs] == [pos(TEX, "\\vX \\in")]

    # references and highlights of X: 5 written uses, \vX is another symbol
    refs = await call(client.text_document_references_async(types.ReferenceParams(
        text_document=doc_id(uri), position=pos(TEX, "X^\\top X"), context=types.ReferenceContext(include_declaration=True))))
    starts = [r.range.start for r in refs]
    assert starts == [pos(TEX, "X \\in"), pos(TEX, "X^\\top X"), pos(TEX, "X + \\vX"), pos(TEX, "X \\vX"), pos(TEX, "X^\\top y")]
    assert all(r.range.end.character == r.range.start.character + 1 for r in refs)
    hl = await call(client.text_document_document_highlight_async(types.DocumentHighlightParams(text_document=doc_id(uri), position=pos(TEX, "X \\vX"))))
    assert [h.kind for h in hl] == [types.DocumentHighlightKind.Write] + [types.DocumentHighlightKind.Read] * 4

    # prepareRename / rename, applied and sent back: re-diagnosed with no new problem
    prep = await call(client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=doc_id(uri), position=pos(TEX, "X^\\top y"))))
    assert prep.placeholder == "X" and prep.range == types.Range(start=pos(TEX, "X^\\top y"), end=pos(TEX, "X^\\top y", 1))
    edit = await call(client.text_document_rename_async(types.RenameParams(text_document=doc_id(uri), position=pos(TEX, "X^\\top y"), new_name="\\mathbf{Z}")))
    (dc,) = edit.document_changes
    assert dc.text_document.version == 1
    new = apply(TEX, dc.edits)
    assert new == TEX.replace("$X \\in", "$\\mathbf{Z} \\in").replace("M = X^\\top X", "M = \\mathbf{Z}^\\top \\mathbf{Z}").replace(
        "y^\\top X \\vX X^\\top y", "y^\\top \\mathbf{Z} \\vX \\mathbf{Z}^\\top y")
    change(client, uri, 2, None, new)
    after = await published(client, uri, 2)
    assert [(d.code, d.message) for d in after.diagnostics] == [(d.code, d.message) for d in before.diagnostics]
    refs = await call(client.text_document_references_async(types.ReferenceParams(
        text_document=doc_id(uri), position=pos(new, "\\mathbf{Z} \\in"), context=types.ReferenceContext(include_declaration=True))))
    assert len(refs) == 5
    # a clash is refused with a message
    with pytest.raises(JsonRpcException, match="already a symbol"):
        await call(client.text_document_rename_async(types.RenameParams(text_document=doc_id(uri), position=pos(new, "\\mathbf{Z} \\in"), new_name="y")))

    # semantic tokens: UTF-16 columns after emoji, math only
    toks = await call(client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=doc_id(uri))))
    dec = decode(toks.data, legend)
    z = pos(new, "\\mathbf{Z}^\\top")
    assert (z.line, z.character, len("\\mathbf{Z}"), "variable", {"matrix"}) in dec
    y = pos(new, "y \\in")
    assert (y.line, y.character, 1, "variable", {"declaration", "vector"}) in dec
    n = pos(new, "n\\times")
    assert (n.line, n.character, 1, "parameter", set()) in dec
    top = pos(new, "\\top", 0)
    assert (top.line, top.character, 4, "operator", set()) in dec
    assert all(line != 0 and line != 2 and line != 4 for line, *_ in dec)  # comment and headings: prose

    # outline
    syms = await call(client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(uri))))
    assert [s.name for s in syms] == ["Data 😀", "Model"]
    assert [c.name for c in syms[0].children] == ["𝐙 : n×p", "𝐗 : p×p", "y : n-vector"]
    assert [c.name for c in syms[1].children] == ["M : p×p", "r : scalar"]
    assert syms[0].children[0].selection_range.start == pos(new, "\\mathbf{Z} \\in")


async def test_markdown_crlf_completion_and_rename(client: LanguageClient):
    uri = "file:///tmp/e2e-nav.md"
    text = MD.replace("c = \\mathbf{A}^\\top b", "c = \\mathbf{A}^\\t")
    open_doc(client, uri, text, "markdown")
    await published(client, uri, 1)
    at = pos(text, "\\t", 2)
    res = await call(client.text_document_completion_async(types.CompletionParams(
        text_document=doc_id(uri), position=at, context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.TriggerCharacter, trigger_character="t"))))
    items = {i.label: i for i in res.items}
    assert "\\top" in items and "\\odot" in items and "\\operatorname{tr}" in items
    assert items["\\mathbf{A}"].detail == "n×m"
    assert items["\\top"].text_edit.range == types.Range(start=pos(text, "\\t"), end=at)
    assert items["\\mathbf{}"].insert_text_format == types.InsertTextFormat.Snippet
    # never in prose
    prose = await call(client.text_document_completion_async(types.CompletionParams(text_document=doc_id(uri), position=pos(text, "Let", 2))))
    assert prose is None or prose.items == []
    # signature-like help: the shape of what is typed
    change(client, uri, 2, None, MD.replace("c = \\mathbf{A}^\\top b", "c = \\mathbf{A}^\\top "))
    typed = MD.replace("c = \\mathbf{A}^\\top b", "c = \\mathbf{A}^\\top ")
    sig = await call(client.text_document_signature_help_async(types.SignatureHelpParams(text_document=doc_id(uri), position=pos(typed, "^\\top ", 6))))
    assert sig.signatures[0].label == "𝐀ᵀ : m×n"

    change(client, uri, 3, None, MD)
    before = await published(client, uri, 3)
    locs = await call(client.text_document_definition_async(types.DefinitionParams(text_document=doc_id(uri), position=pos(MD, "\\mathbf{A}^\\top", 9))))
    assert [l.range for l in locs] == [rng(MD, "\\mathbf{A}")]
    refs = await call(client.text_document_references_async(types.ReferenceParams(
        text_document=doc_id(uri), position=pos(MD, "b^\\top"), context=types.ReferenceContext(include_declaration=False))))
    assert [r.range for r in refs] == [rng(MD, needle, length=1) for needle in ("b\r\n$$", "b^\\top", "b$ 😀")]  # not `b \in`
    edit = await call(client.text_document_rename_async(types.RenameParams(text_document=doc_id(uri), position=pos(MD, "b\r\n$$"), new_name="\\mathbf{b}")))
    new = apply(MD, edit.document_changes[0].edits)
    assert new == MD.replace("$b \\in", "$\\mathbf{b} \\in").replace("\\top b", "\\top \\mathbf{b}").replace("= b^", "= \\mathbf{b}^")
    change(client, uri, 4, None, new)
    after = await published(client, uri, 4)
    assert [d.code for d in after.diagnostics] == [d.code for d in before.diagnostics]
    toks = await call(client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=doc_id(uri))))
    legend = client.server_caps.semantic_tokens_provider.legend  # type: ignore[attr-defined]
    dec = decode(toks.data, legend)
    b = pos(new, "\\mathbf{b} \\in")
    assert (b.line, b.character, len("\\mathbf{b}"), "variable", {"declaration", "vector"}) in dec
    assert {line for line, *_ in dec} == {2, 5, 7}
    d = pos(new, "\\mathbf{b}^\\top")
    assert (d.line, d.character, len("\\mathbf{b}"), "variable", {"vector"}) in dec
