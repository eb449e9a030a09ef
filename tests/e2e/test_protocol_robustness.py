"""End-to-end robustness of the real server over stdio.

A misbehaving client must get the proper LSP error or an empty result, and the
server must keep serving: requests for documents it never opened, edits out of
range or before didOpen, positions past the end or inside a surrogate pair,
shutdown with a request in flight, cancellation, unknown methods. The last
part writes raw bytes to the server's stdin (invalid JSON, junk) and pins down
what pygls does with them.

Where pygls alone falls short of the spec, ``mcls.lsp.server`` makes up for it
(InvalidParams for params that do not deserialise, resynchronising after junk
before a header, InvalidRequest after shutdown); those tests pin that down.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcMethodNotFound
from pytest_lsp import LanguageClient, client_capabilities

from lsp_client import SERVER, TIMEOUT, change, hover, hover_params, make_client, open_doc, published, rng  # noqa: F401


def diag_key(params: types.PublishDiagnosticsParams) -> list[tuple]:
    return [
        (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character, d.code, d.message)
        for d in params.diagnostics
    ]


def lines_of(text: str) -> list[str]:
    """Lines as LSP counts them (breaks: \\n, \\r\\n, \\r), without the breaks."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def boundaries(line: str, encoding: str) -> set[int]:
    """Positions (in ``encoding`` units) that fall between code points of ``line``."""
    out, units = {0}, 0
    for ch in line:
        if encoding == "utf-16":
            units += len(ch.encode("utf-16-le", "surrogatepass")) // 2
        elif encoding == "utf-8":
            units += len(ch.encode("utf-8", "surrogatepass"))
        else:
            units += 1
        out.add(units)
    return out


def assert_range_inside(text: str, r: types.Range, encoding: str = "utf-16") -> None:
    lines = lines_of(text)
    for pos in (r.start, r.end):
        assert 0 <= pos.line < len(lines), f"{pos} past the last line"
        assert pos.character in boundaries(lines[pos.line], encoding), f"{pos} is not a character boundary ({encoding})"
    assert (r.start.line, r.start.character) <= (r.end.line, r.end.character)


TEX = r"""\documentclass{article}
\begin{document}
Let $X \in \mathbb{R}^{n \times p}$ and $A \in \mathbb{R}^{n \times n}$.
\[ M = A X X^\top A^\top \]
and the mistake $A X^\top$ here.
\end{document}
"""

# 𝐱 (U+1D431) is two UTF-16 units and four UTF-8 bytes; 😀 likewise.
WIDE = "Let $\U0001d431 \\in \\mathbb{R}^{n}$ and $A \\in \\mathbb{R}^{m \\times n}$.\n$$A\U0001d431 + 😀 A$$\n"


async def still_serving(client: LanguageClient, tmp_path: Path, name: str = "alive.tex") -> None:
    """A fresh document gets its diagnostics: the server is alive and analysing."""
    uri = (tmp_path / name).as_uri()
    open_doc(client, uri, TEX)
    params = await published(client, uri, 1)
    assert any(d.code == "shape/matmul" for d in params.diagnostics), diag_key(params)


# ---------------------------------------------------------------- unopened documents


async def test_requests_for_unopened_documents(client: LanguageClient, tmp_path: Path) -> None:
    missing = (tmp_path / "missing.tex").as_uri()
    assert await hover(client, missing, 0, 0) is None
    assert await hover(client, missing, 5, 3) is None
    assert await hover(client, "untitled:Untitled-1", 0, 0) is None
    assert await hover(client, "file:///no/such/dir/%00weird%ZZ.md", 0, 0) is None
    # A file on disk that was never opened: read from disk or ignored, never an error.
    on_disk = tmp_path / "on_disk.tex"
    on_disk.write_text(TEX, encoding="utf-8")
    result = await hover(client, on_disk.as_uri(), 3, 5)
    if result is not None and result.range is not None:
        assert_range_inside(TEX, result.range)
    # Save and close of documents that were never opened.
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=missing)))
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=missing)))
    await still_serving(client, tmp_path)
    assert client.messages == []


