"""The real mcls server with a stand-in analysis, to test the protocol glue.

The stand-in reports an error on every ``BAD`` and a warning on every ``MEH``,
raises on ``CRASH``, and hovers the word under the cursor.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

import mcls.analysis
from mcls.lsp.server import serve
from mcls.problems import Problem, Related, Severity


@dataclass
class Hover:
    span: tuple[int, int]
    markdown: str


def check_document(text: str, language: str, path: str | None = None) -> list[Problem]:
    if "CRASH" in text:
        raise RuntimeError("stand-in analysis crashed")
    problems = []
    for m in re.finditer(r"BAD|MEH", text):
        problems.append(
            Problem(
                code=f"test/{m.group().lower()}",
                message=f"found {m.group()} in {language}",
                span=m.span(),
                severity=Severity.ERROR if m.group() == "BAD" else Severity.WARNING,
                related=(Related(span=(0, 1), message="first character"),),
            )
        )
    if "WILD" in text:  # spans outside the document must be clamped
        problems.append(Problem(code="test/wild", message="wild", span=(-3, len(text) + 50)))
    return problems


def hover(text: str, language: str, offset: int, options=None, path=None) -> Hover | None:
    if "BOOM" in text:
        raise RuntimeError("stand-in hover crashed")
    for m in re.finditer(r"\w+", text):
        if m.start() <= offset < m.end():
            return Hover(span=m.span(), markdown=f"**{m.group()}** in {language}")
    return None


mcls.analysis.check_document = check_document
mcls.analysis.check_document_cached = check_document
mcls.analysis.hover = hover

if __name__ == "__main__":
    serve()
    sys.exit(0)
