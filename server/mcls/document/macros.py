"""User macros: collect ``\\newcommand``/``\\def``/``\\DeclareMathOperator``/``\\let``
and expand them in math text, keeping a source map.

The map gives, for every character of the expansion, the document range it
came from: characters of an argument map to themselves, characters of a macro
body map to the whole macro use, so a problem inside a body points at the use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .text import matching_brace

MAX_DEPTH = 16
MAX_EXPANSION = 200_000  # characters; beyond this we stop expanding (hostile input)
MAX_USES = 2_000  # macro uses per region: `\def\a{\a\a}` doubles at every level


@dataclass(frozen=True)
class Macro:
    name: str  # with backslash
    nargs: int
    default: str | None  # default of the first (optional) argument
    body: str
    span: tuple[int, int]  # where it is defined (document offsets)


_DEF_START = re.compile(
    r"\\(?:(?:re)?newcommand|providecommand|DeclareRobustCommand)\*?\s*"
    r"|\\(?:[gex]?def)\s*"
    r"|\\DeclareMathOperator\*?\s*"
    r"|\\let\s*"
)


def _group(text: str, i: int) -> tuple[str, int] | None:
    """Braced group at i (after spaces) -> (content, end)."""
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    if i >= n or text[i] != "{":
        return None
    j = matching_brace(text, i)
    return None if j is None else (text[i + 1 : j], j + 1)


def _name(text: str, i: int) -> tuple[str, int] | None:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    if i < n and text[i] == "{":
        g = _group(text, i)
        if g is None:
            return None
        m = re.fullmatch(r"\s*(\\(?:[A-Za-z@]+|.))\s*", g[0])
        return (m.group(1), g[1]) if m else None
    m = re.compile(r"\\(?:[A-Za-z@]+|.)").match(text, i)
    return (m.group(0), m.end()) if m else None


_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
# `"\\R": "\\mathbb{R}"` (YAML double quotes escape backslashes), `'\R': '\mathbb{R}'`, `\R: \mathbb{R}`
_FRONT_MACRO = re.compile(r"""^[ \t]*(?:-[ \t]*)?(?P<q>["']?)(?P<name>\\{1,2}[A-Za-z@]+)(?P=q)[ \t]*:[ \t]*(?P<q2>["']?)(?P<body>.*?)(?P=q2)[ \t]*,?[ \t]*$""", re.M)


def front_matter_macros(text: str) -> dict[str, Macro]:
    """KaTeX/MathJax macros declared in a Markdown document's YAML front matter
    (``katex: macros: {"\\\\R": "\\\\mathbb{R}"}``, Quarto/Hugo/Jekyll style)."""
    m = _FRONT.match(text)
    out: dict[str, Macro] = {}
    if not m or "macros" not in m.group(1):
        return out
    block_start = m.start(1)
    for mm in _FRONT_MACRO.finditer(m.group(1)):
        name, body = mm.group("name"), mm.group("body")
        if mm.group("q") == '"' or name.startswith("\\\\"):
            name = name.replace("\\\\", "\\")
        if mm.group("q2") == '"':
            body = body.replace("\\\\", "\\")
        if not body or not name.startswith("\\"):
            continue
        nargs = max((int(d) for d in re.findall(r"#(\d)", body)), default=0)
        out[name] = Macro(name, nargs, None, body, (block_start + mm.start(), block_start + mm.end()))
    return out


def collect_macros(text: str) -> dict[str, Macro]:
    """Every macro definition in the text, in order (later definitions win). Markdown front
    matter macros come first, so definitions in the body override them."""
    out: dict[str, Macro] = front_matter_macros(text) if text.startswith(("---", "\ufeff---")) else {}
    for m in _DEF_START.finditer(text):
        kind = m.group(0).strip()
        try:
            mac = _read_definition(text, m.start(), m.end(), kind)
        except (IndexError, ValueError):
            mac = None
        if mac is not None:
            if kind.startswith("\\providecommand") and mac.name in out:
                continue
            out[mac.name] = mac
    return out


def _read_definition(text: str, start: int, i: int, kind: str) -> Macro | None:
    nm = _name(text, i)
    if nm is None:
        return None
    name, i = nm
    if kind.startswith("\\let"):
        j = i
        while j < len(text) and text[j] in " =":
            j += 1
        target = _name(text, j)
        if target is None:
            return None
        return Macro(name, 0, None, target[0], (start, target[1]))
    if kind.startswith("\\DeclareMathOperator"):
        g = _group(text, i)
        if g is None:
            return None
        star = "*" if "*" in kind else ""
        return Macro(name, 0, None, f"\\operatorname{star}{{{g[0]}}}", (start, g[1]))
    if kind.endswith("def"):
        m = re.compile(r"((?:#\d)*)").match(text, i)
        params = m.group(1) if m else ""
        nargs = params.count("#")
        g = _group(text, m.end() if m else i)
        if g is None:
            return None
        return Macro(name, nargs, None, g[0], (start, g[1]))
    nargs = 0
    default = None
    m = re.compile(r"\s*\[(\d)\]").match(text, i)
    if m:
        nargs = int(m.group(1))
        i = m.end()
        m2 = re.compile(r"\s*\[([^\]]*)\]").match(text, i)
        if m2:
            default = m2.group(1)
            i = m2.end()
    g = _group(text, i)
    if g is None:
        return None
    return Macro(name, nargs, default, g[0], (start, g[1]))


@dataclass(frozen=True)
class Expanded:
    text: str
    starts: list[int]  # document offset where text[k] came from
    ends: list[int]  # document offset just past it
    used: tuple[tuple[str, tuple[int, int]], ...]  # macros used and where


_CS = re.compile(r"\\(?:[A-Za-z@]+|.)")


def expand(text: str, base: int, macros: dict[str, Macro]) -> Expanded:
    """Expand user macros in ``text`` (which starts at document offset ``base``).
    Definitions found in the text itself are removed (they define, not display)."""
    starts = list(range(base, base + len(text)))
    ends = [s + 1 for s in starts]
    used: list[tuple[str, tuple[int, int]]] = []
    out_t, out_s, out_e = _expand(text, starts, ends, macros, 0, used)
    return Expanded("".join(out_t), out_s, out_e, tuple(used))


def _expand(text, starts, ends, macros, depth, used):
    out_t: list[str] = []
    out_s: list[int] = []
    out_e: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "%":  # comments cannot hold macro uses
            j = text.find("\n", i)
            j = n if j < 0 else j
            out_t.append(text[i:j]); out_s.extend(starts[i:j]); out_e.extend(ends[i:j])
            i = j
            continue
        if c != "\\":
            out_t.append(c); out_s.append(starts[i]); out_e.append(ends[i])
            i += 1
            continue
        m = _CS.match(text, i)
        if m is None:
            out_t.append(c); out_s.append(starts[i]); out_e.append(ends[i])
            i += 1
            continue
        cs = m.group(0)
        d = _DEF_START.match(text, i)
        if d is not None and cs in ("\\def", "\\gdef", "\\edef", "\\xdef", "\\newcommand", "\\renewcommand", "\\providecommand", "\\DeclareMathOperator", "\\let", "\\DeclareRobustCommand"):
            end = _definition_end(text, i, d)
            if end is not None:
                # blank the definition: keep offsets but contribute nothing
                i = end
                continue
        mac = macros.get(cs)
        if mac is None or depth >= MAX_DEPTH or len(out_t) > MAX_EXPANSION or len(used) >= MAX_USES:
            out_t.append(cs); out_s.extend(starts[i : m.end()]); out_e.extend(ends[i : m.end()])
            i = m.end()
            continue
        j = m.end()
        args: list[tuple[str, list[int], list[int]]] = []
        optional_used = False
        if mac.default is not None:
            mm = re.compile(r"\s*\[([^\]]*)\]").match(text, j)
            if mm:
                a0, a1 = mm.start(1), mm.end(1)
                args.append((text[a0:a1], starts[a0:a1], ends[a0:a1]))
                j = mm.end()
            else:
                args.append((mac.default, [starts[i]] * len(mac.default), [ends[m.end() - 1]] * len(mac.default)))
            optional_used = True
        need = mac.nargs - (1 if optional_used else 0)
        ok = True
        for _ in range(need):
            a = _arg(text, j)
            if a is None:
                ok = False
                break
            a0, a1, j = a
            args.append((text[a0:a1], starts[a0:a1], ends[a0:a1]))
        if not ok:
            out_t.append(cs); out_s.extend(starts[i : m.end()]); out_e.extend(ends[i : m.end()])
            i = m.end()
            continue
        use_s, use_e = starts[i], ends[j - 1] if j > i else ends[i]
        used.append((cs, (use_s, use_e)))
        body_t, body_s, body_e = _substitute(mac.body, args, use_s, use_e)
        # A macro ending in a control word must not glue onto a following letter (`\o x`).
        sub_t, sub_s, sub_e = _expand("".join(body_t), body_s, body_e, macros, depth + 1, used)
        # Keep the expansion a single unit: `\o^T` must transpose the whole body.
        wrap = mac.nargs == 0 and len(sub_t) > 1 and not _is_single_token("".join(sub_t))
        if wrap:
            out_t.append("{"); out_s.append(use_s); out_e.append(use_e)
        out_t.extend(sub_t); out_s.extend(sub_s); out_e.extend(sub_e)
        if wrap:
            out_t.append("}"); out_s.append(use_s); out_e.append(use_e)
        elif sub_t and re.search(r"\\[A-Za-z]+$", "".join(sub_t[-40:])):
            out_t.append(" "); out_s.append(use_e - 1 if use_e > use_s else use_s); out_e.append(use_e)
        i = j
    return out_t, out_s, out_e


def _is_single_token(s: str) -> bool:
    """Bodies that need no braces around them: one token, one group, a command with its
    braced arguments (``\\mathbf{X}``, ``\\operatorname{tr}``, ``\\operatorname*{arg\\,min}``), or
    a postfix (``^\\top``, ``^{-1}``), which braces would detach from its base."""
    s = s.strip()
    if s[:1] in ("^", "_", "'"):
        return True
    if re.fullmatch(r"\\[A-Za-z@]+|.|\{.*\}", s, re.S) and not (
        s.startswith("{") and _group(s, 0) is not None and _group(s, 0)[1] != len(s)
    ):
        return True
    m = re.match(r"\\[A-Za-z@]+\*?", s)
    if not m:
        return False
    i = m.end()
    while i < len(s):
        g = _group(s, i)
        if g is None:
            return False
        i = g[1]
        while i < len(s) and s[i] in " \t\r\n":
            i += 1
    return True


def _definition_end(text: str, i: int, d: re.Match) -> int | None:
    kind = d.group(0).strip()
    try:
        mac = _read_definition(text, i, d.end(), kind)
    except (IndexError, ValueError):
        return None
    return mac.span[1] - 0 if mac else None


def _arg(text: str, j: int):
    n = len(text)
    while j < n and text[j] in " \t\r\n":
        j += 1
    if j >= n:
        return None
    if text[j] == "{":
        g = _group(text, j)
        if g is None:
            return None
        return j + 1, g[1] - 1, g[1]
    m = _CS.match(text, j)
    if m:
        return j, m.end(), m.end()
    return j, j + 1, j + 1


def _substitute(body: str, args, use_s: int, use_e: int):
    t: list[str] = []
    s: list[int] = []
    e: list[int] = []
    k = 0
    n = len(body)
    while k < n:
        c = body[k]
        if c == "#" and k + 1 < n and body[k + 1].isdigit():
            idx = int(body[k + 1]) - 1
            if 0 <= idx < len(args):
                at, as_, ae = args[idx]
                # braces keep an argument one unit (`\grad{M}{X_{ij}}`)
                t.append("{"); s.append(as_[0] if as_ else use_s); e.append(as_[0] + 1 if as_ else use_e)
                t.extend(at); s.extend(as_); e.extend(ae)
                t.append("}"); s.append(ae[-1] - 1 if ae else use_s); e.append(ae[-1] if ae else use_e)
            k += 2
            continue
        t.append(c); s.append(use_s); e.append(use_e)
        k += 1
    return t, s, e


def fold(latex: str, macros: dict[str, Macro]) -> str:
    """Write ``latex`` (made by mcls) with the document's own argument-less macros:
    ``\\mathbf{X}`` -> ``\\X`` when the document says ``\\newcommand{\\X}{\\mathbf{X}}``.
    Only bodies that are commands are folded (a macro for a plain letter would swallow
    every such letter), longest first, at command boundaries."""
    table = _fold_table(tuple(sorted((m.name, m.body) for m in macros.values() if m.nargs == 0)))
    if table is None:
        return latex
    pattern, names = table

    def put(m: re.Match[str]) -> str:
        name = names[m.group(0)]
        nxt = latex[m.end():m.end() + 1]
        return name + " " if nxt.isalpha() and name[-1].isalpha() else name

    return pattern.sub(put, latex)


@lru_cache(maxsize=64)
def _fold_table(defs: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]] | None:
    names: dict[str, str] = {}
    for name, body in defs:
        body = body.strip()
        if body.startswith("\\") and len(body) > 2 and body != name and body not in names:
            names[body] = name
    if not names:
        return None
    alts = sorted(names, key=len, reverse=True)
    # A body ending in a letter must not match the start of a longer command (\top in \topsep).
    pattern = re.compile("|".join(re.escape(b) + ("(?![A-Za-z])" if b[-1].isalpha() else "") for b in alts))
    return pattern, names
