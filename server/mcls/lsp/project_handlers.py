"""Multi-file LaTeX in the language server: the project context and watched files.

``register(server)`` (called once from ``build_server``)

* after ``initialized``, makes a :class:`mcls.document.project.Project` over the workspace
  folders the active one, so every analysis of a LaTeX file with a path (diagnostics, hover,
  code actions -- all on the analysis worker thread) gets the macros and declarations of the
  other files of its project; files are read from open buffers first, else from disk;
* once a document turns out to belong to a multi-file project, asks the client to watch
  ``**/*.{tex,sty,cls,md}`` (dynamic registration, when the client supports it); handles ``workspace/didChangeWatchedFiles``: open documents whose context
  was built from a changed file (or every open LaTeX document, when files were created or
  deleted) get their diagnostics re-published;
* after an edit of an open document, re-publishes the open documents that depend on it (an
  edit of a declaration in main.tex re-checks the open sections/method.tex).

Related information in another file (``Related.path``) is turned into a Location by
``convert.to_diagnostic``, which reads that file through the same reader.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)

WATCH_GLOB = "**/*.{tex,sty,cls,md}"
_REGISTRATION_ID = "mcls-watch-project-files"


def register(server: Any) -> None:
    state = _ProjectState(server)
    server._project_state = state
    # before the server's own handler, which waits for workspace/configuration: documents
    # opened meanwhile are analysed with their project already
    _wrap(server, types.INITIALIZED, state.initialized, first=True)
    _wrap(server, types.TEXT_DOCUMENT_DID_CHANGE, state.document_changed)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: Any, params: types.DidChangeWatchedFilesParams) -> None:
        try:
            state.files_changed(params)
        except Exception:
            log.exception("didChangeWatchedFiles failed")


def _wrap(server: Any, method: str, extra: Callable[[Any], Any], first: bool = False) -> None:
    """Also run ``extra(params)`` for ``method``: after the handler ``build_server`` registered
    (pygls allows one handler per method), or before it when ``first``."""
    features = server.protocol.fm.features
    original = features.get(method)

    def run_extra(args: tuple) -> None:
        try:
            extra(args[0] if args else None)
        except Exception:
            log.exception("project handler for %s failed", method)

    if original is None:
        def handler(*args: Any) -> None:
            run_extra(args)
    elif asyncio.iscoroutinefunction(original):
        async def handler(*args: Any) -> Any:  # type: ignore[misc]
            if first:
                run_extra(args)
            try:
                return await original(*args)
            finally:
                if not first:
                    run_extra(args)
    else:
        def handler(*args: Any) -> Any:  # type: ignore[misc]
            if first:
                run_extra(args)
            try:
                return original(*args)
            finally:
                if not first:
                    run_extra(args)

    features[method] = handler


class _ProjectState:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.project: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.watching = False  # registration for didChangeWatchedFiles sent

    # -------------------------------------------------------------- reading files

    def _open_documents(self) -> list[Any]:
        ws = self.server.workspace
        for _ in range(3):  # the event loop may add a document meanwhile
            try:
                return list(ws.text_documents.values())
            except RuntimeError:
                continue
        return []

    def _open_document(self, path: str) -> Any:
        from mcls.document.project import normalize

        for doc in self._open_documents():
            p = getattr(doc, "path", None)
            if p and normalize(p) == path:
                return doc
        return None

    def read(self, path: str) -> str | None:
        """Open-buffer text first, else the file on disk."""
        from mcls.document.project import disk_reader, normalize

        doc = self._open_document(normalize(path))
        if doc is not None:
            return doc.source
        return disk_reader(path)

    def stamp(self, path: str) -> Any:
        from mcls.document.project import disk_stamp, normalize

        doc = self._open_document(normalize(path))
        if doc is not None:
            text = doc.source
            return ("buffer", hash(text), len(text))
        return disk_stamp(path)

    def folders(self) -> list[str]:
        from pygls.uris import to_fs_path

        ws = self.server.workspace
        out = []
        try:
            for f in list(ws.folders.values()):
                if (p := to_fs_path(f.uri)) is not None:
                    out.append(p)
        except Exception:  # noqa: BLE001
            pass
        if getattr(ws, "root_path", None):
            out.append(ws.root_path)
        return out

    # -------------------------------------------------------------- handlers

    def initialized(self, params: Any) -> None:
        from mcls.document import project
        from mcls.lsp import convert

        self.loop = asyncio.get_running_loop()
        self.project = project.Project(self.folders, self.read, self.stamp)
        self.project.on_context = self._context_built
        project.set_active(self.project)
        convert.set_text_source(self.read)

    def _context_built(self, ctx: Any) -> None:
        """On the worker thread: a document is part of a multi-file project. Watching the
        workspace's files starts then (not at ``initialized``: a single-file session never
        needs it)."""
        if self.watching:
            return
        self.watching = True
        try:
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self._register_watchers()))
        except RuntimeError:  # the loop is closed: the session is over
            pass

    async def _register_watchers(self) -> None:
        caps = self.server.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps else None
        if not (watched and watched.dynamic_registration):
            return
        params = types.RegistrationParams(
            registrations=[
                types.Registration(
                    id=_REGISTRATION_ID,
                    method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=types.DidChangeWatchedFilesRegistrationOptions(
                        watchers=[types.FileSystemWatcher(glob_pattern=WATCH_GLOB)]
                    ),
                )
            ]
        )
        try:
            await asyncio.wait_for(self.server.client_register_capability_async(params), 10)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - watching is a bonus
            log.info("client/registerCapability failed: %s", e)

    def files_changed(self, params: types.DidChangeWatchedFilesParams) -> None:
        from pygls.uris import to_fs_path

        if self.project is None:
            return
        paths: list[str] = []
        structural = False  # a file appeared or went away: roots and includes may resolve anew
        for change in params.changes:
            p = to_fs_path(change.uri)
            if not p:
                continue
            paths.append(p)
            if change.type != types.FileChangeType.Changed:
                structural = True
        if not paths:
            return
        dependents = self.project.dependents(paths)
        # a created file may be what an \input named all along: forget everything then
        self.project.invalidate(None if structural else paths)
        self._republish(dependents, every_latex=structural)

    def document_changed(self, params: Any) -> None:
        """An open document was edited: re-check the open documents built on it."""
        if self.project is None or params is None:
            return
        from pygls.uris import to_fs_path

        path = to_fs_path(params.text_document.uri)
        if not path:
            return
        dependents = self.project.dependents([path])
        dependents.discard(_normalize(path))
        if dependents:
            self._republish(dependents, every_latex=False, skip=params.text_document.uri)

    def _republish(self, paths: set[str], every_latex: bool, skip: str | None = None) -> None:
        from mcls.document.project import normalize
        from mcls.document.regions import language_for

        for doc in self._open_documents():
            uri, p = doc.uri, getattr(doc, "path", None)
            if uri == skip or not p:
                continue
            if normalize(p) in paths or (every_latex and language_for(doc.language_id, p) == "latex"):
                try:
                    self.server.schedule_diagnostics(uri)
                except Exception:
                    log.exception("cannot re-check %s", uri)


def _normalize(path: str) -> str:
    from mcls.document.project import normalize

    return normalize(path) if path else os.path.normpath(path)
