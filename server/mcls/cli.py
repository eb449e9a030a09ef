"""Command line: ``mcls serve | check | grad``.

Imports of the analysis and the LSP stack happen inside the subcommands, so
``mcls --version`` and ``mcls --help`` stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcls import __version__

if TYPE_CHECKING:
    from mcls.problems import Problem

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2

_SEVERITY_NAMES = {1: "error", 2: "warning", 3: "information", 4: "hint"}
_SARIF_LEVELS = {1: "error", 2: "warning", 3: "note", 4: "note"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(args.run(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcls",
        description="Matrix calculus language server: shape checks and derivatives "
        "for the math in LaTeX and Markdown documents.",
    )
    parser.add_argument("--version", action="version", version=f"mcls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", type=_host_port, help="listen on TCP instead of stdio")
    serve.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level for messages on stderr (default: WARNING)",
    )
    serve.set_defaults(run=_cmd_serve)

    check = sub.add_parser(
        "check",
        help="check documents and print problems",
        description="Check the math in .tex and .md files. Text output is "
        "FILE:LINE:COL with 1-based lines and 1-based columns counted in UTF-16 "
        "code units (as LSP clients and SARIF do); JSON uses LSP's 0-based "
        "UTF-16 positions. Exit status: 0 no errors, 1 errors found, 2 usage "
        "error or unreadable file.",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--format", choices=["text", "json", "sarif"], default="text")
    check.add_argument("--stats", action="store_true", help="print a summary on stderr")
    check.add_argument("--verified", action="store_true",
                       help="also list the derivatives and identities the document states that mcls verified (claim/verified)")
    check.set_defaults(run=_cmd_check)

    grad = sub.add_parser("grad", help="differentiate a matrix expression")
    grad.add_argument("expr", metavar="EXPR", help="LaTeX expression, e.g. 'tr(X^T A X)'")
    grad.add_argument("--wrt", required=True, metavar="V", help="variable to differentiate by")
    grad.add_argument(
        "--where", action="append", default=[], metavar="DECL",
        help=r"declaration, e.g. 'X \in \mathbb{R}^{n \times p}' (repeatable)",
    )
    grad.add_argument(
        "--assume", action="append", default=[], metavar="NAME=KIND",
        help="assumption, e.g. A=symmetric (repeatable)",
    )
    grad.add_argument("--json", action="store_true", help="machine-readable output")
    grad.add_argument("--layout", choices=["denominator", "numerator"], default="denominator")
    grad.set_defaults(run=_cmd_grad)
    return parser


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)  # [::1]:2087 -> ::1


# ---------------------------------------------------------------- serve


def _cmd_serve(args: argparse.Namespace) -> int:
    from mcls.lsp.server import serve

    serve(tcp=args.tcp, log_level=args.log_level)
    return EXIT_OK


# ---------------------------------------------------------------- grad


def _cmd_grad(args: argparse.Namespace) -> int:
    import importlib

    try:
        grad_cli = importlib.import_module("mcls.grad_cli")  # written separately; optional
    except ModuleNotFoundError as exc:
        if exc.name != "mcls.grad_cli":
            raise  # a real bug inside grad_cli: let it show
        print("mcls grad: not implemented yet", file=sys.stderr)
        return EXIT_USAGE
    return int(grad_cli.run(args))


# ---------------------------------------------------------------- check


class _Located:
    """A document's text with its line index, to turn offsets into positions."""

    def __init__(self, path: str, text: str) -> None:
        from mcls.document.text import LineIndex

        self.path, self.text, self.index = path, text, LineIndex(text)

    def position(self, offset: int) -> tuple[int, int]:
        """0-based (line, UTF-16 column), offset clamped into the document."""
        return self.index.offset_to_position(min(max(offset, 0), len(self.text)))

    def range(self, span: tuple[int, int]) -> dict[str, dict[str, int]]:
        start = min(max(span[0], 0), len(self.text))
        end = min(max(span[1], start), len(self.text))
        (l0, c0), (l1, c1) = self.position(start), self.position(end)
        return {"start": {"line": l0, "character": c0}, "end": {"line": l1, "character": c1}}


