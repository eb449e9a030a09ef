"""Inlay hints: the shape after the left-hand side of each display formula
(`M : n×n = …`). Off by default (setting `mcls.inlayHints.shapes`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis import DocumentAnalysis


@dataclass(frozen=True)
class Hint:
    offset: int  # document offset the hint is shown at
    label: str


def shape_hints(doc: DocumentAnalysis, start: int, end: int) -> list[Hint]:
    out: list[Hint] = []
    for ra in doc.regions:
        r = ra.region
        if r.outer_end < start or r.outer_start > end or not r.display or ra.shapes is None:
            continue
        for st in ra.statements:
            if not st.ops or st.ops[0] not in ("=", ":=", "\\approx") or len(st.parts) < 2:
                continue
            lhs = st.parts[0]
            if lhs.span is None:
                continue
            shape = ra.shape_of(lhs) or ra.shape_of(st.parts[1])
            if shape is None:
                continue
            label = ra.shapes.show(shape)
            if "?" in label:
                continue
            out.append(Hint(r.start + lhs.span[1], f": {label}"))
    return out
