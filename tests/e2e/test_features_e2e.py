"""End-to-end over stdio with the real server: shape diagnostics, derivative
hovers and derivation code actions on .tex and .md documents with CRLF and emoji
lines. The inserted derivation is re-checked by mcls itself."""

from __future__ import annotations

import asyncio
import sys

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from mcls.analysis import analyze
from mcls.problems import Severity

from lsp_client import SERVER, TIMEOUT, apply, make_client, open_doc, pos, published  # type: ignore[import-not-found]

TEX = (
    "% ∂ ⊙ 😀 notes\r\n"
    "Let $A \\in \\mathbb{R}^{n\\times n}$ and $X \\in \\mathbb{R}^{n\\times m}$.\r\n"
    "😀 ∂ ⊙ $M = A X X^\\top A^\\top$ and $A X^\\top$ 😀\r\n"
    "\\[ f = \\operatorname{tr}(A X X^\\top) \\]\r\n"
)
MD = (
    "# Hadamard 😀\n\n"
    "Let $\\mathbf{X}, \\mathbf{A} \\in \\mathbb{R}^{n \\times p}$.\n\n"
    "∂ ⊙ 😀 $\\mathbf{y} = (\\mathbf{X} \\odot \\mathbf{A}) \\mathbf{1}_p$\n"
)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mcls", "serve"], client_factory=make_client)
)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"hoverFormat": "unicode"},
        )
    )
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


async def test_tex_diagnostic_hover_and_derivation(client: LanguageClient):
    uri = "file:///tmp/e2e-paper.tex"
    open_doc(client, uri, TEX, "latex")
    params = await published(client, uri, 1)
    errs = [d for d in params.diagnostics if d.severity == types.DiagnosticSeverity.Error]
    assert len(errs) == 1 and errs[0].code == "shape/matmul"
    start = pos(TEX, "A X^\\top$")
    end = pos(TEX, "A X^\\top$", len("A X^\\top"))
    assert errs[0].range == types.Range(start=start, end=end)
    assert errs[0].related_information, "points at the declarations"

    h = await asyncio.wait_for(
        client.text_document_hover_async(types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(TEX, "M = A"))),
        TIMEOUT,
    )
    assert h is not None
    text = h.contents.value
    assert "∂M/∂Xᵢⱼ" in text and "Eⱼᵢ" in text and "verified numerically" in text
    assert "```latex" in text

    actions = await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=pos(TEX, "M = A"), end=pos(TEX, "M = A")),
                context=types.CodeActionContext(diagnostics=[]),
            )
        ),
        TIMEOUT,
    )
    titles = [a.title for a in actions]
    derivation = next(a for a in actions if a.title.startswith("Insert derivation of ∂M/∂X"))
    assert derivation.edit is None, f"listing is lazy: {titles}"
    resolved = await asyncio.wait_for(client.code_action_resolve_async(derivation), TIMEOUT)
    edits = resolved.edit.document_changes[0].edits
    new = apply(TEX, edits)
    assert new.startswith(TEX[: TEX.index("\\[")])  # nothing before the insertion changed
    assert "\\begin{align*}" in new and "E_{ji}" in new
    assert "\r\n\\begin{align*}\r\n" in new, "CRLF kept"
    # The inserted block must itself be clean and its claims true.
    doc = analyze(new, "latex")
    assert [p for p in doc.problems if p.severity == Severity.ERROR and p.code != "shape/matmul"] == []


async def test_markdown_hover_and_derivation(client: LanguageClient):
    uri = "file:///tmp/e2e-note.md"
    open_doc(client, uri, MD, "markdown")
    params = await published(client, uri, 1)
    assert [d for d in params.diagnostics if d.severity == types.DiagnosticSeverity.Error] == []
    h = await asyncio.wait_for(
        client.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(MD, "\\mathbf{y} ="))
        ),
        TIMEOUT,
    )
    assert h is not None and "∂𝐲/∂𝐀ᵢⱼ" in h.contents.value and "verified numerically" in h.contents.value
    # the hovered range lands on the formula, in UTF-16 units after the emoji
    assert h.range.start == pos(MD, "\\mathbf{y} =")
    actions = await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=pos(MD, "\\mathbf{y} ="), end=pos(MD, "\\mathbf{y} =")),
                context=types.CodeActionContext(diagnostics=[]),
            )
        ),
        TIMEOUT,
    )
    derivation = next(a for a in actions if a.title.startswith("Insert derivation"))
    resolved = await asyncio.wait_for(client.code_action_resolve_async(derivation), TIMEOUT)
    new = apply(MD, resolved.edit.document_changes[0].edits)
    assert new.startswith(MD) and "$$\n\\begin{aligned}" in new
    assert [p for p in analyze(new, "markdown").problems if p.severity == Severity.ERROR] == []


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "mcls", "serve"], client_factory=make_client)
)
async def plain_client(lsp_client: LanguageClient):
    """A client without codeAction/resolve (eglot 1.9-like) and with settings."""
    caps = client_capabilities("visual-studio-code")
    caps.text_document.code_action.resolve_support = None
    lsp_client.set_configuration({"mcls": {"inlayHints": {"shapes": True}, "hover": {"format": "unicode"}}})
    await lsp_client.initialize_session(types.InitializeParams(capabilities=caps))
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