def read_document(path: str) -> str:
    """UTF-8 text (a BOM is dropped, as editors do), line endings kept as-is."""
    with open(path, "rb") as f:
        data = f.read()
    return data.decode("utf-8-sig")


def _read_error(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _cmd_check(args: argparse.Namespace) -> int:
    import time

    from mcls.document.regions import language_for

    global _PROJECT
    _PROJECT = None  # one project per run: it looks below the current directory
    started = time.perf_counter()
    status = EXIT_OK
    checked: list[tuple[_Located, list[Problem]]] = []
    for path in args.files:
        try:
            text = read_document(path)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"mcls: cannot read {path}: {_read_error(exc)}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        language = language_for(None, path)
        if not language:
            print(f"mcls: cannot check {path}: not a LaTeX (.tex) or Markdown (.md) file", file=sys.stderr)
            status = EXIT_USAGE
            continue
        try:
            problems = _analyse(text, language, path, args.verified)
        except Exception as exc:  # an analysis bug must not hide the other files' results
            print(f"mcls: internal error while checking {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            if os.environ.get("MCLS_DEBUG"):
                import traceback

                traceback.print_exc()
            status = EXIT_USAGE
            continue
        checked.append((_Located(path, text), problems))

    render = {"text": _render_text, "json": _render_json, "sarif": _render_sarif}[args.format]
    out = render(checked)
    if out:
        sys.stdout.write(out)
    if args.stats:
        _print_stats(checked, len(args.files), time.perf_counter() - started)
        _print_coverage(checked)
    has_errors = any(int(p.severity) == 1 for _, ps in checked for p in ps)
    if status == EXIT_OK and has_errors:
        status = EXIT_ERRORS
    return status


_PROJECT: Any = None


def _context(text: str, language: str, path: str) -> Any:
    """Macros and declarations from the other files of the file's LaTeX project (its root
    found by `% !TEX root` or by the file that \\inputs it, within the current directory)."""
    global _PROJECT
    if language != "latex":
        return None
    from mcls.document.project import Project

    if _PROJECT is None:
        _PROJECT = Project([os.getcwd()])
    path = os.path.abspath(path)
    top = _repository_root(path)
    if top is not None and top not in _PROJECT._folders:
        _PROJECT._folders.append(top)
    try:
        return _PROJECT.context_for(path, text)
    except Exception:  # noqa: BLE001 - the file is still checked on its own
        if os.environ.get("MCLS_DEBUG"):
            raise
        return None


def _repository_root(path: str) -> str | None:
    """The nearest directory above ``path`` holding .git or .latexmkrc (the project's folder
    when the command runs in a subdirectory)."""
    d = os.path.dirname(path)
    for _ in range(32):
        if os.path.exists(os.path.join(d, ".git")) or os.path.exists(os.path.join(d, ".latexmkrc")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
    return None


def _analyse(text: str, language: str, path: str, verified: bool = False) -> list[Problem]:
    from mcls.analysis import analyze_cached, check_document

    context = _context(text, language, path)
    problems = check_document(text, language, path) if context is None else check_document(text, language, path, context=context)
    if verified:  # the same cached analysis
        problems = problems + analyze_cached(text, language, path, context=context).verified
    return sorted(problems, key=lambda p: (p.span, int(p.severity), p.code))


def _render_text(checked: list[tuple[_Located, list[Problem]]]) -> str:
    lines = []
    for doc, problems in checked:
        for p in problems:
            line, col = doc.position(p.span[0])
            sev = _SEVERITY_NAMES.get(int(p.severity), "error")
            lines.append(f"{doc.path}:{line + 1}:{col + 1}: {sev}[{p.code}]: {p.message}")
            for rel in p.related:
                where = doc if rel.path is None or rel.path == doc.path else _other_document(rel.path)
                if where is not None:
                    rl, rc = where.position(rel.span[0])
                    lines.append(f"{where.path}:{rl + 1}:{rc + 1}: note: {rel.message}")
    return "".join(line + "\n" for line in lines)


def _other_document(path: str) -> _Located | None:
    """Another file of the project (related information), shown relative to the current
    directory when it is below it."""
    try:
        text = read_document(path)
    except (OSError, UnicodeDecodeError):
        return None
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return _Located(path if rel.startswith("..") else rel, text)


def _render_json(checked: list[tuple[_Located, list[Problem]]]) -> str:
    import json

    items = [
        {
            "file": doc.path,
            "range": doc.range(p.span),
            "severity": _SEVERITY_NAMES.get(int(p.severity), "error"),
            "code": p.code,
            "message": p.message,
        }
        for doc, problems in checked
        for p in problems
    ]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def _sarif_uri(path: str) -> str:
    from pathlib import Path
    from urllib.parse import quote

    p = Path(path)
    return p.resolve().as_uri() if p.is_absolute() else quote(p.as_posix())


def _sarif_region(doc: _Located, span: tuple[int, int]) -> dict[str, int]:
    r = doc.range(span)  # SARIF: 1-based, endColumn exclusive, UTF-16 units
    return {
        "startLine": r["start"]["line"] + 1,
        "startColumn": r["start"]["character"] + 1,
        "endLine": r["end"]["line"] + 1,
        "endColumn": r["end"]["character"] + 1,
    }


def _render_sarif(checked: list[tuple[_Located, list[Problem]]]) -> str:
    import json

    results: list[dict[str, Any]] = []
    rules: dict[str, dict[str, str]] = {}
    for doc, problems in checked:
        uri = _sarif_uri(doc.path)
        for p in problems:
            rules.setdefault(p.code, {"id": p.code})
            result: dict[str, Any] = {
                "ruleId": p.code,
                "level": _SARIF_LEVELS.get(int(p.severity), "error"),
                "message": {"text": p.message},
                "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": _sarif_region(doc, p.span)}}
                ],
            }
            related = [
                {
                    "id": i,
                    "message": {"text": rel.message},
                    "physicalLocation": {"artifactLocation": {"uri": uri}, "region": _sarif_region(doc, rel.span)},
                }
                for i, rel in enumerate(p.related)
                if rel.path is None or rel.path == doc.path
            ]
            if related:
                result["relatedLocations"] = related
            results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "mcls", "version": __version__, "rules": list(rules.values())}},
                "columnKind": "utf16CodeUnits",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _print_coverage(checked: list[tuple[_Located, list[Problem]]]) -> None:
    """Regions parsed, shaped and skipped, and the claims checked, per file and in total."""
    from mcls.analysis import analyze_cached, coverage
    from mcls.document.regions import language_for

    tot = [0, 0, 0, 0, 0, 0]
    for loc, _ in checked:
        try:
            language = language_for(None, loc.path) or "latex"
            # the analysis `check` just made (same text and project context): a cache hit
            doc = analyze_cached(loc.text, language, loc.path, _context(loc.text, language, loc.path))
            c = coverage(doc)
        except Exception:  # noqa: BLE001 - stats never fail the run
            continue
        claims = (len(doc.verified), sum(p.code == "claim/false" for p in doc.problems))
        for k, v in enumerate((c.regions, c.parsed, c.shaped, c.skipped, *claims)):
            tot[k] += v
        print(f"mcls: {loc.path}: {c.regions} regions, {c.parsed} parsed, {c.shaped} shaped, {c.skipped} skipped; "
              f"claims: {claims[0]} verified, {claims[1]} false", file=sys.stderr)
    if len(checked) > 1:
        print(f"mcls: total: {tot[0]} regions, {tot[1]} parsed, {tot[2]} shaped, {tot[3]} skipped; "
              f"claims: {tot[4]} verified, {tot[5]} false", file=sys.stderr)


def _print_stats(checked: list[tuple[_Located, list[Problem]]], requested: int, seconds: float) -> None:
    counts = {name: 0 for name in _SEVERITY_NAMES.values()}
    for _, problems in checked:
        for p in problems:
            counts[_SEVERITY_NAMES.get(int(p.severity), "error")] += 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    print(
        f"mcls: checked {len(checked)} of {requested} files in {seconds * 1000:.0f} ms: {summary}",
        file=sys.stderr,
    )
