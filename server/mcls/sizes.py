"""Symbolic sizes (``n``, ``p``, ``n+1``, ``2n``) and their unification.

Sizes are sympy expressions; sympy is imported on first use so the server
starts fast. Unknown sizes (an undeclared symbol, ``I`` without a subscript,
``E_{ij}``) are fresh symbols ``_u1, _u2, ...`` that unification binds. Two
distinct *declared* size symbols are presumed different unless the document
says otherwise (``where $m = n$``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_sympy = None


def sp():
    global _sympy
    if _sympy is None:
        import sympy

        _sympy = sympy
    return _sympy


@lru_cache(maxsize=4096)
def parse_size(text: str) -> Any:
    """``n+1`` / ``2n`` / ``n_1`` / ``\\ell`` -> sympy expression; None when unreadable."""
    s = sp()
    t = text.strip()
    while len(t) >= 2 and t[0] == "{" and t[-1] == "}" and _balanced(t[1:-1]):
        t = t[1:-1].strip()
    t = re.sub(r"\\(?:left|right|,|;|!)", "", t)
    t = t.replace("\\cdot", "*").replace("\\times", "*")
    names: dict[str, Any] = {}

    def name(m: re.Match) -> str:
        key = f"s{len(names)}"
        names[key] = s.Symbol(canonical_size_name(m.group(0)), integer=True, positive=True)
        return f" {key} "

    # a name with an optional subscript, one brace level deep: n, n_l, n_{l-1}, d_{\text{out}}, \ell_1
    t = re.sub(r"(?:\\[A-Za-z]+|[A-Za-z])(?:\s*_\s*(?:\{(?:[^{}]|\{[^{}]*\})*\}|\\[A-Za-z]+|[A-Za-z0-9]))?", name, t)
    t = re.sub(r"(\d)\s+(s\d)", r"\1*\2", t)
    t = re.sub(r"(s\d+)\s+(s\d)", r"\1*\2", t)
    t = re.sub(r"(\))\s*(\(|s\d|\d)", r"\1*\2", t)
    t = re.sub(r"(\d|s\d+)\s*\(", r"\1*(", t)
    t = t.replace("{", "(").replace("}", ")")
    if not re.fullmatch(r"[\s0-9s+\-*/()]*", t) or not t.strip():
        return None
    try:
        return s.sympify(t, locals=names)
    except Exception:  # noqa: BLE001 - any sympify failure means "not a size"
        return None


def _balanced(t: str) -> bool:
    depth = 0
    for c in t:
        depth += c == "{"
        depth -= c == "}"
        if depth < 0:
            return False
    return depth == 0


def canonical_size_name(raw: str) -> str:
    """One spelling per size symbol: ``n_{l}`` and ``n_l`` are the same size, spaces do not count."""
    raw = re.sub(r"\s+", "", raw)
    return re.sub(r"_\{([A-Za-z0-9])\}$", r"_\1", raw)


def one():
    return sp().Integer(1)


def is_unknown_symbol(x) -> bool:
    return getattr(x, "is_Symbol", False) and x.name.startswith("_u")


class Sizes:
    """Union-find over sizes: unknowns bind to expressions; declared symbols
    can be merged by equalities the document states."""

    def __init__(self) -> None:
        self._bind: dict[Any, Any] = {}
        self._n = 0

    def copy(self) -> "Sizes":
        out = Sizes()
        out._bind = dict(self._bind)
        out._n = self._n
        return out

    def fresh(self) -> Any:
        self._n += 1
        return sp().Symbol(f"_u{self._n}", integer=True, positive=True)

    def resolve(self, x) -> Any:
        if x is None:
            return None
        seen = 0
        while seen < 50:
            if x in self._bind:
                x = self._bind[x]
                seen += 1
                continue
            free = getattr(x, "free_symbols", ())
            hit = [f for f in free if f in self._bind]
            if not hit:
                return x
            x = x.xreplace({f: self._bind[f] for f in hit})
            seen += 1
        return x

    def merge_symbols(self, a, b) -> None:
        """The document says a = b (both declared sizes)."""
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return
        if getattr(a, "is_Symbol", False):
            self._bind[a] = b
        elif getattr(b, "is_Symbol", False):
            self._bind[b] = a

    def unify(self, a, b) -> bool | None:
        """True: equal (or made equal); False: known to differ; None: cannot tell."""
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return True
        if is_unknown_symbol(a):
            self._bind[a] = b
            return True
        if is_unknown_symbol(b):
            self._bind[b] = a
            return True
        free = (getattr(a, "free_symbols", set()) | getattr(b, "free_symbols", set()))
        if any(is_unknown_symbol(f) for f in free):
            return None
        try:
            diff = sp().expand(a - b)
        except Exception:  # noqa: BLE001
            return None
        return diff == 0

    def show(self, x) -> str:
        x = self.resolve(x)
        if x is None:
            return "?"
        if getattr(x, "free_symbols", None) and any(is_unknown_symbol(f) for f in x.free_symbols):
            return "?"
        return size_text(x)


def size_text(x) -> str:
    s = str(x).replace("*", "")
    return s.replace(" ", "")
