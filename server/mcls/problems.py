"""Problems found by analysis: protocol-free diagnostics in document offsets."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

Span = tuple[int, int]


class Severity(IntEnum):
    # Same numbers as LSP DiagnosticSeverity, so the LSP layer can map 1:1.
    ERROR = 1
    WARNING = 2
    INFORMATION = 3
    HINT = 4


@dataclass(frozen=True)
class Related:
    span: Span
    message: str
    path: str | None = None  # None: the same document


@dataclass(frozen=True)
class Problem:
    code: str  # e.g. "shape/matmul", "parse/syntax", "claim/false"
    message: str
    span: Span  # document offsets [start, end)
    severity: Severity = Severity.ERROR
    related: tuple[Related, ...] = field(default=())
    fix: str | None = None  # replacement text for `span` that makes it right (claim/false)