async def test_did_change_before_did_open_keeps_serving(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "early.tex").as_uri()
    change(client, uri, 1, None, "$A$")
    change(client, uri, 2, rng(0, 0, 0, 1), "$B")
    open_doc(client, uri, TEX, version=3)
    params = await published(client, uri, 3)
    assert any(d.code == "shape/matmul" for d in params.diagnostics)
    change(client, uri, 4, rng(4, 0, 4, 0), "% ")  # comment out the mistake
    params = await published(client, uri, 4)
    assert not any(d.code == "shape/matmul" for d in params.diagnostics), diag_key(params)


async def test_did_change_before_did_open_shows_no_popup(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "early.tex").as_uri()
    change(client, uri, 1, None, "$A$")
    await still_serving(client, tmp_path)
    assert client.messages == []


# ---------------------------------------------------------------- out-of-range edits


async def test_out_of_range_and_odd_edits(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "odd.tex").as_uri()
    open_doc(client, uri, WIDE)
    await published(client, uri, 1)
    edits = [
        (rng(1, 40, 0, 3), "Z"),  # end before start
        (rng(0, 5, 0, 6), "y"),  # inside the surrogate pair of 𝐱
        (rng(0, 6, 0, 6), "q"),  # a position inside a surrogate pair, empty range
        (rng(0, 10_000, 0, 20_000), "!"),  # past the end of the line
        (rng(10_000, 0, 10_001, 5), "$x$"),  # past the end of the document
        (rng(0, 0, 10_000, 0), ""),  # delete everything and beyond
        (rng(2**31 - 1, 2**31 - 1, 2**31 - 1, 2**31 - 1), "\r\n$A A$\r"),  # largest integers
        (rng(0, 0, 0, 0), "\x00\ud83d"),  # NUL and a lone high surrogate
    ]
    version = 1
    for r, text in edits:
        version += 1
        change(client, uri, version, r, text)
        params = await published(client, uri, version)
        for d in params.diagnostics:
            assert d.range.start.line <= d.range.end.line
        for line, ch in [(0, 0), (0, 6), (1, 3), (99, 99)]:
            await hover(client, uri, line, ch)
    # A whole-document replacement brings the server back to a known text: its
    # diagnostics equal those of the same text opened fresh.
    version += 1
    change(client, uri, version, None, WIDE)
    after = await published(client, uri, version)
    fresh = (tmp_path / "fresh.tex").as_uri()
    open_doc(client, fresh, WIDE)
    assert diag_key(after) == diag_key(await published(client, fresh, 1))
    assert client.messages == []


# ---------------------------------------------------------------- positions


async def test_positions_past_the_end_and_inside_surrogates_utf16(client: LanguageClient, tmp_path: Path) -> None:
    await _positions(client, "utf-16", tmp_path)


async def test_positions_past_the_end_and_inside_surrogates_utf8(client_utf8: LanguageClient, tmp_path: Path) -> None:
    await _positions(client_utf8, "utf-8", tmp_path)


async def _positions(client: LanguageClient, encoding: str, tmp_path: Path) -> None:
    uri = (tmp_path / "wide.tex").as_uri()
    open_doc(client, uri, WIDE)
    params = await published(client, uri, 1)
    for d in params.diagnostics:
        assert_range_inside(WIDE, d.range, encoding)
    lines = lines_of(WIDE)
    answered = 0
    positions = [(line, ch) for line in range(len(lines)) for ch in range(max(boundaries(lines[line], encoding)) + 2)]
    positions += [(0, 10_000), (1, 2**31 - 1), (len(lines), 0), (10_000, 3), (2**31 - 1, 2**31 - 1)]
    for line, ch in positions:
        result = await hover(client, uri, line, ch)
        if result is not None:
            answered += 1
            assert result.range is not None
            assert_range_inside(WIDE, result.range, encoding)
    assert answered > 0  # the math is hoverable at all


# ---------------------------------------------------------------- lifecycle