async def test_clients_without_resolve_get_edits_and_settings_apply(plain_client: LanguageClient):
    client = plain_client
    uri = "file:///tmp/e2e-plain.tex"
    open_doc(client, uri, TEX, "latex")
    await published(client, uri, 1)
    here = types.Range(start=pos(TEX, "A X^\\top$"), end=pos(TEX, "A X^\\top$"))
    actions = await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri), range=here,
                                   context=types.CodeActionContext(diagnostics=[]))
        ),
        TIMEOUT,
    )
    fixes = [a for a in actions if a.kind == types.CodeActionKind.QuickFix]
    assert fixes and all(a.edit is not None for a in fixes)
    new = apply(TEX, fixes[0].edit.document_changes[0].edits)
    assert [p for p in analyze(new, "latex").problems if p.severity == Severity.ERROR] == []
    hints = await asyncio.wait_for(
        client.text_document_inlay_hint_async(
            types.InlayHintParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                  range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=9, character=0)))
        ),
        TIMEOUT,
    )
    assert [h.label for h in hints] == [": scalar"]  # f = tr(A X Xᵀ) in \[…\]
    actions = await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                   range=types.Range(start=pos(TEX, "M = A"), end=pos(TEX, "M = A")),
                                   context=types.CodeActionContext(diagnostics=[]))
        ),
        TIMEOUT,
    )
    derivation = next(a for a in actions if a.title.startswith("Insert derivation"))
    assert derivation.edit is not None, "resolved eagerly for this client"


async def false_claims(client: LanguageClient, uri: str, text: str, language: str) -> list[types.Diagnostic]:
    """Open ``text`` and return its published claim/false diagnostics."""
    open_doc(client, uri, text, language)
    params = await published(client, uri, 1)
    return [d for d in params.diagnostics if d.code == "claim/false"]


async def test_true_and_false_claims_over_the_server(client: LanguageClient):
    text = (
        "Let $A, X \\in \\mathbb{R}^{n\\times n}$.\n"
        "True: $\\frac{\\partial}{\\partial X}\\operatorname{tr}(AX) = A^\\top$.\n"
        "False: $\\nabla_X \\operatorname{tr}(AX) = A$.\n"
    )
    claims = await false_claims(client, "file:///tmp/e2e-claims.md", text, "markdown")
    assert len(claims) == 1 and claims[0].range.start.line == 2
    assert claims[0].severity == types.DiagnosticSeverity.Warning and "A^\\top" in claims[0].message


async def test_false_identity_and_its_quick_fix_over_the_server(client: LanguageClient):
    text = (
        "Let $A, B \\in \\mathbb{R}^{n\\times n}$ 😀.\r\n"
        "True: $\\operatorname{tr}(AB) = \\operatorname{tr}(BA)$.\r\n"
        "Note: $(AB)^\\top = A^\\top B^\\top$ ⊙.\r\n"
    )
    uri = "file:///tmp/e2e-identity.tex"
    claims = await false_claims(client, uri, text, "latex")
    assert len(claims) == 1
    assert claims[0].range.start == pos(text, "A^\\top B^\\top") and claims[0].range.end == pos(text, "A^\\top B^\\top", len("A^\\top B^\\top"))
    actions = await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri), range=claims[0].range,
                                   context=types.CodeActionContext(diagnostics=claims))
        ),
        TIMEOUT,
    )
    fix = next(a for a in actions if a.kind == types.CodeActionKind.QuickFix)
    if fix.edit is None:
        fix = await asyncio.wait_for(client.code_action_resolve_async(fix), TIMEOUT)
    new = apply(text, fix.edit.document_changes[0].edits)
    assert new == text.replace("= A^\\top B^\\top", "= B^\\top A^\\top")
    assert [p for p in analyze(new, "latex").problems if p.code == "claim/false"] == []


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client))
async def verified_client(lsp_client: LanguageClient):
    lsp_client.set_configuration({"mcls": {"claims": {"showVerified": True}}})
    await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


async def test_verified_claims_are_marked_when_the_setting_asks(verified_client: LanguageClient):
    text = "Let $A, B \\in \\mathbb{R}^{n\\times n}$. We have $(AB)^\\top = B^\\top A^\\top$.\n"
    uri = "file:///tmp/e2e-verified.md"
    open_doc(verified_client, uri, text, "markdown")
    await published(verified_client, uri, 1)
    # The settings may arrive after the first check: the server checks again then.
    want = [("claim/verified", types.DiagnosticSeverity.Information, pos(text, "B^\\top A^\\top"))]
    for _ in range(200):
        last = [p for p in verified_client.published if p.uri == uri][-1]
        got = [(d.code, d.severity, d.range.start) for d in last.diagnostics]
        if got == want:
            break
        await asyncio.sleep(0.02)
    assert got == want
