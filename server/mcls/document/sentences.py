"""The sentence a math region stands in: the prose before and after it, with markup and
inline math removed, for the words that change what its math means ("if $AB = BA$",
"for conformable matrices", "…, when $A$ and $B$ commute")."""

from __future__ import annotations

import re
from functools import lru_cache

# A sentence starts after . ! ? ; (not the dot of i.e., e.g., cf.), a blank line or \item.
_SENTENCE_START = re.compile(r"(?<!\bi\.e)(?<!\be\.g)(?<!\bcf)(?<!\bviz)(?<!\bresp)(?<!\bvs)[.!?;]\s|\n[ \t]*\n"
                             r"|\\(?:item|section|subsection|paragraph)\b|\\\\")
# Markup is not prose: `\begin{equation}` is no "equation", `$x \ne 0$` no "not".
_MARKUP = re.compile(r"\\(?:begin|end|label|ref|eqref|cite\w*|usepackage)\s*\{[^{}]*\}|\\[A-Za-z@]+|\$[^$]*\$")


def sentence_around(text: str, region) -> tuple[str, str]:
    """(prose of the sentence before the region, prose after it up to the sentence's end)."""
    return _around(text[max(0, region.outer_start - 240):region.outer_start], text[region.outer_end:region.outer_end + 160])


@lru_cache(maxsize=1 << 15)  # asked for regions on every keystroke
def _around(before: str, after: str) -> tuple[str, str]:
    m = None
    for m in _SENTENCE_START.finditer(before):
        pass
    head = before[m.end():] if m else before
    end = _SENTENCE_START.search(after)
    tail = after[:end.start()] if end else after
    return _MARKUP.sub(" ", head), _MARKUP.sub(" ", tail)
