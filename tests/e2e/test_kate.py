"""Smoke test of the Kate configuration in editors/README.md, in a real Kate under Xvfb.

The JSON block of the README's "## Kate" section is written, unchanged, where
Kate's "User Server Settings" page stores it (``$XDG_CONFIG_HOME/kate/lspclient/settings.json``).
Kate then opens a .tex (and, separately, a .md) file with a dimension error and
must start ``mcls serve`` itself, as a child process, and receive the server's
``shape/matmul`` diagnostic for that file.

What Kate sent and received is read from its own log: with ``LSPCLIENT_DEBUG=1``
Kate's LSP client prints every message on stderr. ``mcls`` on Kate's PATH is a
small script running this Python's ``-m mcls``.

Kate (>= 22.12) asks once, in a dialog, before it starts a server command line;
the answer is kept in katerc (``[lspclient] AllowedServerCommandLines``), which
is written here in advance, as if "Yes" had been clicked before.

Needs ``kate`` and ``Xvfb`` (Debian: ``apt-get install kate xvfb``); skipped
without them. Each Kate run takes a few seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "editors" / "README.md"
WAIT = 60.0  # seconds for Kate to start the server and get the diagnostic

TEX = r"""\documentclass{article}
\begin{document}
Let $A \in \mathbb{R}^{n\times n}$, $X \in \mathbb{R}^{n\times m}$, $A X^\top$.
\end{document}
"""

MD = r"""# Shapes

Let $A \in \mathbb{R}^{n\times n}$, $X \in \mathbb{R}^{n\times m}$, $A X^\top$.
"""

DOCS = {"tex": ("paper.tex", TEX, "latex"), "md": ("notes.md", MD, "markdown")}

KATE = shutil.which("kate")
XVFB = shutil.which("Xvfb")
pytestmark = pytest.mark.skipif(
    KATE is None or XVFB is None or not sys.platform.startswith("linux"),
    reason="needs kate and Xvfb on Linux (Debian: apt-get install kate xvfb)",
)


def readme_kate_settings() -> str:
    """The JSON block of the README's Kate section, as users copy it."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Kate\n", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert m, "no ```json block in the Kate section of editors/README.md"
    json.loads(m.group(1))  # must be valid JSON as printed
    return m.group(1)


@pytest.fixture(scope="module")
def display() -> Any:
    """A private Xvfb; -displayfd picks a free display number."""
    assert XVFB is not None
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [XVFB, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                found.append((int(entry.name), cmd))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _messages(log: str) -> list[dict[str, Any]]:
    """LSP messages in Kate's debug log: each is printed as one quoted, escaped string."""
    out = []
    for line in log.splitlines():
        line = line.strip()
        if not (line.startswith('"{') and line.endswith('"')):
            continue
        try:
            msg = json.loads(json.loads(line))
        except (ValueError, TypeError):
            continue
        if isinstance(msg, dict):
            out.append(msg)
    return out


def run_kate(workdir: Path, display: str, kind: str) -> dict[str, Any]:
    assert KATE is not None
    name, text, _ = DOCS[kind]
    home, config, data, cache, runtime, bindir, project = (
        workdir / d for d in ("home", "config", "data", "cache", "runtime", "bin", "project")
    )
    for d in (home, config / "kate" / "lspclient", data, cache, runtime, bindir, project):
        d.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)

    # `mcls` on Kate's PATH is this Python's mcls
    mcls = bindir / "mcls"
    mcls.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mcls "$@"\n', encoding="utf-8")
    mcls.chmod(0o755)

    (config / "kate" / "lspclient" / "settings.json").write_text(readme_kate_settings(), encoding="utf-8")
    # lspclientplugin is on by default in Kate 22.12; said here so a changed default shows.
    # The allow list is what Kate's "start this server?" dialog stores after "Yes".
    (config / "katerc").write_text(
        f"[Kate Plugins]\nlspclientplugin=true\n\n[lspclient]\nAllowedServerCommandLines={mcls} serve\n",
        encoding="utf-8",
    )
    doc = project / name
    doc.write_text(text, encoding="utf-8")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DBUS_", "KDE", "QT_", "WAYLAND"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(config),
        XDG_DATA_HOME=str(data),
        XDG_CACHE_HOME=str(cache),
        XDG_RUNTIME_DIR=str(runtime),
        DISPLAY=display,
        QT_QPA_PLATFORM="xcb",
        LSPCLIENT_DEBUG="1",
        PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    log_path = workdir / "kate.log"
    result: dict[str, Any] = {"doc": doc, "servers": [], "messages": []}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [KATE, "-n", str(doc)],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill Kate and the server it started
        )
        try:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and proc.poll() is None:
                servers = [c for c in _children(proc.pid) if "mcls" in c[1] and "serve" in c[1]]
                if servers:
                    result["servers"] = servers
                messages = _messages(log_path.read_text(encoding="utf-8", errors="replace"))
                if any(_diagnostics_for(m, doc) for m in messages):
                    result["messages"] = messages
                    break
                time.sleep(0.25)
            else:
                result["messages"] = _messages(log_path.read_text(encoding="utf-8", errors="replace"))
            result["exit"] = proc.poll()
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            for pid, _ in result["servers"]:  # the server, if Kate left it behind
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    result["log"] = log_path.read_text(encoding="utf-8", errors="replace")
    return result


def _diagnostics_for(msg: dict[str, Any], doc: Path) -> list[dict[str, Any]]:
    if msg.get("method") != "textDocument/publishDiagnostics":
        return []
    params = msg.get("params") or {}
    if params.get("uri") != doc.as_uri():
        return []
    return params.get("diagnostics") or []


@pytest.fixture(scope="module", params=sorted(DOCS))
def kate(request: pytest.FixtureRequest, display: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = run_kate(tmp_path_factory.mktemp(f"kate-{request.param}"), display, request.param)
    result["kind"] = request.param
    return result


def _why(kate: dict[str, Any]) -> str:
    return f"Kate exit: {kate.get('exit')}; Kate's log (tail):\n{kate['log'][-3000:]}"


def test_readme_block_is_the_kate_settings() -> None:
    settings = json.loads(readme_kate_settings())
    for key in ("latex", "markdown"):
        assert settings["servers"][key]["command"] == ["mcls", "serve"]


def test_kate_starts_mcls_serve(kate: dict[str, Any]) -> None:
    assert kate["servers"], "Kate started no `mcls serve` child process\n" + _why(kate)


def test_kate_sends_readme_initialization_options(kate: dict[str, Any]) -> None:
    inits = [m for m in kate["messages"] if m.get("method") == "initialize"]
    assert inits, "no initialize request in Kate's log\n" + _why(kate)
    assert inits[0]["params"].get("initializationOptions") == {"hoverFormat": "unicode"}
    opens = [m for m in kate["messages"] if m.get("method") == "textDocument/didOpen"]
    assert opens, "no didOpen in Kate's log\n" + _why(kate)
    assert opens[0]["params"]["textDocument"]["languageId"] == DOCS[kate["kind"]][2]


def test_kate_gets_dimension_diagnostic(kate: dict[str, Any]) -> None:
    diags = [d for m in kate["messages"] for d in _diagnostics_for(m, kate["doc"])]
    matmul = [d for d in diags if d.get("code") == "shape/matmul"]
    assert matmul, f"no shape/matmul diagnostic for {kate['doc'].name}: {diags}\n" + _why(kate)
    assert matmul[0]["range"]["start"]["line"] == 2
