"""Generate a realistic, deterministic LaTeX paper with a given number of math regions.

    python bench/gen_paper.py [--regions 2000] [--seed 0] [-o paper.tex]

The paper has a preamble with user macros (``\\R``, ``\\tr``, ``\\bx``), sections
of prose with inline declarations (``$\\mathbf{X} \\in \\mathbb{R}^{n\\times p}$``),
inline expressions, ``equation``/``\\[ \\]`` displays and ``align`` blocks with
derivations (``M = AXX^\\top A^\\top``, ``f = \\operatorname{tr}(AXB)``, gradients,
log-determinants, Hadamard and Kronecker products, norms). About one equation in
two hundred has a deliberate shape error, as drafts do.

Every region counts once: an ``align`` with three lines is one region, as mcls
sees it. ``generate()`` returns the text and the exact number of regions.
"""

from __future__ import annotations

import argparse
import random
import sys

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage{amsmath,amssymb,bm}
\newcommand{\R}{\mathbb{R}}
\newcommand{\bx}{\mathbf{x}}
\newcommand{\by}{\mathbf{y}}
\DeclareMathOperator{\tr}{tr}
\DeclareMathOperator{\diag}{diag}
\title{Matrix Differentials for Second-Order Models}
\author{A. Author \and B. Author}
\begin{document}
\maketitle

