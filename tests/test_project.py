"""Multi-file LaTeX projects (issue 7): roots, contexts, related locations in other files,
the CLI and the language server; Markdown macros from front matter and $$ blocks."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from mcls.analysis import analyze, analyze_cached
from mcls.document import project as project_mod
from mcls.document.project import Project, context_for, normalize
from mcls.lsp.convert import PositionMap, to_diagnostic
from mcls.problems import Severity

MAIN = r"""\documentclass{article}
\usepackage{amsmath}
\usepackage{macros}
\begin{document}
Let $\vX \in \mathbb{R}^{n\times p}$ be the data matrix.
\input{sections/method}
\end{document}
"""
MACROS = r"""\ProvidesPackage{macros}
\newcommand{\vX}{\mathbf{X}}
"""
METHOD = r"""\section{Method}
The Gram matrix is $G = \vX^\top \vX$, but $\vX \vX$ is wrong.
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def paper(tmp_path: Path) -> Path:
    return write(tmp_path / "ws", {"main.tex": MAIN, "macros.sty": MACROS, "sections/method.tex": METHOD})


def errors(doc):
    return [p for p in doc.problems if p.severity == Severity.ERROR]


def check(path: Path, project: Project, text: str | None = None):
    text = path.read_text(encoding="utf-8") if text is None else text
    return analyze(text, "latex", str(path), project.context_for(str(path), text))


# ------------------------------------------------------------------ roots and contexts


def test_section_gets_the_root_macros_and_declarations(paper: Path):
    prj = Project([str(paper)])
    method = paper / "sections" / "method.tex"
    assert prj.root_of(str(method)) == normalize(str(paper / "main.tex"))
    ctx = prj.context_for(str(method))
    assert ctx is not None and ctx.root == normalize(str(paper / "main.tex"))
    assert "\\vX" in ctx.macros and ctx.macro_paths["\\vX"] == normalize(str(paper / "macros.sty"))
    decl = ctx.scope.decls["\\mathbf{X}"]
    assert decl.path == normalize(str(paper / "main.tex"))
    assert MAIN[decl.span[0] : decl.span[1]] == "\\vX"

    doc = check(method, prj)
    errs = errors(doc)
    assert len(errs) == 1, errs  # reported exactly once
    (e,) = errs
    assert e.code == "shape/matmul"
    assert METHOD[e.span[0] : e.span[1]] == "\\vX \\vX"
    (rel,) = e.related
    assert rel.path == normalize(str(paper / "main.tex"))
    assert MAIN[rel.span[0] : rel.span[1]] == "\\vX"
    assert not [p for p in doc.problems if p.code == "parse/unknown-macro"]


def test_root_gets_its_packages_and_what_its_sections_declare(paper: Path):
    prj = Project([str(paper)])
    main = paper / "main.tex"
    assert prj.root_of(str(main)) == normalize(str(main))
    ctx = prj.context_for(str(main))
    assert ctx is not None and "\\vX" in ctx.macros
    doc = check(main, prj)
    assert not errors(doc)
    assert not [p for p in doc.problems if p.code == "parse/unknown-macro"]
    # the errors of a section are its own: main.tex does not repeat them
    assert all(p.span[1] <= len(MAIN) for p in doc.problems)


def test_declarations_after_the_include_do_not_apply(tmp_path: Path):
    ws = write(tmp_path, {
        "main.tex": "\\documentclass{article}\n\\begin{document}\n$A \\in \\mathbb{R}^{n\\times p}$\n"
                    "\\input{a}\n$B \\in \\mathbb{R}^{p\\times q}$\n\\end{document}\n",
        "a.tex": "$A B$ and $A A$\n",
    })  # fmt: skip
    ctx = Project([str(ws)]).context_for(str(ws / "a.tex"))
    assert ctx is not None and set(ctx.scope.decls) == {"A"}


def test_a_conflicting_declaration_is_reported_once_in_the_later_file(tmp_path: Path):
    ws = write(tmp_path, {
        "main.tex": "\\documentclass{article}\n\\begin{document}\n$X \\in \\mathbb{R}^{n\\times p}$\n\\input{sec}\n\\end{document}\n",
        "sec.tex": "Now $X \\in \\mathbb{R}^{n\\times n}$.\n",
    })  # fmt: skip
    prj = Project([str(ws)])
    in_sec = [p for p in check(ws / "sec.tex", prj).problems if p.code == "shape/redeclared"]
    in_main = [p for p in check(ws / "main.tex", prj).problems if p.code == "shape/redeclared"]
    assert len(in_sec) == 1 and in_sec[0].related[0].path == normalize(str(ws / "main.tex"))
    assert in_main == []