def _paper(regions: int = 300) -> str:
    parts = ["Let $X \\in \\mathbb{R}^{n\\times p}$, $A \\in \\mathbb{R}^{m\\times n}$ and $B \\in \\mathbb{R}^{p\\times m}$.\n"]
    for k in range(regions):
        parts.append(f"Step {k}: $$M_{{{k}}} = A X X^\\top A^\\top + A X B A^\\top$$ and $f = \\operatorname{{tr}}(A X B)$.\n")
    return "".join(parts)


async def test_shutdown_with_requests_in_flight(raw: LanguageClient, tmp_path: Path) -> None:
    await raw.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    uri = (tmp_path / "paper.tex").as_uri()
    text = _paper(100)
    open_doc(raw, uri, text)
    # Requests sent and not awaited, then shutdown right behind them.
    pending = [asyncio.ensure_future(raw.text_document_hover_async(hover_params(uri, 1 + k, 12))) for k in range(5)]
    assert await asyncio.wait_for(raw.shutdown_async(None), TIMEOUT) is None
    done, not_done = await asyncio.wait(pending, timeout=TIMEOUT)
    assert not not_done, "a request in flight at shutdown was never answered"
    for fut in done:  # a result, or an error response (RequestCancelled): never silence
        exc = fut.exception()
        assert exc is None or isinstance(exc, (JsonRpcException, asyncio.CancelledError)), repr(exc)
    raw.exit(None)
    server = raw._server
    assert server is not None
    await asyncio.wait_for(server.wait(), TIMEOUT)
    assert server.returncode == 0


async def test_exit_during_long_analysis_does_not_hang(raw: LanguageClient, tmp_path: Path) -> None:
    """The analysis runs on a worker thread; exit must not wait for it to finish."""
    await raw.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    uri = (tmp_path / "slow.tex").as_uri()
    # Several seconds of analysis today (see the xfail tests in test_fuzz.py).
    slow = "\\def\\a{\\a\\a}$\\a$\nLet $X \\in \\mathbb{R}^{n\\times n}$. $$" + "X" * 100_000 + "$$\n"
    open_doc(raw, uri, slow)
    await asyncio.sleep(0.5)  # the debounce has fired; analysis is running
    await asyncio.wait_for(raw.shutdown_async(None), TIMEOUT)
    t0 = time.monotonic()
    raw.exit(None)
    server = raw._server
    assert server is not None
    await asyncio.wait_for(server.wait(), TIMEOUT)
    assert time.monotonic() - t0 < 3, "the process outlived exit while analysing"
    assert server.returncode == 0


async def test_cancel_request(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "paper.tex").as_uri()
    open_doc(client, uri, _paper(100))
    await published(client, uri, 1)
    futures = []
    for k in range(5):
        msg_id = f"cancel-me-{k}"
        futures.append(client.protocol.send_request_async(types.TEXT_DOCUMENT_HOVER, hover_params(uri, 1 + k, 12), msg_id=msg_id))
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    for fut in futures:
        try:
            await asyncio.wait_for(fut, TIMEOUT)
        except (JsonRpcException, asyncio.CancelledError):
            pass  # RequestCancelled: fine
    result = await hover(client, uri, 1, 12)
    assert result is None or isinstance(result, types.Hover)
    await still_serving(client, tmp_path)


async def test_unknown_methods(client: LanguageClient, tmp_path: Path) -> None:
    with pytest.raises(JsonRpcMethodNotFound):
        await asyncio.wait_for(client.protocol.send_request_async("mcls/noSuchMethod", {}), TIMEOUT)
    with pytest.raises(JsonRpcMethodNotFound):
        await asyncio.wait_for(client.protocol.send_request_async("textDocument/noSuchRequest", {"x": 1}), TIMEOUT)
    client.protocol.notify("$/noSuchNotification", {"x": 1})
    client.protocol.notify("mcls/noSuchNotification", None)
    await still_serving(client, tmp_path)
    assert client.messages == []


