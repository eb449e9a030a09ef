"""texlab-style fixtures: a document with a cursor marker `|` (``$0``) and ranges."""

from __future__ import annotations


def cursor(doc: str, marker: str = "$0") -> tuple[str, int]:
    """Remove the marker; return (text, offset of the marker)."""
    at = doc.index(marker)
    return doc[:at] + doc[at + len(marker) :], at


def span_of(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    return at, at + len(needle)