def test_magic_root_comment(tmp_path: Path):
    ws = write(tmp_path, {
        "thesis.tex": "\\documentclass{report}\n\\newcommand{\\mA}{\\mathbf{A}}\n\\begin{document}\n"
                      "Let $\\mA \\in \\mathbb{R}^{m \\times k}$.\n\\include{\\chapterdir/one}\n\\end{document}\n",
        "chapters/one.tex": "% !TEX root = ../thesis.tex\n\\chapter{One}\nThen $\\mA \\mA$ fails.\n",
    })  # fmt: skip
    one = ws / "chapters" / "one.tex"
    prj = Project([str(ws)])
    assert prj.root_of(str(one)) == normalize(str(ws / "thesis.tex"))
    errs = errors(check(one, prj))
    assert [e.code for e in errs] == ["shape/matmul"]
    assert errs[0].related[0].path == normalize(str(ws / "thesis.tex"))


def test_subfiles_and_import(tmp_path: Path):
    ws = write(tmp_path, {
        "main.tex": "\\documentclass{article}\n\\usepackage{subfiles}\n\\usepackage{import}\n"
                    "\\newcommand{\\vx}{\\mathbf{x}}\n\\begin{document}\n$\\vx \\in \\mathbb{R}^n$\n"
                    "\\subfile{parts/a}\n\\subimport{parts/}{b}\n\\end{document}\n",
        "parts/a.tex": "\\documentclass[../main.tex]{subfiles}\n\\begin{document}\n$\\vx^\\top \\vx$\n\\end{document}\n",
        "parts/b.tex": "$\\vx \\vx$\n",
    })  # fmt: skip
    prj = Project([str(ws)])
    assert prj.root_of(str(ws / "parts" / "a.tex")) == normalize(str(ws / "main.tex"))
    assert prj.root_of(str(ws / "parts" / "b.tex")) == normalize(str(ws / "main.tex"))
    assert not errors(check(ws / "parts" / "a.tex", prj))
    assert [e.code for e in errors(check(ws / "parts" / "b.tex", prj))] == ["shape/matmul"]


def test_nested_inputs_resolve_relative_to_the_root(tmp_path: Path):
    ws = write(tmp_path, {
        "main.tex": "\\documentclass{article}\n\\input{notation}\n\\begin{document}\n\\input{ch/one}\n\\end{document}\n",
        "notation.tex": "\\def\\mW{\\mathbf{W}}\nLet $\\mW \\in \\mathbb{R}^{d\\times k}$.\n",
        "ch/one.tex": "\\input{ch/two}\n",  # LaTeX reads names relative to the root's folder
        "ch/two.tex": "$\\mW \\mW$\n",
    })  # fmt: skip
    prj = Project([str(ws)])
    two = ws / "ch" / "two.tex"
    assert prj.root_of(str(two)) == normalize(str(ws / "main.tex"))
    errs = errors(check(two, prj))
    assert [e.code for e in errs] == ["shape/matmul"]
    assert errs[0].related[0].path == normalize(str(ws / "notation.tex"))


def test_a_file_outside_any_project_works_alone(tmp_path: Path, paper: Path):
    lone = write(tmp_path / "other", {"lone.tex": "Let $A \\in \\mathbb{R}^{n\\times p}$; then $A A$.\n"}) / "lone.tex"
    prj = Project([str(paper)])  # not in this workspace folder
    assert prj.context_for(str(lone)) is None
    assert prj.root_of(str(lone)) is None
    assert [e.code for e in errors(check(lone, prj))] == ["shape/matmul"]
    assert context_for(str(lone)) is None  # the one-shot helper, too
    # and a fragment nobody includes, inside the workspace
    frag = write(paper, {"notes/fragment.tex": "$\\vX \\vX$\n"}) / "notes" / "fragment.tex"
    assert prj.context_for(str(frag)) is None
    assert not errors(check(frag, prj))


def test_the_search_stays_in_the_workspace(tmp_path: Path):
    outside = write(tmp_path / "outside", {"main.tex": "\\documentclass{article}\n\\newcommand{\\q}{Q}\n\\input{../ws/sec}\n"})
    ws = write(tmp_path / "ws", {"sec.tex": "$\\q$\n"})
    os.symlink(outside, ws / "link", target_is_directory=True)
    (ws / "linked.tex").symlink_to(outside / "main.tex")
    prj = Project([str(ws)])
    assert prj.root_of(str(ws / "sec.tex")) is None
    assert prj.context_for(str(ws / "sec.tex")) is None


