"""The pygls language server: document sync, diagnostics and hover.

Protocol glue only: positions are converted here and everything else is asked of
``mcls.analysis`` (imported lazily, so ``initialize`` is answered before sympy
loads). Analysis runs on one worker thread: the event loop keeps reading
messages (cancellation, new edits) meanwhile, and analysis code never runs
concurrently with itself, so its caches need no locks.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace

from mcls import __version__
from mcls.lsp.convert import PositionMap, to_diagnostic
from mcls.lsp.guard import answers_empty_on_error, at_position
from mcls.problems import Problem

log = logging.getLogger(__name__)

# Small enough for the 50 ms keystroke budget, long enough to coalesce a burst
# of didChange notifications from fast typing or a paste.
DEBOUNCE_SECONDS = 0.03

T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """One version of an open document, with its position map."""

    uri: str
    version: int | None
    text: str
    language: str | None  # None: not a language mcls analyses
    path: str | None
    positions: PositionMap


# Lines with their breaks, split the way LSP counts lines (\n, \r\n, \r only).
_LSP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class _LspTextDocument(TextDocument):
    # pygls splits with str.splitlines, which also breaks at \f, \v, U+2028...:
    # incremental edits after such a character would land on the wrong line.
    @property
    def lines(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(_LSP_LINE.findall(self.source))


class _LspWorkspace(Workspace):
    def _create_text_document(self, doc_uri: str, *args: Any, **kwargs: Any) -> TextDocument:
        doc = super()._create_text_document(doc_uri, *args, **kwargs)
        doc.__class__ = _LspTextDocument
        return doc

    def update_text_document(self, text_doc: Any, change: Any) -> None:
        # A didChange for a document the client never opened (a client race) is
        # ignored quietly instead of surfacing as a KeyError popup in the editor.
        from urllib.parse import unquote

        if unquote(text_doc.uri) not in self._text_documents:
            log.info("didChange for unopened %s ignored", text_doc.uri)
            return
        super().update_text_document(text_doc, change)


_HANDLED = object()  # a message this protocol already answered while reading it


class _Protocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        # LSP: a request whose params do not deserialise gets an InvalidParams (-32602)
        # response; pygls raised out of its reader, popped up an error in the editor and
        # never answered, so the client waited forever.
        try:
            return super().structure_message(data)
        except Exception as exc:
            from pygls.exceptions import JsonRpcException, JsonRpcInternalError

            if not ("id" in data and "method" in data):
                raise
            err = exc if isinstance(exc, JsonRpcException) else JsonRpcInternalError(str(exc))
            log.warning("invalid %s request %r: %s", data.get("method"), data.get("id"), exc.__cause__ or exc)
            self._send_response(data["id"], None, err.to_response_error())
            return _HANDLED

    def handle_message(self, message: Any) -> None:
        if message is _HANDLED:
            return
        # LSP: a request after shutdown gets InvalidRequest; pygls dropped it silently,
        # leaving the client waiting for an answer that never comes.
        method = getattr(message, "method", "")
        if self._shutdown and method and method != types.EXIT and getattr(message, "id", None) is not None:
            from pygls.exceptions import JsonRpcInvalidRequest

            err = JsonRpcInvalidRequest("the server is shutting down").to_response_error()
            self._send_response(message.id, None, err)
            return
        super().handle_message(message)


class MclsServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("mcls", __version__, protocol_cls=_Protocol)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mcls-analysis")
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._last_change: dict[str, float] = {}
        self._delay: dict[str, float] = {}

    def snapshot(self, uri: str) -> Snapshot:
        """The current version of ``uri``, cached until its version or text changes."""
        doc = self.workspace.get_text_document(uri)
        text = doc.source
        cached = self._snapshots.get(uri)
        if cached is not None and cached.version == doc.version and cached.text == text:
            return cached
        from mcls.document.regions import language_for

        encoding = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        snap = Snapshot(
            uri=uri,
            version=doc.version,
            text=text,
            language=language_for(doc.language_id, doc.path) or None,
            path=doc.path,
            positions=PositionMap(text, encoding),
        )
        self._snapshots[uri] = snap
        return snap

    async def analyse(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def schedule_diagnostics(self, uri: str) -> None:
        """(Re)start the debounced diagnostics run for ``uri``."""
        # Leading edge: a change after a pause is analysed at once; only a burst
        # (changes closer than the debounce) waits, so a single keystroke costs no delay.
        loop = asyncio.get_running_loop()
        last = self._last_change.get(uri, 0.0)
        self._last_change[uri] = now = loop.time()
        self._delay[uri] = 0.0 if now - last > DEBOUNCE_SECONDS and uri not in self._pending else DEBOUNCE_SECONDS
        self.cancel_diagnostics(uri)
        task = asyncio.get_running_loop().create_task(self._publish_diagnostics(uri))
        self._pending[uri] = task
        task.add_done_callback(lambda t: self._pending.pop(uri, None) if self._pending.get(uri) is t else None)

    def cancel_diagnostics(self, uri: str) -> None:
        task = self._pending.pop(uri, None)
        if task is not None:
            task.cancel()

    def forget(self, uri: str) -> None:
        self.cancel_diagnostics(uri)
        snap = self._snapshots.pop(uri, None)
        if snap is not None and snap.path and (analysis := sys.modules.get("mcls.analysis")) is not None:
            analysis.forget(snap.path)  # its latest analysis (never imported: nothing kept)

    def stop(self) -> None:
        for uri in list(self._pending):
            self.cancel_diagnostics(uri)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _publish_diagnostics(self, uri: str) -> None:
        try:
            await asyncio.sleep(self._delay.get(uri, DEBOUNCE_SECONDS))
            snap = self.snapshot(uri)
            problems: list[Problem] = []
            if snap.language is not None and config(self, "diagnostics.enable", True) is not False:
                problems = await self.analyse(_check, snap.text, snap.language, snap.path,
                                              config(self, "claims.showVerified", False) is True)
            if self.workspace.get_text_document(uri).version != snap.version:
                return  # superseded: the newer edit scheduled its own run
            diagnostics = [to_diagnostic(p, snap.positions, uri) for p in problems]
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=snap.version)
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("diagnostics failed for %s", uri)


# Analysis entry points, run on the worker thread.


def _check(text: str, language: str, path: str | None, show_verified: bool = False) -> list[Problem]:
    import gc

    from mcls import analysis

    out = list(analysis.check_document_cached(text, language, path))
    if show_verified:  # the same cached analysis
        out = sorted(out + analysis.analyze_cached(text, language, path).verified, key=lambda p: p.span)
    # The caches hold ~10^5 long-lived objects: keep them out of the collector's
    # full passes, whose 50+ ms pauses were the keystroke p95.
    gc.freeze()
    return out


def _hover(text: str, language: str, offset: int, options: Any = None, path: str | None = None) -> Any:
    from mcls import analysis

    return analysis.hover(text, language, offset, options, path)


def _actions(text: str, language: str, start: int, end: int, path: str | None, eager: bool = False) -> Any:
    """Quick fixes (with their edits) and insert actions (resolved lazily, or here
    for clients without codeAction/resolve support for edits)."""
    from dataclasses import replace

    from mcls.analysis import analyze_cached
    from mcls.features.actions import actions_at, resolve
    from mcls.features.quickfix import quick_fixes

    doc = analyze_cached(text, language, path)
    out = list(quick_fixes(doc, start, end))
    for a in actions_at(doc, start, end):
        if eager:
            try:
                a = replace(a, edits=resolve(doc, a.data))
            except Exception:  # noqa: BLE001 - not derivable: not offered
                continue
        out.append(a)
    return out


def _inlay(text: str, language: str, start: int, end: int, path: str | None) -> Any:
    from mcls.analysis import analyze_cached
    from mcls.features.inlay import shape_hints

    return shape_hints(analyze_cached(text, language, path), start, end)


def _workspace_edit(snap: Snapshot, edits: Any) -> types.WorkspaceEdit:
    text_edits = [types.TextEdit(range=snap.positions.range(e.span), new_text=e.new_text) for e in edits]
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=snap.uri, version=snap.version),
                edits=text_edits,
            )
        ]
    )


def _client_resolves_edits(ls: LanguageServer) -> bool:
    caps = ls.client_capabilities.text_document
    ca = caps.code_action if caps else None
    support = getattr(ca, "resolve_support", None) if ca else None
    return bool(support and "edit" in (support.properties or []))


def config(ls: LanguageServer, key: str, default: Any = None) -> Any:
    """A setting from workspace/configuration (section `mcls`), dotted key."""
    cur: Any = getattr(ls, "_config", None) or {}
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


async def refresh_config(ls: Any) -> None:
    caps = ls.client_capabilities.workspace
    if not (caps and caps.configuration):
        return
    try:
        res = await asyncio.wait_for(
            ls.workspace_configuration_async(types.ConfigurationParams(items=[types.ConfigurationItem(section="mcls")])), 5
        )
        ls._config = res[0] if res and isinstance(res[0], dict) else {}
    except Exception:  # noqa: BLE001 - settings are optional
        log.info("workspace/configuration failed", exc_info=True)


def _resolve_action(text: str, language: str, data: dict, path: str | None) -> Any:
    from mcls.analysis import analyze_cached
    from mcls.features.actions import resolve

    return resolve(analyze_cached(text, language, path), data)


def hover_options(ls: LanguageServer) -> Any:
    """How this client shows hovers: images for VS Code-like clients, else Unicode."""
    from mcls.features.hover import HoverOptions

    init = getattr(ls, "_init_options", None) or {}
    info = getattr(ls, "_client_name", "") or ""
    fmt = str(config(ls, "hover.format") or init.get("hoverFormat") or "auto")
    images = bool(init.get("clientRendersImages")) or any(k in info.lower() for k in ("visual studio code", "code-server", "vscodium", "cursor"))
    markdown = _hover_kind(ls) == types.MarkupKind.Markdown
    try:
        budget = float(config(ls, "timeoutMs", 1000)) / 1000.0
    except (TypeError, ValueError):
        budget = 1.0
    return HoverOptions(format=fmt, images=images and markdown, markdown=markdown,
                        wrt=config(ls, "wrt") or init.get("wrt") or None, budget_s=max(0.05, budget))


def _warm_up() -> None:
    try:
        import mcls.analysis  # noqa: F401  (loads sympy & co. before the first request)
    except Exception:
        log.exception("cannot import mcls.analysis")


def build_server() -> MclsServer:
    server = MclsServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: MclsServer, params: types.InitializeParams) -> None:
        # pygls creates the workspace just before calling this; no document is open yet.
        _guard(setattr, ls.workspace, "__class__", _LspWorkspace)
        opts = params.initialization_options
        ls._init_options = opts if isinstance(opts, dict) else {}
        ls._client_name = params.client_info.name if params.client_info else ""

    @server.feature(types.INITIALIZED)
    async def initialized(ls: MclsServer, params: types.InitializedParams) -> None:
        ls._pool.submit(_warm_up)
        before = getattr(ls, "_config", None)
        await refresh_config(ls)
        if getattr(ls, "_config", None) != before:  # documents opened meanwhile were checked without the settings
            for uri in list(ls.workspace.text_documents):
                _guard(ls.schedule_diagnostics, uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: MclsServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings.get("mcls") if isinstance(params.settings, dict) else None
        if isinstance(settings, dict):
            ls._config = settings
        else:
            await refresh_config(ls)
        for uri in list(ls._snapshots):
            _guard(ls.schedule_diagnostics, uri)

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
    @answers_empty_on_error("inlayHint", list)
    async def inlay_hint(ls: MclsServer, params: types.InlayHintParams) -> list[types.InlayHint] | None:
        if not config(ls, "inlayHints.shapes", False):
            return []
        snap = ls.snapshot(params.text_document.uri)
        if snap.language is None:
            return []
        start, end = snap.positions.offset(params.range.start), snap.positions.offset(params.range.end)
        hints = await ls.analyse(_inlay, snap.text, snap.language, start, end, snap.path)
        return [
            types.InlayHint(position=snap.positions.position(h.offset), label=h.label, kind=types.InlayHintKind.Type, padding_left=True)
            for h in hints
        ]

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: MclsServer, params: types.DidOpenTextDocumentParams) -> None:
        _guard(ls.schedule_diagnostics, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: MclsServer, params: types.DidChangeTextDocumentParams) -> None:
        from urllib.parse import unquote

        if unquote(params.text_document.uri) not in ls.workspace._text_documents:
            return  # never opened: nothing to diagnose (see _LspWorkspace.update_text_document)
        _guard(ls.schedule_diagnostics, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: MclsServer, params: types.DidSaveTextDocumentParams) -> None:
        _guard(ls.schedule_diagnostics, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: MclsServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        _guard(ls.forget, uri)
        _guard(
            ls.text_document_publish_diagnostics,
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[]),
        )

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @answers_empty_on_error("hover")
    async def hover(ls: MclsServer, params: types.HoverParams) -> types.Hover | None:
        if (at := at_position(ls, params)) is None:
            return None
        snap, offset = at
        result = await ls.analyse(_hover, snap.text, snap.language, offset, hover_options(ls), snap.path)
        if result is None:
            return None
        return types.Hover(
            contents=types.MarkupContent(
                kind=_hover_kind(ls),
                value=result.markdown if _hover_kind(ls) == types.MarkupKind.Markdown else getattr(result, "plaintext", result.markdown),
            ),
            range=snap.positions.range(result.span),
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=["refactor.insert", types.CodeActionKind.QuickFix],
            resolve_provider=True,
        ),
    )
    @answers_empty_on_error("codeAction")
    async def code_action(ls: MclsServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        snap = ls.snapshot(params.text_document.uri)
        if snap.language is None:
            return None
        start = snap.positions.offset(params.range.start)
        end = snap.positions.offset(params.range.end)
        eager = not _client_resolves_edits(ls)
        actions = await ls.analyse(_actions, snap.text, snap.language, start, end, snap.path, eager)
        out = []
        for a in actions:
            ca = types.CodeAction(title=a.title, kind=a.kind)
            if a.edits is not None:
                ca.edit = _workspace_edit(snap, a.edits)
                if a.kind == "quickfix":
                    ca.diagnostics = [d for d in params.context.diagnostics if d.code == a.data.get("diagnostic")] or None
            else:
                ca.data = {**a.data, "uri": snap.uri, "version": snap.version}
            out.append(ca)
        return out

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: MclsServer, action: types.CodeAction) -> types.CodeAction:
        try:
            data = action.data if isinstance(action.data, dict) else {}
            uri = data.get("uri")
            if not uri:
                return action
            snap = ls.snapshot(uri)
            if snap.language is None or (data.get("version") is not None and data.get("version") != snap.version):
                return action  # stale: the client lists actions again
            edits = await ls.analyse(_resolve_action, snap.text, snap.language, data, snap.path)
            action.edit = _workspace_edit(snap, edits)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # DeriveError: say why nothing is inserted
            log.info("codeAction/resolve: %s", e)
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"mcls: {e}"))
        return action

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: MclsServer, params: None) -> None:
        _guard(ls.stop)

    from mcls.lsp import navigation_handlers; navigation_handlers.register(server)  # noqa: E702
    from mcls.lsp import project_handlers; project_handlers.register(server)  # noqa: E702
    return server


def _hover_kind(ls: LanguageServer) -> types.MarkupKind:
    # Markdown only when the client says it renders it (LSP's default is plain text).
    caps = ls.client_capabilities.text_document
    formats = caps.hover.content_format if caps and caps.hover else None
    return types.MarkupKind.Markdown if formats and types.MarkupKind.Markdown in formats else types.MarkupKind.PlainText


def _guard(fn: Callable[..., Any], *args: Any) -> None:
    """Run a handler step; log instead of letting an exception reach pygls."""
    try:
        fn(*args)
    except Exception:
        log.exception("%s failed", getattr(fn, "__name__", fn))


class _QuietExit(logging.Filter):
    """pygls ends a TCP session by raising SystemExit inside the connection
    callback; asyncio would log that normal exit as an unhandled exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], SystemExit))


