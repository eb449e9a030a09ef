"""LSP glue for navigation and editing features (``features.navigation``, ``features.semantic``,
``features.completion``): definition, declaration, references, document highlight,
prepareRename/rename, document symbols, semantic tokens, completion and signature help.

Each handler converts positions with the snapshot's ``PositionMap`` (UTF-16 unless the client
negotiated otherwise), runs the protocol-free feature on the analysis worker thread and
converts the result back. Failures are logged and answered with ``None`` (no result), except a
refused rename, which is answered with an error carrying the reason, as LSP asks.
"""

from __future__ import annotations

import logging
import string
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from mcls.lsp.guard import answers_empty_on_error, at_position

log = logging.getLogger(__name__)

REQUEST_FAILED = -32803  # LSP's RequestFailed: the request was valid but could not be done


# ------------------------------------------------------------------ worker-thread entry points


def _doc(text: str, language: str, path: str | None):
    from mcls.analysis import analyze_cached

    return analyze_cached(text, language, path)


def _definition(text: str, language: str, path: str | None, offset: int, kind: str) -> Any:
    from mcls.features import navigation

    doc = _doc(text, language, path)
    return navigation.definition(doc, offset) if kind == "definition" else navigation.declaration(doc, offset)


def _references(text: str, language: str, path: str | None, offset: int, include_declaration: bool) -> Any:
    from mcls.features import navigation

    return navigation.references(_doc(text, language, path), offset, include_declaration)


def _highlights(text: str, language: str, path: str | None, offset: int) -> Any:
    from mcls.features import navigation

    return navigation.highlights(_doc(text, language, path), offset)


def _prepare_rename(text: str, language: str, path: str | None, offset: int) -> Any:
    from mcls.features import navigation

    return navigation.prepare_rename(_doc(text, language, path), offset)


def _rename(text: str, language: str, path: str | None, offset: int, new_name: str) -> Any:
    from mcls.features import navigation

    try:
        return navigation.rename(_doc(text, language, path), offset, new_name)
    except navigation.RenameError as e:
        return e  # returned, not raised: the event loop turns it into an error response


def _symbols(text: str, language: str, path: str | None) -> Any:
    from mcls.features import navigation

    return navigation.document_symbols(_doc(text, language, path))


def _tokens(text: str, language: str, path: str | None, within: tuple[int, int] | None) -> Any:
    from mcls.features import semantic

    return semantic.semantic_tokens(_doc(text, language, path), within)


def _complete(text: str, language: str, path: str | None, offset: int) -> Any:
    from mcls.document.regions import find_regions
    from mcls.features import completion

    # Cheap first: outside every math region there is nothing to analyse.
    if not any(r.start <= offset <= r.end for r in find_regions(text, language)):
        return None
    return completion.completions(_doc(text, language, path), offset)


def _signature(text: str, language: str, path: str | None, offset: int) -> Any:
    from mcls.document.regions import find_regions
    from mcls.features import completion

    if not any(r.start <= offset <= r.end for r in find_regions(text, language)):
        return None
    return completion.signature_help(_doc(text, language, path), offset)


# ------------------------------------------------------------------ conversions


def _other_locations(targets: list[Any], encoding: str, read: Any) -> dict[int, types.Location]:
    """On the worker thread: locations of targets in other files of the project (a declaration
    in main.tex, a macro in macros.sty), converted with those files' own text."""
    from mcls.lsp.convert import PositionMap

    out: dict[int, types.Location] = {}
    texts: dict[str, str | None] = {}
    for k, t in enumerate(targets):
        if t.path is None:
            continue
        if t.path not in texts:
            texts[t.path] = _read(t.path, read)
        text = texts[t.path]
        if text is None:
            continue
        span = t.span
        if t.name:  # select the macro's name inside its definition
            i = text.find(t.name, span[0], span[1])
            if i >= 0:
                span = (i, i + len(t.name))
        out[k] = types.Location(uri=_path_uri(t.path), range=PositionMap(text, encoding).range(span))
    return out


def _read(path: str, read: Any) -> str | None:
    if read is not None:
        try:
            return read(path)
        except Exception:  # noqa: BLE001 - an unreadable file only loses the link
            return None
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _path_uri(path: str) -> str:
    from pygls.uris import from_fs_path

    return from_fs_path(path) or Path(path).absolute().as_uri()