def test_the_search_is_bounded(tmp_path: Path):
    files = {f"d{i // 50}/f{i}.tex": "text\n" for i in range(120)}
    files["zz/main.tex"] = "\\documentclass{article}\n\\newcommand{\\q}{Q}\n\\input{../sec}\n"
    ws = write(tmp_path, {**files, "sec.tex": "$\\q$\n"})
    assert Project([str(ws)], max_files=50).root_of(str(ws / "sec.tex")) is None
    assert Project([str(ws)]).root_of(str(ws / "sec.tex")) == normalize(str(ws / "zz" / "main.tex"))


def test_include_cycles_terminate(tmp_path: Path):
    ws = write(tmp_path, {
        "main.tex": "\\documentclass{article}\n\\input{a}\n",
        "a.tex": "\\def\\p{P}\n\\input{b}\n",
        "b.tex": "\\input{a}\n$\\p$\n",
        "c.tex": "\\input{c}\n",
    })  # fmt: skip
    prj = Project([str(ws)])
    assert prj.context_for(str(ws / "b.tex")) is not None
    assert prj.root_of(str(ws / "c.tex")) is None


# ------------------------------------------------------------------ caching


def test_contexts_are_cached_until_a_file_changes(paper: Path):
    prj = Project([str(paper)])
    method = str(paper / "sections" / "method.tex")
    a = prj.context_for(method)
    assert prj.context_for(method, METHOD + "\nmore text $x$\n") is a  # own edits keep it
    assert prj.dependents([str(paper / "main.tex")]) == {normalize(method)}
    assert prj.dependents([str(paper / "macros.sty")]) == {normalize(method)}
    main = paper / "main.tex"
    main.write_text(MAIN.replace("n\\times p", "n\\times n"), encoding="utf-8")
    st = main.stat()
    os.utime(main, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    b = prj.context_for(method)
    assert b is not a and b.fingerprint != a.fingerprint
    assert not errors(check(paper / "sections" / "method.tex", prj))


def test_the_reader_supplies_open_buffers(paper: Path):
    buffers = {normalize(str(paper / "main.tex")): MAIN.replace("n\\times p", "n\\times n")}

    def read(path: str) -> str | None:
        return buffers.get(path) or project_mod.disk_reader(path)

    def stamp(path: str):
        return ("buffer", hash(buffers[path])) if path in buffers else project_mod.disk_stamp(path)

    prj = Project([str(paper)], read, stamp)
    assert not errors(check(paper / "sections" / "method.tex", prj))
    buffers[normalize(str(paper / "main.tex"))] = MAIN
    assert len(errors(check(paper / "sections" / "method.tex", prj))) == 1


def test_invalidation_finds_new_includers(tmp_path: Path):
    ws = write(tmp_path, {"sec.tex": "$\\vX \\vX$\n", "macros.sty": MACROS})
    prj = Project([str(ws)])
    assert prj.context_for(str(ws / "sec.tex")) is None
    write(ws, {"main.tex": MAIN.replace("sections/method", "sec")})
    prj.invalidate([str(ws / "main.tex")])
    ctx = prj.context_for(str(ws / "sec.tex"))
    assert ctx is not None and ctx.root == normalize(str(ws / "main.tex"))


def test_analyze_cached_uses_the_active_project(paper: Path):
    method = str(paper / "sections" / "method.tex")
    assert not errors(analyze_cached(METHOD, "latex", method))  # no project: \vX is opaque
    project_mod.set_active(Project([str(paper)]))
    try:
        assert len(errors(analyze_cached(METHOD, "latex", method))) == 1
    finally:
        project_mod.set_active(None)


# ------------------------------------------------------------------ related locations, CLI


def test_related_information_in_another_file_becomes_a_location(paper: Path):
    method = paper / "sections" / "method.tex"
    doc = check(method, Project([str(paper)]))
    (e,) = errors(doc)
    d = to_diagnostic(e, PositionMap(METHOD, "utf-16"), method.as_uri())
    (info,) = d.related_information
    assert info.location.uri == (paper / "main.tex").as_uri()
    line = MAIN.splitlines()[4]
    col = line.index("\\vX")
    assert info.location.range == types.Range(
        start=types.Position(line=4, character=col), end=types.Position(line=4, character=col + 3)
    )


def test_cli_checks_a_section_with_its_project(paper: Path, monkeypatch, capsys):
    from mcls.cli import main

    monkeypatch.chdir(paper)
    assert main(["check", "sections/method.tex"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("sections/method.tex:2:") and "shape/matmul" in out[0]
    assert out[1].startswith("main.tex:5:6: note:")
    assert len([line for line in out if "error[" in line]) == 1
    assert main(["check", "main.tex"]) == 0


# ------------------------------------------------------------------ Markdown macros


def test_markdown_front_matter_macros_apply():
    text = ('---\ntitle: x\nkatex:\n  macros:\n    "\\\\vx": "\\\\mathbf{x}"\n---\n'
            "Let $A \\in \\mathbb{R}^{n\\times p}$ and $\\vx \\in \\mathbb{R}^{n}$. Then $A \\vx$.\n")  # fmt: skip
    doc = analyze(text, "markdown")
    assert "\\vx" in doc.macros
    assert [e.code for e in errors(doc)] == ["shape/matmul"]
    assert not [p for p in doc.problems if p.code == "parse/unknown-macro"]


def test_markdown_macro_blocks_apply():
    for block in ("$$\\newcommand{\\vx}{\\mathbf{x}}$$", "$ \\def\\vx{\\mathbf{x}} $"):
        text = f"{block}\n\nLet $A \\in \\mathbb{{R}}^{{n\\times p}}$ and $\\vx \\in \\mathbb{{R}}^{{n}}$. Then $A \\vx$.\n"
        doc = analyze(text, "markdown")
        assert [e.code for e in errors(doc)] == ["shape/matmul"], block


# ------------------------------------------------------------------ the language server

TIMEOUT = 20.0


def _client() -> LanguageClient:
    from pygls.protocol import default_converter
    from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

    client = LanguageClient(converter_factory=default_converter)
    client.published = []  # type: ignore[attr-defined]
    client.registrations = []  # type: ignore[attr-defined]

    def publish(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        ls.published.append(params)  # type: ignore[attr-defined]

    def register(ls: LanguageClient, params: types.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)  # type: ignore[attr-defined]

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    features[types.CLIENT_REGISTER_CAPABILITY] = register
    register_lsp_features(client, features)
    return client


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "mcls", "serve"], client_factory=_client))
async def lsp(lsp_client: LanguageClient):
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


async def _next(client: LanguageClient, uri: str, after: int) -> types.PublishDiagnosticsParams:
    """The first diagnostics of ``uri`` published after the first ``after`` messages."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        for params in client.published[after:]:  # type: ignore[attr-defined]
            if params.uri == uri:
                return params
        await asyncio.sleep(0.01)
    raise AssertionError(f"no new diagnostics for {uri}")


def _errors(params: types.PublishDiagnosticsParams) -> list[types.Diagnostic]:
    return [d for d in params.diagnostics if d.severity == types.DiagnosticSeverity.Error]


async def test_server_reports_a_section_error_with_the_root_declaration(lsp: LanguageClient, paper: Path):
    await lsp.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=paper.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=paper.as_uri(), name="paper")],
        )
    )
    method, main = paper / "sections" / "method.tex", paper / "main.tex"
    lsp.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=method.as_uri(), language_id="latex", version=1, text=METHOD)))  # fmt: skip
    params = await _next(lsp, method.as_uri(), 0)
    (err,) = _errors(params)
    assert err.code == "shape/matmul" and err.range.start.line == 1
    (info,) = err.related_information
    assert info.location.uri == main.as_uri() and info.location.range.start.line == 4

    # The server asked to watch the project's files; a change on disk re-checks the section.
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not lsp.registrations and asyncio.get_running_loop().time() < deadline:  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
    (reg,) = lsp.registrations  # type: ignore[attr-defined]
    assert reg.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    main.write_text(MAIN.replace("n\\times p", "n\\times n"), encoding="utf-8")
    seen = len(lsp.published)  # type: ignore[attr-defined]
    lsp.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        changes=[types.FileEvent(uri=main.as_uri(), type=types.FileChangeType.Changed)]))  # fmt: skip
    assert _errors(await _next(lsp, method.as_uri(), seen)) == []

    # An edit of the open root re-checks the open section.
    lsp.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=main.as_uri(), language_id="latex", version=1, text=main.read_text())))  # fmt: skip
    await _next(lsp, main.as_uri(), seen)
    seen = len(lsp.published)  # type: ignore[attr-defined]
    lsp.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=main.as_uri(), version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=MAIN)]))  # fmt: skip
    assert len(_errors(await _next(lsp, method.as_uri(), seen))) == 1