def serve(tcp: tuple[str, int] | None = None, log_level: str = "WARNING") -> None:
    # stdout carries the protocol: logs go to stderr only.
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, log_level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("asyncio").addFilter(_QuietExit())
    server = build_server()
    if tcp is None:
        server.start_io(stdin=_ResyncingStdin(sys.stdin.buffer))
    else:
        server.start_tcp(*tcp)
    _leave(server)


class _ResyncingStdin:
    """stdin for pygls's reader, which finds a header only at the start of a line: bytes
    before a ``Content-Length:`` header on its line (junk a client or a wrapper script
    wrote without a newline) are dropped, so the stream stays in step instead of losing
    every later message."""

    def __init__(self, inner: Any):
        self._inner = inner

    def readline(self) -> bytes:
        line = self._inner.readline()
        i = line.find(b"Content-Length:")
        return line[i:] if i > 0 else line

    def read(self, n: int) -> bytes:
        return self._inner.read(n)


def _leave(server: MclsServer) -> None:
    """End the process once the session is over (``exit``, or the client went away).

    A plain return would let the interpreter join the analysis worker thread
    (concurrent.futures joins its threads at exit), so an analysis still running
    on a hostile document kept the process alive long after ``exit``. pygls also
    swallows the exit code; LSP's is 0 after a shutdown request, 1 otherwise.
    """
    import os

    code = 0 if getattr(server.protocol, "_shutdown", False) else 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # pygls closed stdout on exit
    os._exit(code)
