"""`mcls check --stats`: how many regions were parsed, shaped and skipped, and the claims checked."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_stats_report_coverage_per_file_and_total():
    p = subprocess.run([sys.executable, "-m", "mcls", "check", "--stats", "examples/gram.tex", "examples/hadamard.md"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("mcls: ")]
    assert any(ln.startswith("mcls: examples/gram.tex: 9 regions, 9 parsed,") for ln in lines), lines
    total = next(ln for ln in lines if ln.startswith("mcls: total:"))
    assert "17 regions, 17 parsed" in total and "0 skipped" in total


def test_stats_count_the_claims_checked():
    p = subprocess.run([sys.executable, "-m", "mcls", "check", "--stats", "examples/broken.tex"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1  # broken.tex has a dimension error
    line = next(ln for ln in p.stderr.splitlines() if ln.startswith("mcls: examples/broken.tex:"))
    assert line.endswith("claims: 1 verified, 2 false"), line
