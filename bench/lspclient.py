"""A small timing harness around pygls's ``LanguageClient`` for the benchmarks.

Drives the real server (``python -m mcls serve``) over stdio, keeps every
``publishDiagnostics`` with the time it arrived, and drains the server's stderr
(an undrained pipe would block a server that logs a lot).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Sequence

from lsprotocol import types
from pygls.lsp.client import LanguageClient

TIMEOUT = 60.0


class Session:
    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command or [sys.executable, "-m", "mcls", "serve"])
        self.client = LanguageClient("mcls-bench", "0")
        self.published: list[tuple[float, types.PublishDiagnosticsParams]] = []
        self._waiters: list[tuple[str, int | None, asyncio.Future[float]]] = []
        self.stderr = bytearray()
        self._drain: asyncio.Task[None] | None = None

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
            now = time.perf_counter()
            self.published.append((now, params))
            for uri, version, fut in list(self._waiters):
                if uri == params.uri and version == params.version and not fut.done():
                    fut.set_result(now)

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(ls: LanguageClient, params: types.ShowMessageParams) -> None:
            self.stderr.extend(f"[showMessage] {params.message}\n".encode())

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(ls: LanguageClient, params: types.LogMessageParams) -> None:
            pass

    @property
    def pid(self) -> int:
        assert self.client._server is not None
        return self.client._server.pid

    async def start(self) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        await self.client.start_io(*self.command, env=env)
        server = self.client._server
        assert server is not None and server.stderr is not None
        self._drain = asyncio.create_task(self._drain_stderr(server.stderr))

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                return
            self.stderr.extend(chunk)

    async def initialize(self) -> types.InitializeResult:
        caps = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                hover=types.HoverClientCapabilities(
                    content_format=[types.MarkupKind.Markdown, types.MarkupKind.PlainText]
                ),
                publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
                synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
            ),
            general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
        )
        result = await asyncio.wait_for(
            self.client.initialize_async(types.InitializeParams(capabilities=caps, process_id=os.getpid())),
            TIMEOUT,
        )
        self.client.initialized(types.InitializedParams())
        return result

    def diagnostics_future(self, uri: str, version: int | None) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        for t, params in self.published:
            if params.uri == uri and params.version == version:
                fut.set_result(t)
                return fut
        self._waiters.append((uri, version, fut))
        return fut

    async def wait_diagnostics(self, fut: asyncio.Future[float]) -> float:
        try:
            return await asyncio.wait_for(fut, TIMEOUT)
        finally:
            self._waiters = [w for w in self._waiters if w[2] is not fut]

    def open(self, uri: str, text: str, language_id: str = "latex", version: int = 1) -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)
            )
        )

    def change(self, uri: str, version: int, line: int, character: int, text: str, end: tuple[int, int] | None = None) -> None:
        end_line, end_char = end if end is not None else (line, character)
        rng = types.Range(
            start=types.Position(line=line, character=character),
            end=types.Position(line=end_line, character=end_char),
        )
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=rng, text=text)],
            )
        )

    async def hover(self, uri: str, line: int, character: int) -> types.Hover | None:
        return await asyncio.wait_for(
            self.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=line, character=character),
                )
            ),
            TIMEOUT,
        )

    async def ping(self) -> None:
        """One protocol round trip that does no analysis: an unknown request,
        answered by pygls with MethodNotFound."""
        try:
            await asyncio.wait_for(self.client.protocol.send_request_async("mcls/bench-ping", None), TIMEOUT)
        except asyncio.TimeoutError:
            raise
        except Exception:
            pass

    def peak_rss_kb(self) -> int | None:
        """VmHWM (peak resident set) of the server process, Linux only."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def rss_kb(self) -> int | None:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    async def close(self) -> int | None:
        server = self.client._server
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), TIMEOUT)
            self.client.exit(None)
            await asyncio.wait_for(self.client.stop(), TIMEOUT)
        except Exception:
            if server is not None and server.returncode is None:
                server.kill()
                await server.wait()
        if self._drain is not None:
            try:
                await asyncio.wait_for(self._drain, 5)
            except Exception:
                self._drain.cancel()
        return server.returncode if server is not None else None


def tex_positions(text: str):
    """Helpers to turn offsets of an ASCII/BMP text into (line, UTF-16 column)."""
    from bisect import bisect_right

    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)

    def position(offset: int) -> tuple[int, int]:
        line = bisect_right(starts, offset) - 1
        seg = text[starts[line] : offset]
        return line, len(seg.encode("utf-16-le")) // 2

    return position


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(round(q / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def now() -> float:
    return time.perf_counter()