\begin{abstract}
We derive gradients and Hessians of trace, determinant and norm objectives that
appear in linear models, covariance estimation and neural network layers, and
we collect the shape conventions used throughout.
\end{abstract}
"""

POSTAMBLE = r"""
\section{Conclusion}
All derivatives above follow from the product rule for differentials and the
cyclic property of the trace.
\end{document}
"""

# Shapes used throughout: A m×n, X n×p, B p×m, W n×n, S n×n (SPD), x n, y m, c p.
DECLS = [
    r"\mathbf{X} \in \mathbb{R}^{n\times p}",
    r"\mathbf{A} \in \mathbb{R}^{m\times n}",
    r"\mathbf{B} \in \mathbb{R}^{p\times m}",
    r"\mathbf{W} \in \mathbb{R}^{n\times n}",
    r"\Sigma \in \mathbb{R}^{n\times n}",
    r"\bx \in \R^{n}",
    r"\by \in \R^{m}",
    r"\mathbf{c} \in \mathbb{R}^{p}",
    r"\lambda \in \mathbb{R}",
    r"\mathbf{Y} \in \mathbb{R}^{n\times p}",
    r"\mathbf{D} \in \R^{p\times p}",
]

INLINE_SYMBOLS = [
    r"\mathbf{X}", r"\mathbf{A}", r"\mathbf{B}", r"\mathbf{W}", r"\Sigma", r"\bx", r"\by",
    r"\lambda", r"n", r"p", r"\mathbf{Y}", r"\mathbf{X}^\top", r"\Sigma^{-1}",
]

INLINE_EXPRS = [
    r"\mathbf{A}\mathbf{X}",
    r"\mathbf{X}^\top \mathbf{X}",
    r"\mathbf{X}\mathbf{X}^\top",
    r"\mathbf{A}\bx",
    r"\by - \mathbf{A}\bx",
    r"\bx^\top \mathbf{W} \bx",
    r"\tr(\mathbf{A}\mathbf{X}\mathbf{B})",
    r"\operatorname{tr}(\mathbf{X}^\top \mathbf{X})",
    r"\log\det\Sigma",
    r"\mathbf{X} \odot \mathbf{Y}",
    r"\|\mathbf{X}\|_F^2",
    r"\Sigma^{-1}\bx",
    r"\mathbf{W} + \mathbf{W}^\top",
    r"d\mathbf{X}",
    r"\mathbf{X}\mathbf{D}\mathbf{X}^\top",
]

EQUATIONS = [
    r"\mathbf{M} = \mathbf{A}\mathbf{X}\mathbf{X}^\top \mathbf{A}^\top",
    r"f = \operatorname{tr}(\mathbf{A}\mathbf{X}\mathbf{B})",
    r"f(\mathbf{X}) = \tr(\mathbf{A}\mathbf{X}\mathbf{B})",
    r"\frac{\partial f}{\partial \mathbf{X}} = \mathbf{A}^\top \mathbf{B}^\top",
    r"g(\bx) = \bx^\top \mathbf{W} \bx",
    r"\nabla_{\bx} g = (\mathbf{W} + \mathbf{W}^\top)\bx",
    r"\ell = \|\by - \mathbf{A}\bx\|_2^2",
    r"\nabla_{\bx} \ell = 2\mathbf{A}^\top(\mathbf{A}\bx - \by)",
    r"h(\Sigma) = \log\det\Sigma + \bx^\top \Sigma^{-1} \bx",
    r"\mathbf{G} = \mathbf{X}^\top \mathbf{X} + \lambda \mathbf{I}",
    r"\mathbf{H} = \mathbf{X} \odot \mathbf{Y}",
    r"\mathbf{K} = \mathbf{D} \otimes \mathbf{W}",
    r"\mathbf{z} = \sigma(\mathbf{W}\bx)",
    r"q = \mathbf{c}^\top \mathbf{X}^\top \mathbf{W} \mathbf{X} \mathbf{c}",
    r"r = \left\| \mathbf{X}\mathbf{c} \right\|_2",
    r"\mathbf{P} = \mathbf{X}(\mathbf{X}^\top \mathbf{X})^{-1}\mathbf{X}^\top",
    r"s = \operatorname{tr}(\mathbf{X}^\top \mathbf{W} \mathbf{X} \mathbf{D})",
    r"\mathbf{T} = \mathbf{A}^\top \mathbf{B}^\top",
]

ALIGNS = [
    [
        r"d\mathbf{M} &= \mathbf{A}\,d\mathbf{X}\,\mathbf{X}^\top \mathbf{A}^\top + \mathbf{A}\mathbf{X}\,d\mathbf{X}^\top \mathbf{A}^\top",
        r"\frac{\partial \mathbf{M}}{\partial X_{ij}} &= \mathbf{A}(E_{ij}\mathbf{X}^\top + \mathbf{X}E_{ji})\mathbf{A}^\top",
    ],
    [
        r"df &= \operatorname{tr}(\mathbf{A}\,d\mathbf{X}\,\mathbf{B})",
        r"&= \operatorname{tr}(\mathbf{B}\mathbf{A}\,d\mathbf{X})",
        r"\frac{\partial f}{\partial \mathbf{X}} &= \mathbf{A}^\top \mathbf{B}^\top",
    ],
    [
        r"\ell(\bx) &= (\by - \mathbf{A}\bx)^\top(\by - \mathbf{A}\bx)",
        r"&= \by^\top\by - 2\by^\top \mathbf{A}\bx + \bx^\top \mathbf{A}^\top \mathbf{A}\bx",
        r"\nabla_{\bx}\ell &= 2\mathbf{A}^\top \mathbf{A}\bx - 2\mathbf{A}^\top \by",
    ],
    [
        r"d\log\det\Sigma &= \operatorname{tr}(\Sigma^{-1} d\Sigma)",
        r"d(\Sigma^{-1}) &= -\Sigma^{-1}\, d\Sigma\, \Sigma^{-1}",
    ],
    [
        r"\mathbf{G} &= \mathbf{X}^\top \mathbf{W} \mathbf{X}",
        r"d\mathbf{G} &= d\mathbf{X}^\top \mathbf{W} \mathbf{X} + \mathbf{X}^\top \mathbf{W}\, d\mathbf{X}",
    ],
]

# Drafts contain mistakes: a wrong transpose, a sum of different shapes.
ERRORS = [
    r"\mathbf{M} = \mathbf{A}\mathbf{X}^\top \mathbf{X}\mathbf{A}^\top",
    r"\mathbf{E} = \mathbf{X} + \mathbf{X}^\top",
    r"\mathbf{F} = \mathbf{X} \odot \mathbf{A}",
]

PROSE = [
    "The differential is linear in its argument, so the terms can be treated one at a time.",
    "By the cyclic property of the trace the expression can be rearranged freely.",
    "This quantity appears in the normal equations of least squares.",
    "We write the objective in a form that exposes its dependence on the parameters.",
    "Note that the result has the same shape as the variable it is taken with respect to.",
    "Symmetry of the Hessian follows from the equality of mixed partial derivatives.",
    "In practice the inverse is never formed explicitly; a Cholesky factor is used instead.",
    "The same argument applies column by column.",
    "Here the product is taken elementwise.",
    "For a positive definite matrix the log-determinant is concave.",
]


def _sentence(rng: random.Random, regions: list[int]) -> str:
    """One prose sentence with 0-3 inline math regions."""
    k = rng.choice([0, 1, 1, 2, 2, 3])
    parts = [rng.choice(PROSE)]
    for _ in range(k):
        roll = rng.random()
        if roll < 0.35:
            parts.append(f"Let ${rng.choice(DECLS)}$ be given.")
        elif roll < 0.6:
            parts.append(f"Consider ${rng.choice(INLINE_SYMBOLS)}$ again.")
        else:
            parts.append(f"The term ${rng.choice(INLINE_EXPRS)}$ is well defined.")
        regions[0] += 1
    return " ".join(parts)


def _display(rng: random.Random, regions: list[int], label: int) -> str:
    regions[0] += 1
    roll = rng.random()
    eq = rng.choice(ERRORS) if rng.random() < 0.005 else rng.choice(EQUATIONS)
    if roll < 0.45:
        return f"\\begin{{equation}}\\label{{eq:{label}}}\n  {eq}\n\\end{{equation}}"
    if roll < 0.65:
        return f"\\[\n  {eq}.\n\\]"
    if roll < 0.75:
        return f"$$ {eq} $$"
    lines = rng.choice(ALIGNS)
    star = "*" if rng.random() < 0.5 else ""
    body = " \\\\\n  ".join(lines)
    return f"\\begin{{align{star}}}\n  {body}\n\\end{{align{star}}}"


def generate(regions: int = 2000, seed: int = 0) -> tuple[str, int]:
    """(text, number of math regions); the count is exactly ``regions``."""
    rng = random.Random(seed)
    out = [PREAMBLE]
    count = [0]
    section = 0
    label = 0
    # Global declarations first, as papers do.
    out.append("\\section{Notation}\nThroughout, " + ", ".join(f"${d}$" for d in DECLS[:8]) + ".\n")
    count[0] += 8
    while count[0] < regions:
        if rng.random() < 0.06 or section == 0:
            section += 1
            out.append(f"\n\\section{{Part {section}}}\n")
        paragraph = []
        for _ in range(rng.randint(1, 4)):
            if count[0] >= regions:
                break
            if rng.random() < 0.3:
                label += 1
                paragraph.append("\n" + _display(rng, count, label) + "\n")
            else:
                before = count[0]
                s = _sentence(rng, count)
                if count[0] > regions:  # too many inline regions: plain prose instead
                    count[0] = before
                    s = rng.choice(PROSE)
                paragraph.append(s)
        out.append(" ".join(paragraph) + "\n")
    out.append(POSTAMBLE)
    return "".join(out), count[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args(argv)
    text, n = generate(args.regions, args.seed)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        print(f"{args.output}: {n} regions, {len(text)} characters, {text.count(chr(10))} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
