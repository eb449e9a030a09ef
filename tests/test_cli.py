"""The `mcls` command line: exit codes, output formats, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mcls
import mcls.analysis
from mcls.cli import build_parser, main
from mcls.problems import Problem, Related, Severity


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcls", *args], capture_output=True, text=True, timeout=60
    )


def fake_check(text: str, language: str, path: str | None = None) -> list[Problem]:
    """One error per 'BAD', one warning per 'MEH' (spans in code points)."""
    problems = []
    for word, sev in (("BAD", Severity.ERROR), ("MEH", Severity.WARNING)):
        start = text.find(word)
        while start >= 0:
            problems.append(
                Problem(
                    code=f"test/{word.lower()}",
                    message=f"found {word}",
                    span=(start, start + len(word)),
                    severity=sev,
                    related=(Related(span=(0, 1), message="first character"),),
                )
            )
            start = text.find(word, start + 1)
    return problems


@pytest.fixture
def fake_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mcls.analysis, "check_document", fake_check)


def test_version() -> None:
    res = run_cli("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"mcls {mcls.__version__}"


def _imported_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint([m for m in {modules!r} if m in sys.modules], file=sys.stderr)\n"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return eval(res.stderr.strip().splitlines()[-1])  # noqa: S307 - our own probe's list


def test_version_imports_nothing_heavy() -> None:
    code = "from mcls.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass"
    assert _imported_after(code, ("pygls", "lsprotocol", "sympy", "numpy", "lark", "mcls.analysis")) == []


def test_server_starts_without_the_analysis() -> None:
    """`initialize` is answered before sympy, numpy, Lark or the analysis are imported
    (they load on the worker thread afterwards): the server's start-up is pygls's own."""
    code = "from mcls.lsp.server import build_server\nbuild_server()"
    assert _imported_after(code, ("sympy", "numpy", "lark", "mcls.analysis", "mcls.parse")) == []


def test_no_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2


def test_check_without_files_is_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 2


def test_check_clean_file(tmp_path: Path) -> None:
    doc = tmp_path / "clean.tex"
    doc.write_text("Let $x \\in \\mathbb{R}^n$.\n", encoding="utf-8")
    res = run_cli("check", str(doc))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert "Traceback" not in res.stderr


def test_check_clean_markdown_stats(tmp_path: Path) -> None:
    doc = tmp_path / "clean.md"
    doc.write_text("Let $x$ be given.\n", encoding="utf-8")
    res = run_cli("check", "--stats", str(doc))
    assert res.returncode == 0, res.stderr
    assert "checked 1 of 1 files" in res.stderr


def test_check_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tex"
    res = run_cli("check", str(missing))
    assert res.returncode == 2
    assert res.stderr.strip() == f"mcls: cannot read {missing}: No such file or directory"


def test_check_directory(tmp_path: Path) -> None:
    res = run_cli("check", str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.startswith(f"mcls: cannot read {tmp_path}: ")
    assert len(res.stderr.strip().splitlines()) == 1


def test_check_non_utf8(tmp_path: Path) -> None:
    doc = tmp_path / "latin1.tex"
    doc.write_bytes("$\u00e9$\n".encode("latin-1"))
    res = run_cli("check", str(doc))
    assert res.returncode == 2
    assert res.stderr.strip() == f"mcls: cannot read {doc}: not valid UTF-8 (byte 0xe9 at offset 1)"


def test_unreadable_file_does_not_hide_others(tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text("$x$\n", encoding="utf-8")
    res = run_cli("check", "--format", "json", str(tmp_path / "missing.md"), str(good))
    assert res.returncode == 2
    assert json.loads(res.stdout) == []


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def test_text_format_and_exit_code(tmp_path: Path, fake_analysis: None, capsys: pytest.CaptureFixture[str]) -> None:
    # U+1D431 (math bold x) is 2 UTF-16 units: BAD starts at code point 5, UTF-16 column 6.
    path = write(tmp_path, "a.tex", "line\n\U0001d431 $ BAD MEH\n")
    assert main(["check", path]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{path}:2:6: error[test/bad]: found BAD",
        f"{path}:1:1: note: first character",
        f"{path}:2:10: warning[test/meh]: found MEH",
        f"{path}:1:1: note: first character",
    ]


def test_warnings_only_exit_zero(tmp_path: Path, fake_analysis: None, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "w.md", "MEH\n")
    assert main(["check", path]) == 0
    assert "warning[test/meh]" in capsys.readouterr().out


def test_bom_is_dropped(tmp_path: Path, fake_analysis: None, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bom.tex", "\ufeffBAD\n")
    assert main(["check", path]) == 1
    assert capsys.readouterr().out.startswith(f"{path}:1:1: error[test/bad]")


def test_json_format(tmp_path: Path, fake_analysis: None, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "a.tex", "line\r\n\U0001d431 $ BAD\n")
    assert main(["check", "--format", "json", path]) == 1
    items = json.loads(capsys.readouterr().out)
    assert items == [
        {
            "file": path,
            "range": {"start": {"line": 1, "character": 5}, "end": {"line": 1, "character": 8}},
            "severity": "error",
            "code": "test/bad",
            "message": "found BAD",
        }
    ]


def test_sarif_format(tmp_path: Path, fake_analysis: None, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "a.md", "x\nBAD MEH\n")
    assert main(["check", "--format", "sarif", path]) == 1
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "mcls"
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {"test/bad", "test/meh"}
    first, second = run["results"]
    assert first["ruleId"] == "test/bad"
    assert first["level"] == "error"
    assert first["message"]["text"] == "found BAD"
    loc = first["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == Path(path).resolve().as_uri()
    assert loc["region"] == {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 4}
    assert second["level"] == "warning"
    assert first["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_out_of_range_spans_are_clamped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def wild(text: str, language: str, path: str | None = None) -> list[Problem]:
        return [Problem(code="test/wild", message="m", span=(-5, 10_000))]

    monkeypatch.setattr(mcls.analysis, "check_document", wild)
    path = write(tmp_path, "a.tex", "ab\ncd")
    assert main(["check", "--format", "json", path]) == 1
    (item,) = json.loads(capsys.readouterr().out)
    assert item["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 2}}


def test_analysis_crash_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(text: str, language: str, path: str | None = None) -> list[Problem]:
        raise ValueError("kaput")

    monkeypatch.setattr(mcls.analysis, "check_document", boom)
    path = write(tmp_path, "a.tex", "$x$")
    assert main(["check", path]) == 2
    assert "internal error while checking" in capsys.readouterr().err


def test_grad_arguments() -> None:
    args = build_parser().parse_args(
        ["grad", r"\operatorname{tr}(X^\top A X)", "--wrt", "X",
         "--where", r"X \in \mathbb{R}^{n\times p}", "--where", r"A \in \mathbb{R}^{n\times n}",
         "--assume", "A=symmetric", "--json", "--layout", "numerator"]
    )
    assert args.command == "grad"
    assert args.expr == r"\operatorname{tr}(X^\top A X)"
    assert args.wrt == "X"
    assert args.where == [r"X \in \mathbb{R}^{n\times p}", r"A \in \mathbb{R}^{n\times n}"]
    assert args.assume == ["A=symmetric"]
    assert args.json is True
    assert args.layout == "numerator"
    defaults = build_parser().parse_args(["grad", "x", "--wrt", "x"])
    assert (defaults.where, defaults.assume, defaults.json, defaults.layout) == ([], [], False, "denominator")


def test_serve_tcp_argument() -> None:
    assert build_parser().parse_args(["serve", "--tcp", "127.0.0.1:2087"]).tcp == ("127.0.0.1", 2087)
    assert build_parser().parse_args(["serve", "--tcp", "[::1]:2087"]).tcp == ("::1", 2087)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--tcp", "localhost"])


def test_check_verified_lists_the_claims_that_hold(tmp_path: Path) -> None:
    f = tmp_path / "ids.md"
    f.write_text("Let $A, B \\in \\mathbb{R}^{n\\times n}$. We have $(AB)^\\top = B^\\top A^\\top$.\n", encoding="utf-8")
    assert run_cli("check", str(f)).stdout == ""
    res = run_cli("check", "--verified", str(f))
    assert res.returncode == 0
    assert f"{f}:1:61: information[claim/verified]: this identity is right" in res.stdout
