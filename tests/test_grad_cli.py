"""`mcls grad` contract: JSON shape, and the NumPy code it prints computes the
derivative (checked against central finite differences, not against strings)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from mcls.grad_cli import compute
from mcls.render.numpy_code import compile_numpy_function


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcls", "grad", *argv], capture_output=True, text=True, timeout=60)


def test_json_contract_for_a_scalar_gradient():
    p = run_cli(r"\operatorname{tr}(AXB)", "--wrt", "X", "--where", r"A \in \mathbb{R}^{p\times n}",
                "--where", r"X \in \mathbb{R}^{n\times m}", "--where", r"B \in \mathbb{R}^{m\times p}", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["kind"] == "scalar"
    assert [a["latex"] for a in out["arguments"]] == ["A", "X", "B"]
    assert out["arguments"][1]["shape"] == ["n", "m"]
    assert out["verified"]["ok"] is True and out["verified"]["trials"] >= 1
    g = compile_numpy_function(out["gradient"]["numpy"])
    rng = np.random.default_rng(1)
    A, X, B = rng.normal(size=(2, 3)), rng.normal(size=(3, 5)), rng.normal(size=(5, 2))
    f = lambda X: np.trace(A @ X @ B)  # noqa: E731
    h = 1e-6
    fd = np.zeros_like(X)
    for idx in np.ndindex(*X.shape):
        E = np.zeros_like(X)
        E[idx] = h
        fd[idx] = (f(X + E) - f(X - E)) / (2 * h)
    assert np.allclose(g(A, X, B), fd, atol=1e-6)


def test_seed_gram_component_and_its_numpy_code():
    out = compute("M = AXX^\\top A^\\top", "X", [r"A \in \mathbb{R}^{n\times n}", r"X \in \mathbb{R}^{n\times m}"], [])
    assert out["kind"] == "matrix"
    assert "E_{ji}" in out["component"]["latex"]
    comp = compile_numpy_function(out["component"]["numpy"])
    rng = np.random.default_rng(2)
    A, X = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    M = lambda X: A @ X @ X.T @ A.T  # noqa: E731
    h = 1e-6
    for i, j in [(0, 0), (2, 1), (1, 0)]:
        E = np.zeros_like(X)
        E[i, j] = h
        fd = (M(X + E) - M(X - E)) / (2 * h)
        assert np.allclose(comp(A, X, i, j), fd, atol=1e-6)


def test_seed_hadamard_component():
    out = compute(r"(\mathbf{X}\odot\mathbf{A})\mathbf{1}_p", r"\mathbf{A}", [r"\mathbf{X}, \mathbf{A} \in \mathbb{R}^{n\times p}"], [])
    assert out["kind"] == "vector" and out["verified"]["ok"]
    comp = compile_numpy_function(out["component"]["numpy"])
    rng = np.random.default_rng(3)
    X, A = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    names = [a["name"] for a in out["arguments"]]
    args = {"X": X, "A": A}
    got = comp(*[args[n.rstrip("_bf")] if n.rstrip("_bf") in args else args[n[0]] for n in names], 1, 2)
    want = np.zeros((3, 1))
    want[1, 0] = X[1, 2]  # x_ij e_i, as the seed answer says
    assert np.allclose(got, want)


def test_errors_exit_1_with_one_line():
    p = run_cli("A X", "--wrt", "X", "--where", r"A \in \mathbb{R}^{n\times n}", "--where", r"X \in \mathbb{R}^{m\times n}")
    assert p.returncode == 1 and "shape/matmul" in p.stderr and "Traceback" not in p.stderr
    p = run_cli("A X^{", "--wrt", "X")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    p = run_cli("A X", "--wrt", "Y", "--where", r"A, X \in \mathbb{R}^{n\times n}")
    assert p.returncode == 1 and "Traceback" not in p.stderr