async def test_same_document_opened_twice_and_reopened(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "twice.tex").as_uri()
    open_doc(client, uri, "no math", version=1)
    await published(client, uri, 1)
    open_doc(client, uri, TEX, version=5)  # opened again without a close
    assert any(d.code == "shape/matmul" for d in (await published(client, uri, 5)).diagnostics)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    def count() -> int:
        return len([p for p in client.published if p.uri == uri and p.version == 1])  # type: ignore[attr-defined]

    before = count()
    open_doc(client, uri, "still no math", version=1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while count() == before and loop.time() < deadline:
        await asyncio.sleep(0.01)
    last = [p for p in client.published if p.uri == uri][-1]  # type: ignore[attr-defined]
    assert last.version == 1 and list(last.diagnostics) == []


# ---------------------------------------------------------------- raw bytes on stdin


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def initialize_request(msg_id: int = 1) -> bytes:
    return frame({"jsonrpc": "2.0", "id": msg_id, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}})


def request(msg_id: int, method: str, params: Any) -> bytes:
    return frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})


def notification(method: str, params: Any) -> bytes:
    return frame({"jsonrpc": "2.0", "method": method, "params": params})


class RawServer:
    """The server as a plain subprocess: bytes in, framed JSON messages out."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.buf = b""
        self.messages: list[dict] = []

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _pump(self, timeout: float) -> bool:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        self.buf += chunk
        while True:
            head = self.buf.find(b"\r\n\r\n")
            if head < 0:
                return True
            length = next(int(h.split(b":")[1]) for h in self.buf[:head].split(b"\r\n") if h.lower().startswith(b"content-length"))
            if len(self.buf) < head + 4 + length:
                return True
            self.messages.append(json.loads(self.buf[head + 4 : head + 4 + length]))
            self.buf = self.buf[head + 4 + length :]

    def wait_for(self, pred, timeout: float = TIMEOUT) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages:
                if pred(m):
                    return m
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(left):
                if left <= 0 or self.proc.poll() is not None:
                    return None

    def response(self, msg_id: int, timeout: float = TIMEOUT) -> dict | None:
        return self.wait_for(lambda m: m.get("id") == msg_id and "method" not in m, timeout)

    def close(self, timeout: float = TIMEOUT) -> int | None:
        """Close stdin; the exit code, or None if the server did not exit in time (then it is killed)."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


@pytest.fixture
def server():
    s = RawServer()
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


pytestmark_raw = pytest.mark.skipif(sys.platform == "win32", reason="select() on pipes")

JUNK = {
    "invalid JSON body": b"Content-Length: 9\r\n\r\n{not json",
    "non-UTF-8 body": b"Content-Length: 4\r\n\r\n\xff\xfe\xfd\xfc",
    "JSON array": frame([1, 2, 3]),
    "JSON without method": frame({"jsonrpc": "2.0", "id": 77}),
    "garbage line": b"hello, is this the language server?\r\n\r\n",
    "binary junk line": bytes(range(256)) + b"\r\n\r\n",
    "header without length": b"Content-Type: application/json\r\n\r\n",
}


@pytestmark_raw
@pytest.mark.parametrize("junk", list(JUNK), ids=list(JUNK))
def test_junk_then_valid_request(server: RawServer, junk: str) -> None:
    """pygls skips a framed message it cannot parse (logging it and sending a
    window/showMessage) and lines that are not headers; the next request is answered."""
    server.send(JUNK[junk] + initialize_request(1))
    reply = server.response(1)
    assert reply is not None and "result" in reply, server.messages
    assert reply["result"]["capabilities"]["hoverProvider"]
    # Errors, if any, come as showMessage notifications, never as a bogus response.
    assert all(m.get("method") == "window/showMessage" for m in server.messages if m is not reply)
    server.send(request(2, "shutdown", None) + notification("exit", None))
    assert server.response(2) is not None
    assert server.proc.wait(TIMEOUT) == 0


@pytestmark_raw
def test_junk_without_newline_does_not_hang(server: RawServer) -> None:
    """Junk glued to the next header makes pygls drop what follows (it only
    recognises `Content-Length` at the start of a line), but the server never
    hangs: closing stdin ends it."""
    server.send(b"\x00\xffjunk" + initialize_request(1) + initialize_request(2))
    server.response(2, timeout=0.5)
    assert server.close() is not None, "server still running 20 s after stdin closed"


