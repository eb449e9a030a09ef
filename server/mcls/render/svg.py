"""Typeset hover images: LaTeX -> SVG data URI through ziamath (pure Python, no TeX).

VS Code does not render `$…$` math in hovers but shows SVG `data:` images.
ziamath is imported on the first hover that needs it (≈0.2 s) and every formula
is rendered once (≈25 ms) then cached. The image gets its own light background
with dark ink unless the client told us a colour, so it is legible on any theme.
"""

from __future__ import annotations

import base64
import logging
import re
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=512)
def svg_data_uri(latex: str, color: str | None = None, size: float = 16.0) -> str | None:
    """A `data:image/svg+xml;base64,…` URI, or None when ziamath cannot typeset it."""
    try:
        import ziamath

        svg = ziamath.Latex(_for_ziamath(latex), size=size, color=color or "#1b1b1b", margin=6).svg()  # margin: VS Code clipped the last subscript
    except Exception:  # noqa: BLE001 - a hover falls back to Unicode, never fails
        log.debug("ziamath could not render %r", latex, exc_info=True)
        return None
    if color is None:
        svg = _with_background(svg, "#fdfdfd")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _for_ziamath(latex: str) -> str:
    # ziamath lacks a few amsmath spellings papers use
    s = latex.replace(r"\operatorname{", r"\mathrm{").replace(r"\intercal", r"\top")
    s = re.sub(r"\\lvert|\\rvert", "|", s)
    s = re.sub(r"\\lVert|\\rVert", r"\\|", s)
    return s


def _with_background(svg: str, fill: str) -> str:
    m = re.search(r'viewBox="([-0-9.]+) ([-0-9.]+) ([-0-9.]+) ([-0-9.]+)"', svg)
    if not m:
        return svg
    x, y, w, h = m.groups()
    rect = f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" rx="3"/>'
    at = svg.index(">", m.end()) + 1
    return svg[:at] + rect + svg[at:]