async def _locations(ls: Any, snap: Any, targets: list[Any]) -> list[types.Location]:
    others: dict[int, types.Location] = {}
    if any(t.path is not None for t in targets):
        state = getattr(ls, "_project_state", None)  # reads open buffers first (lsp/project_handlers)
        encoding = str(getattr(snap.positions, "encoding", "utf-16"))
        others = await ls.analyse(_other_locations, targets, encoding, getattr(state, "read", None))
    out = []
    for k, t in enumerate(targets):
        if t.path is None:
            out.append(types.Location(uri=snap.uri, range=snap.positions.range(t.span)))
        elif k in others:
            out.append(others[k])
    return out


_SYMBOL_KINDS = {
    "section": types.SymbolKind.Module,
    "matrix": types.SymbolKind.Array,
    "vector": types.SymbolKind.Array,
    "scalar": types.SymbolKind.Number,
    "symbol": types.SymbolKind.Variable,
}
_COMPLETION_KINDS = {
    "variable": types.CompletionItemKind.Variable,
    "macro": types.CompletionItemKind.Function,
    "function": types.CompletionItemKind.Function,
    "operator": types.CompletionItemKind.Operator,
    "snippet": types.CompletionItemKind.Snippet,
    "keyword": types.CompletionItemKind.Keyword,
}


def _document_symbol(snap: Any, item: Any) -> types.DocumentSymbol:
    rng = snap.positions.range(item.span)
    sel = snap.positions.range(item.selection)
    return types.DocumentSymbol(
        name=item.name,
        detail=item.detail or None,
        kind=_SYMBOL_KINDS.get(item.kind, types.SymbolKind.Variable),
        range=rng,
        selection_range=sel,
        children=[_document_symbol(snap, c) for c in item.children] or None,
    )


def _flat_symbols(snap: Any, items: list[Any], container: str | None = None) -> list[types.SymbolInformation]:
    out: list[types.SymbolInformation] = []
    for it in items:
        out.append(types.SymbolInformation(
            name=it.name, kind=_SYMBOL_KINDS.get(it.kind, types.SymbolKind.Variable),
            location=types.Location(uri=snap.uri, range=snap.positions.range(it.span)), container_name=container,
        ))
        out.extend(_flat_symbols(snap, it.children, it.name))
    return out


def _cap(ls: Any, dotted: str, default: Any = None) -> Any:
    obj = ls.client_capabilities
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return default
    return obj


def legend() -> types.SemanticTokensLegend:
    from mcls.features.semantic_legend import TOKEN_MODIFIERS, TOKEN_TYPES

    return types.SemanticTokensLegend(token_types=list(TOKEN_TYPES), token_modifiers=list(TOKEN_MODIFIERS))


COMPLETION_TRIGGERS = ["\\", *string.ascii_letters]
SIGNATURE_TRIGGERS = ["(", "{", "^", "_", "+", "-", "="]
SIGNATURE_RETRIGGERS = [")", "}", " "]


# ------------------------------------------------------------------ registration


