"""The pytest-lsp client and small request helpers shared by the end-to-end tests."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

TIMEOUT = 20.0
SERVER = [sys.executable, "-m", "mcls", "serve"]


def make_client() -> LanguageClient:
    """pytest-lsp's client, also keeping every publishDiagnostics in order."""
    client = LanguageClient(converter_factory=default_converter)
    published: list[types.PublishDiagnosticsParams] = []

    def record(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        ls.diagnostics[params.uri] = params.diagnostics
        published.append(params)

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    register_lsp_features(client, features)
    client.published = published  # type: ignore[attr-defined]
    return client


async def published(client: LanguageClient, uri: str, version: int | None) -> types.PublishDiagnosticsParams:
    """Wait for the diagnostics of ``uri`` at ``version``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while loop.time() < deadline:
        for params in client.published:  # type: ignore[attr-defined]
            if params.uri == uri and params.version == version:
                return params
        await asyncio.sleep(0.01)
    raise AssertionError(f"no diagnostics for {uri} version {version}")


def open_doc(client: LanguageClient, uri: str, text: str, language_id: str = "latex", version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)
        )
    )


def change(client: LanguageClient, uri: str, version: int, rng: types.Range | None, text: str) -> None:
    event: Any = (
        types.TextDocumentContentChangeWholeDocument(text=text)
        if rng is None
        else types.TextDocumentContentChangePartial(range=rng, text=text)
    )
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[event],
        )
    )


def hover_params(uri: str, line: int, character: int) -> types.HoverParams:
    return types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
    )


async def hover(client: LanguageClient, uri: str, line: int, character: int) -> types.Hover | None:
    return await asyncio.wait_for(client.text_document_hover_async(hover_params(uri, line, character)), TIMEOUT)


def rng(l0: int, c0: int, l1: int, c1: int) -> types.Range:
    return types.Range(start=types.Position(line=l0, character=c0), end=types.Position(line=l1, character=c1))


def pos(text: str, needle: str, delta: int = 0, nth: int = 0) -> types.Position:
    """The UTF-16 position ``delta`` characters into the ``nth`` occurrence of ``needle``."""
    from mcls.document.text import LineIndex

    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line, ch = LineIndex(text).offset_to_position(at + delta)
    return types.Position(line=line, character=ch)


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits as a client does (UTF-16 positions, last edit first)."""
    from mcls.document.text import LineIndex

    idx = LineIndex(text)
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a = idx.position_to_offset(e.range.start.line, e.range.start.character)
        b = idx.position_to_offset(e.range.end.line, e.range.end.character)
        text = text[:a] + e.new_text + text[b:]
    return text