@pytestmark_raw
def test_junk_without_newline_resyncs(server: RawServer) -> None:
    server.send(b"\x00\xffjunk" + initialize_request(1) + initialize_request(2))
    assert server.response(2, timeout=2) is not None


@pytestmark_raw
def test_cancelled_requests_answer_at_once(server: RawServer) -> None:
    """Hovers queued behind a long analysis and then cancelled get RequestCancelled
    (-32800) right away, not after the analysis, and the server goes on serving.
    (Raw stdio: pytest-lsp's client may write a request after a later notification.)"""
    server.send(initialize_request(1) + notification("initialized", {}))
    assert server.response(1) is not None
    uri = "file:///tmp/mcls-cancel/slow.tex"
    slow = "\\def\\a{\\a\\a}$\\a$\nLet $X \\in \\mathbb{R}^{n\\times n}$. $$" + "X" * 100_000 + "$$\n"
    server.send(notification("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "latex", "version": 1, "text": slow}}))
    time.sleep(0.05)  # its analysis keeps the worker busy for about a second
    ids = [f"queued-{k}" for k in range(3)]
    for i in ids:
        server.send(request(i, "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}}))
    t0 = time.monotonic()
    server.send(b"".join(notification("$/cancelRequest", {"id": i}) for i in ids))
    for i in ids:
        reply = server.response(i)
        assert reply is not None and reply.get("error", {}).get("code") == -32800, reply
    assert time.monotonic() - t0 < 0.5, "cancelled requests waited for the analysis"
    server.send(request(2, "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}}))
    reply = server.response(2)
    assert reply is not None and "result" in reply  # not cancelled: answered once the analysis is done


@pytestmark_raw
@pytest.mark.parametrize("tail", [b"Content-Length: 99999999\r\n\r\n{}", b"Content-Length: 50\r\n\r\n{\"jsonrpc\"", b"Content-Len"])
def test_eof_mid_message_exits(server: RawServer, tail: bytes) -> None:
    server.send(initialize_request(1))
    assert server.response(1) is not None
    server.send(tail)
    assert server.close() is not None, "server still running 20 s after stdin closed"


@pytestmark_raw
def test_exit_without_shutdown_ends_the_process(server: RawServer) -> None:
    server.send(initialize_request(1))
    assert server.response(1) is not None
    server.send(notification("exit", None))
    try:
        code = server.proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("exit without shutdown did not end the server")
    assert code == 1  # LSP: exit without a shutdown request first ends with 1


@pytestmark_raw
def test_request_after_shutdown_gets_an_error(server: RawServer) -> None:
    server.send(initialize_request(1) + request(2, "shutdown", None))
    assert server.response(2) is not None
    server.send(request(3, "textDocument/hover", {"textDocument": {"uri": "file:///x.tex"}, "position": {"line": 0, "character": 0}}))
    reply = server.response(3, timeout=1.5)
    assert reply is not None and reply.get("error", {}).get("code") == -32600


@pytestmark_raw
def test_request_with_invalid_params_gets_an_error(server: RawServer) -> None:
    server.send(initialize_request(1))
    assert server.response(1) is not None
    server.send(request(2, "textDocument/hover", {"textDocument": {"uri": 5}, "position": "here"}))
    reply = server.response(2, timeout=1.5)
    assert reply is not None and reply.get("error", {}).get("code") == -32602


@pytestmark_raw
def test_invalid_params_do_not_stop_the_server(server: RawServer) -> None:
    server.send(initialize_request(1))
    assert server.response(1) is not None
    server.send(request(2, "textDocument/hover", {"textDocument": {"uri": 5}, "position": "here"}))
    server.send(notification("textDocument/didOpen", {"textDocument": {"uri": 5}}))
    server.send(request(3, "shutdown", None))
    assert server.response(3) is not None
    server.send(notification("exit", None))
    assert server.proc.wait(TIMEOUT) == 0