def register(server: Any) -> None:
    """Register the navigation and editing features on ``server`` (an ``MclsServer``)."""

    async def _run(ls: Any, uri: str, fn: Any, *args: Any) -> tuple[Any, Any]:
        snap = ls.snapshot(uri)
        if snap.language is None:
            return snap, None
        return snap, await ls.analyse(fn, snap.text, snap.language, snap.path, *args)

    async def _run_at(ls: Any, params: Any, fn: Any, *args: Any) -> tuple[Any, Any]:
        """The snapshot and ``fn(text, language, path, offset, *args)`` at the request's
        position; (None, None) for a document mcls does not read."""
        if (at := at_position(ls, params)) is None:
            return None, None
        snap, offset = at
        return snap, await ls.analyse(fn, snap.text, snap.language, snap.path, offset, *args)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @answers_empty_on_error("definition")
    async def definition(ls: Any, params: types.DefinitionParams) -> list[types.Location] | None:
        return await _goto(ls, params, "definition")

    @server.feature(types.TEXT_DOCUMENT_DECLARATION)
    @answers_empty_on_error("declaration")
    async def declaration(ls: Any, params: types.DeclarationParams) -> list[types.Location] | None:
        return await _goto(ls, params, "declaration")

    async def _goto(ls: Any, params: Any, kind: str) -> list[types.Location] | None:
        snap, targets = await _run_at(ls, params, _definition, kind)
        if snap is None:
            return None
        return await _locations(ls, snap, targets or []) or None

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    @answers_empty_on_error("references")
    async def references(ls: Any, params: types.ReferenceParams) -> list[types.Location] | None:
        include = bool(params.context.include_declaration) if params.context else True
        snap, spans = await _run_at(ls, params, _references, include)
        if snap is None:
            return None
        return [types.Location(uri=snap.uri, range=snap.positions.range(s)) for s in spans] or None

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    @answers_empty_on_error("documentHighlight")
    async def highlight(ls: Any, params: types.DocumentHighlightParams) -> list[types.DocumentHighlight] | None:
        snap, found = await _run_at(ls, params, _highlights)
        if snap is None:
            return None
        kinds = {"write": types.DocumentHighlightKind.Write, "read": types.DocumentHighlightKind.Read}
        return [types.DocumentHighlight(range=snap.positions.range(s), kind=kinds.get(k)) for s, k in found] or None

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    @answers_empty_on_error("prepareRename")
    async def prepare_rename(ls: Any, params: types.PrepareRenameParams) -> types.PrepareRenamePlaceholder | None:
        snap, place = await _run_at(ls, params, _prepare_rename)
        if snap is None or place is None:
            return None
        return types.PrepareRenamePlaceholder(range=snap.positions.range(place.span), placeholder=place.placeholder)

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    @answers_empty_on_error("rename")
    async def rename(ls: Any, params: types.RenameParams) -> types.WorkspaceEdit | None:
        from mcls.features.navigation import RenameError

        snap, edits = await _run_at(ls, params, _rename, params.new_name)
        if snap is None:
            return None
        if isinstance(edits, RenameError):
            raise JsonRpcException(f"mcls: {edits}", code=REQUEST_FAILED)
        text_edits = [types.TextEdit(range=snap.positions.range(e.span), new_text=e.new_text) for e in edits]
        if _cap(ls, "workspace.workspace_edit.document_changes", False):
            return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=snap.uri, version=snap.version),
                edits=text_edits,
            )])
        return types.WorkspaceEdit(changes={snap.uri: text_edits})

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @answers_empty_on_error("documentSymbol")
    async def document_symbol(ls: Any, params: types.DocumentSymbolParams) -> Any:
        snap, items = await _run(ls, params.text_document.uri, _symbols)
        if items is None:
            return None
        if _cap(ls, "text_document.document_symbol.hierarchical_document_symbol_support", False):
            return [_document_symbol(snap, it) for it in items]
        return _flat_symbols(snap, items)

    async def _semantic(ls: Any, uri: str, rng: types.Range | None) -> types.SemanticTokens:
        from mcls.features.semantic import encode

        snap = ls.snapshot(uri)
        if snap.language is None:
            return types.SemanticTokens(data=[])
        within = snap.positions.span(rng) if rng is not None else None
        _, tokens = await _run(ls, uri, _tokens, within)

        def position(offset: int) -> tuple[int, int]:
            p = snap.positions.position(offset)
            return p.line, p.character

        return types.SemanticTokens(data=encode(tokens or [], position))

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, legend())
    @answers_empty_on_error("semanticTokens/full")
    async def semantic_full(ls: Any, params: types.SemanticTokensParams) -> types.SemanticTokens | None:
        return await _semantic(ls, params.text_document.uri, None)

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_RANGE, legend())
    @answers_empty_on_error("semanticTokens/range")
    async def semantic_range(ls: Any, params: types.SemanticTokensRangeParams) -> types.SemanticTokens | None:
        return await _semantic(ls, params.text_document.uri, params.range)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=COMPLETION_TRIGGERS))
    @answers_empty_on_error("completion")
    async def completion(ls: Any, params: types.CompletionParams) -> types.CompletionList | None:
        snap, result = await _run_at(ls, params, _complete)
        if snap is None or result is None:
            return None
        snippets = bool(_cap(ls, "text_document.completion.completion_item.snippet_support", False))
        rng = snap.positions.range(result.span)
        items = []
        for it in result.items:
            use_snippet = snippets and it.snippet is not None
            items.append(types.CompletionItem(
                label=it.label,
                kind=_COMPLETION_KINDS.get(it.kind),
                detail=it.detail or None,
                documentation=it.documentation or None,
                sort_text=it.sort or None,
                filter_text=it.filter,
                insert_text_format=types.InsertTextFormat.Snippet if use_snippet else types.InsertTextFormat.PlainText,
                text_edit=types.TextEdit(range=rng, new_text=it.snippet if use_snippet else it.insert),
            ))
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(
        types.TEXT_DOCUMENT_SIGNATURE_HELP,
        types.SignatureHelpOptions(trigger_characters=SIGNATURE_TRIGGERS, retrigger_characters=SIGNATURE_RETRIGGERS),
    )
    @answers_empty_on_error("signatureHelp")
    async def signature_help(ls: Any, params: types.SignatureHelpParams) -> types.SignatureHelp | None:
        snap, help_ = await _run_at(ls, params, _signature)
        if snap is None or help_ is None:
            return None
        return types.SignatureHelp(
            signatures=[types.SignatureInformation(label=help_.label, documentation=help_.documentation or None)],
            active_signature=0,
        )
