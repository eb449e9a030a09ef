"""Find the math regions of a LaTeX or Markdown document.

Both scanners are loops over ``re.search`` calls whose patterns have no nested
quantifiers, and every loop iteration moves forward, so scanning is linear on
any input (binary junk, unbalanced delimiters, 5 MB documents). Unclosed
delimiters stop at a safe point instead of swallowing the document: inline and
bracket/dollar display math stop at the end of the paragraph (a blank line);
only an environment without ``\\end`` runs to the end of the document.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

from .text import line_starts


@dataclass(frozen=True, slots=True)
class Region:
    start: int  # first offset of the math content (inside the delimiters)
    end: int  # offset just past the content
    outer_start: int  # offset of the opening delimiter
    outer_end: int  # offset just past the closing delimiter
    display: bool
    kind: str  # '$', '$$', '\\(', '\\[', 'env', 'fence'
    env: str | None  # environment name for 'env', 'math' for fences
    text: str  # == document[start:end]
    closed: bool  # False when the closing delimiter is missing


MATH_ENVS = frozenset(
    "equation align gather multline eqnarray flalign alignat split math displaymath".split()
)
VERBATIM_ENVS = frozenset(
    "verbatim verbatim* Verbatim Verbatim* BVerbatim LVerbatim lstlisting minted comment".split()
)
# Commands whose arguments are definitions, not typeset text: without skipping
# them, `\newcommand{\be}{\begin{equation}}` would open a region that never ends.
# Value: the number of mandatory arguments (a {group} or a \name) to skip.
_DEFINERS = {
    "newcommand": 2, "renewcommand": 2, "providecommand": 2, "DeclareRobustCommand": 2,
    "newenvironment": 3, "renewenvironment": 3,
    "NewDocumentCommand": 3, "RenewDocumentCommand": 3, "ProvideDocumentCommand": 3,
    "DeclareDocumentCommand": 3, "NewDocumentEnvironment": 4, "RenewDocumentEnvironment": 4,
    "def": 2, "gdef": 2, "edef": 2, "xdef": 2,
}  # fmt: skip

_LATEX_IDS = {"latex", "tex", "plaintex", "context", "latex-expl3", "doctex"}
_MARKDOWN_IDS = {"markdown", "quarto", "rmd", "rmarkdown", "mdx", "pandoc"}
_LATEX_EXTS = {"tex", "sty", "cls", "ltx", "dtx"}
_MARKDOWN_EXTS = {"md", "markdown", "qmd", "rmd", "mdx"}


def language_for(language_id: str | None, path: str | None) -> str:
    """'latex' or 'markdown': from the LSP languageId, else the extension."""
    lid = (language_id or "").lower()
    if lid in _LATEX_IDS:
        return "latex"
    if lid in _MARKDOWN_IDS:
        return "markdown"
    name = (path or "").replace("\\", "/").rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return "markdown" if ext in _MARKDOWN_EXTS else "latex"


def find_regions(text: str, language: str) -> list[Region]:
    """Math regions in document order; never raises."""
    if not text:
        return []
    return _markdown(text) if language == "markdown" else _latex(text)


def update_regions(old_text: str, old: list[Region], text: str, language: str) -> tuple[list[Region], int | None]:
    """``find_regions(text, language)`` after an edit of ``old_text``, and the index of the
    one region whose content changed (None: more than that changed).

    When the edit lies inside the content of one LaTeX region, only that region is
    scanned again. This is exact, not a heuristic: the LaTeX scanner's only state at
    the top level is its offset, the text before the region is unchanged (and no token
    of the scanner reaches from before a region into its content), and once the region
    closes at the same place (shifted by the edit), the rest of the text is the old
    rest. Markdown keeps state across a paragraph (code spans, openers that failed to
    close reach into later text), so it is scanned afresh, and the result is compared
    with the old regions to find the one that changed.
    """
    if not old or not text:
        return find_regions(text, language), None
    p, q = _common_ends(old_text, text)
    k = bisect_right(old, p, key=lambda r: r.start) - 1  # the last region starting at or before the edit
    if k < 0 or len(old_text) - q > old[k].end:
        return find_regions(text, language), None
    r = old[k]
    delta = len(text) - len(old_text)
    if language == "markdown":
        new = find_regions(text, language)
        same = len(new) == len(old) and new[:k] == old[:k] and _same_place(new[k], r, delta) \
            and all(_moved(a, b, delta) for a, b in zip(new[k + 1:], old[k + 1:]))
        return new, (k if same else None)
    again = _latex(text, r.outer_start, limit=1)
    if not again or not _same_place(again[0], r, delta):
        return find_regions(text, language), None
    rest = [Region(x.start + delta, x.end + delta, x.outer_start + delta, x.outer_end + delta, x.display, x.kind, x.env, x.text, x.closed)
            for x in old[k + 1:]] if delta else old[k + 1:]
    return old[:k] + [again[0]] + rest, k


def _moved(a: Region, r: Region, delta: int) -> bool:
    """``a`` is region ``r`` moved by ``delta`` characters."""
    return (a.start, a.end, a.outer_start, a.outer_end) == (r.start + delta, r.end + delta, r.outer_start + delta, r.outer_end + delta) \
        and (a.text, a.kind, a.env, a.display, a.closed) == (r.text, r.kind, r.env, r.display, r.closed)


def _same_place(a: Region, r: Region, delta: int) -> bool:
    """``a`` is region ``r`` after an edit of ``delta`` characters inside its content."""
    return (a.outer_start, a.start, a.kind, a.env, a.display, a.closed) == (r.outer_start, r.start, r.kind, r.env, r.display, r.closed) \
        and a.end == r.end + delta and a.outer_end == r.outer_end + delta


def _common_ends(a: str, b: str) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix (not overlapping it), found
    by bisection on slice comparisons, which run at memcmp speed."""
    m = min(len(a), len(b))
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    p = lo
    lo, hi = 0, m - p
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid:] == b[len(b) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return p, lo


# ----------------------------------------------------------------- shared

_NL = r"(?:\r\n|\r(?!\n)|\n)"  # one break; never stops between \r and \n
# A break followed by a blank line (or the end of text): the paragraph ends
# at the start of the match.
_PARA = _NL + r"[ \t]*+(?=[\r\n]|\Z)"
_EOL = re.compile(r"[\r\n]")
# Math-mode commands whose {argument} is text mode and may hold nested $...$.
_TEXT_OPEN = r"(?:text[A-Za-z]*+|mbox|hbox|fbox|intertext|shortintertext|tag\*?)\s*\{"
# Never valid in math: an unclosed $ / \( / \[ stops before these (safe stop).
_TEX_STOP = r"\\(?:part|chapter|(?:sub)*section|(?:sub)?paragraph|item)(?![A-Za-z@])"


def _eol(text: str, i: int) -> int:
    m = _EOL.search(text, i)
    return m.start() if m else len(text)


# ------------------------------------------------------------------ LaTeX

_TEX_TOP = re.compile(
    r"%|\$\$?"
    r"|\\(?:begin\s*\{([\w@*]*)\}"  # 1: environment name
    r"|(verb|lstinline)(?![A-Za-z@])"  # 2: inline verbatim
    r"|(" + "|".join(_DEFINERS) + r")(?![A-Za-z@])"  # 3: definition
    r"|[(\[\\$%])"  # \( \[ and the escapes that matter: \\ \$ \%
)
# Inside $ / $$ outside any \text{...}: closers, comments, text groups.
_TEX_DOLLAR = re.compile(r"%|\$\$?|\\(?:" + _TEXT_OPEN + r"|[\\$%])|" + _PARA + "|" + _TEX_STOP)
# Inside a \text{...} group: only braces matter ($ there is nested math).
_TEX_GROUP = re.compile(r"%|[{}]|\\[\\{}%]|" + _PARA)
_TEX_PAREN = re.compile(r"%|\\[\\%)]|" + _PARA + "|" + _TEX_STOP)
_TEX_BRACKET = re.compile(r"%|\\[\\%\]]|" + _PARA + "|" + _TEX_STOP)
_TEX_ENV = re.compile(r"%|\\(?:end\s*\{([\w@*]*)\}|[\\%])")
_TEX_ARG = re.compile(r"[ \t]*\{[^{}\r\n]*\}")  # alignat's {n}
_TEX_DEF_GAP = re.compile(r"(?:[ \t*]|#\d|" + _NL + r"(?![ \t]*+(?:[\r\n]|\Z)))*")
_TEX_CS = re.compile(r"\\(?:[A-Za-z@]+|[^\r\n])")


def _latex(text: str, i: int = 0, limit: int | None = None) -> list[Region]:
    """Regions from offset ``i`` (a top-level position), at most ``limit`` of them."""
    out: list[Region] = []
    n = len(text)
    while (m := _TEX_TOP.search(text, i)) is not None and (limit is None or len(out) < limit):
        s, tok = m.start(), m.group()
        i = m.end()
        if tok == "%":
            i = _eol(text, i)
        elif tok[0] == "$":
            double = len(tok) == 2
            end, oend, closed = _tex_dollar(text, i, double)
            out.append(Region(i, end, s, oend, double, tok, None, text[i:end], closed))
            i = oend
        elif (env := m.group(1)) is not None:
            base = env[:-1] if env.endswith("*") else env
            if base in MATH_ENVS:
                if base == "alignat" and (a := _TEX_ARG.match(text, i)):
                    i = a.end()
                end, oend, closed = _tex_env(text, i, env)
                out.append(Region(i, end, s, oend, base != "math", "env", env, text[i:end], closed))
                i = oend
            elif env in VERBATIM_ENVS:
                j = text.find("\\end{" + env + "}", i)
                i = n if j < 0 else j + len(env) + 6
        elif m.group(2):
            i = _skip_verb(text, i, m.group(2) == "lstinline")
        elif m.group(3):
            i = _skip_definition(text, i, _DEFINERS[m.group(3)])
        elif tok[1] in "([":
            pat, kind = (_TEX_PAREN, "\\(") if tok[1] == "(" else (_TEX_BRACKET, "\\[")
            end, oend, closed = _tex_bracket(text, i, pat)
            out.append(Region(i, end, s, oend, kind == "\\[", kind, None, text[i:end], closed))
            i = oend
    return out


def _tex_dollar(text: str, i: int, double: bool) -> tuple[int, int, bool]:
    """Scan $ / $$ content from i: (end, outer_end, closed)."""
    depth = 0  # brace depth inside \text{...}; 0 = plain math
    while True:
        m = (_TEX_GROUP if depth else _TEX_DOLLAR).search(text, i)
        if m is None:
            return len(text), len(text), False
        tok, i = m.group(), m.end()
        c = tok[0]
        if c == "%":
            i = _eol(text, i)
        elif c == "$":
            if not double:  # "$a$$b$" is two inline formulas
                return m.start(), m.start() + 1, True
            if len(tok) == 2:
                return m.start(), i, True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "\\" and len(tok) > 2 and tok[-1] != "{":  # \section...: unclosed
            return m.start(), m.start(), False
        elif c == "\\":
            if not depth and tok[-1] == "{":  # \text{ opens a text group
                depth = 1
        else:  # blank line: unclosed
            return m.start(), m.start(), False


def _tex_bracket(text: str, i: int, pat: re.Pattern[str]) -> tuple[int, int, bool]:
    """Scan \\( / \\[ content: closers are the only 2-char tokens ending in ) or ]."""
    while True:
        m = pat.search(text, i)
        if m is None:
            return len(text), len(text), False
        tok, i = m.group(), m.end()
        if tok == "%":
            i = _eol(text, i)
        elif tok[0] == "\\" and len(tok) == 2:
            if tok[1] in ")]":
                return m.start(), i, True
        else:  # blank line or \section...: unclosed
            return m.start(), m.start(), False


def _tex_env(text: str, i: int, env: str) -> tuple[int, int, bool]:
    # Only the matching \end closes: a nested split/aligned is part of the region.
    while True:
        m = _TEX_ENV.search(text, i)
        if m is None:
            return len(text), len(text), False
        i = m.end()
        if m.group() == "%":
            i = _eol(text, i)
        elif m.group(1) == env:
            return m.start(), i, True


def _skip_verb(text: str, i: int, lst: bool) -> int:
    """Skip \\verb|...| / \\lstinline[opts]{...} (never past the line end)."""
    eol = _eol(text, i)
    if i < eol and text[i] == "*" and not lst:
        i += 1
    if lst and i < eol and text[i] == "[":
        j = text.find("]", i, eol)
        i = eol if j < 0 else j + 1
    if i >= eol:
        return eol
    close = "}" if lst and text[i] == "{" else text[i]
    j = text.find(close, i + 1, eol)
    return eol if j < 0 else j + 1


def _skip_definition(text: str, i: int, args: int) -> int:
    """Skip the arguments of \\newcommand & co.: names, [options], #n, {bodies}."""
    n = len(text)
    while args and i < n:
        i = _TEX_DEF_GAP.match(text, i).end()  # type: ignore[union-attr]
        if i >= n:
            break
        c = text[i]
        if c == "[":
            j = text.find("]", i, _eol(text, i))
            if j < 0:
                break
            i = j + 1
            continue
        if c == "{":
            i = _skip_group(text, i + 1)
        elif c == "\\":
            cs = _TEX_CS.match(text, i)
            i = cs.end() if cs else i + 1
        else:
            break
        args -= 1
    return i


def _skip_group(text: str, i: int) -> int:
    """From inside a {group}: offset past its closing brace, or the paragraph end."""
    depth = 1
    while (m := _TEX_GROUP.search(text, i)) is not None:
        tok, i = m.group(), m.end()
        if tok == "%":
            i = _eol(text, i)
        elif tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if not depth:
                return i
        elif tok[0] != "\\":
            return m.start()
    return len(text)


# --------------------------------------------------------------- Markdown

# Display environments MathJax/KaTeX typeset outside $$ (Jupyter notebooks write them
# bare at the start of a line).
_MD_ENVS = ("equation", "align", "gather", "multline", "flalign", "alignat", "eqnarray", "displaymath")
_INDENT = r"(?: {4}| {0,3}\t)[ \t]*+\S"  # an indented, non-blank line
# What matters at a line start: (blank line then indented line) | fence run.
_LINE = r"(?:([ \t]*+(?:\r\n|\r(?!\n)|\n))(?=" + _INDENT + r")|[ \t]*+(`{3,}|~{3,}))"
# Every branch starts with a literal character so that re can skip plain
# text with a fast first-character scan (a lookbehind or \A branch makes the
# search several times slower).
_MD_TOP = re.compile(
    r"\n" + _LINE + r"|\r\n?+" + _LINE  # groups 1/3: blank line, 2/4: fence run
    + r"|``*+|\$\$?"
    r"|\\\\?[(\[]"  # \( \[ and the \\( \\[ of some dialects
    r"|\\begin\{((?:" + "|".join(sorted(_MD_ENVS, key=len, reverse=True)) + r")\*?)\}"  # 5: bare environment
    r"|\\[\\$`]"  # escapes that matter
)
_MD_FENCE0 = re.compile(r"[ \t]*+(`{3,}|~{3,})")  # a fence on the first line
_MD_END_CHARS = r"(?:(?=[\r\n]|\Z)|```|~~~)"
# Where a paragraph ends: a blank line, or a fence line (fences interrupt paragraphs).
_MD_PARA_TOK = _NL + r"[ \t]*+" + _MD_END_CHARS
_MD_PARA = re.compile(_MD_PARA_TOK)
_MD_DOLLAR = re.compile(r"\$\$?|\\(?:" + _TEXT_OPEN + r"|[\\$])|" + _MD_PARA_TOK)
_MD_GROUP = re.compile(r"[{}]|\\[\\{}]|" + _MD_PARA_TOK)
_MD_PAREN = re.compile(r"\\\\?\)|\\\\|" + _MD_PARA_TOK)  # \) or \\) closes; other \\ is a pair
_MD_BRACKET = re.compile(r"\\\\?\]|\\\\|" + _MD_PARA_TOK)
_MD_TICKS = re.compile(r"``*+")
_MD_ICODE = re.compile(r"(?:(?: {4}| {0,3}\t)[^\r\n]*+(?:\r\n|\r|\n|\Z)|[ \t]*+(?:\r\n|\r|\n))*+")
_MD_FRONT = re.compile(r"\ufeff?---[ \t]*+" + _NL)
_MD_FRONT_END = re.compile(_NL + r"(?:---|\.\.\.)[ \t]*+(?=[\r\n]|\Z)")
# "$ \def..." / "$ \newcommand...": whitespace, then a macro definition.
_MD_DEF_AFTER_SPACE = re.compile(r"\s+\\(?:def|newcommand|renewcommand|DeclareMathOperator)(?![A-Za-z@])")
_MD_LIST_ITEM = re.compile(r"[ \t]*+(?:[-*+]|\d{1,9}[.)])(?:\s|\Z)")


@lru_cache(maxsize=64)
def _fence_close(ch: str, k: int) -> re.Pattern[str]:
    return re.compile(_NL + r"[ \t]*+" + re.escape(ch) + "{%d,}[ \t]*+(?=[\r\n]|\\Z)" % k)


def _markdown(text: str) -> list[Region]:
    out: list[Region] = []
    n = len(text)
    failed: dict[str, int] = {}  # opener -> paragraph end before which it cannot close
    ticks: dict[int, list[int]] = {}  # backtick runs of one paragraph: length -> starts
    ticks_end = -1  # end of that paragraph
    starts: list[int] | None = None  # line starts, built on first need
    i = 0
    if fm := _MD_FRONT.match(text):
        # YAML front matter: "---" first, up to the next "---" or "..." line.
        if fe := _MD_FRONT_END.search(text, fm.end() - 1):
            i = fe.end()
    else:  # the start of text counts as following a blank line
        i = _MD_ICODE.match(text).end()  # type: ignore[union-attr]
        if f := _MD_FENCE0.match(text, i):
            i = _md_fence(text, out, f.start(1), f.end(), len(f.group(1)))
    while (m := _MD_TOP.search(text, i)) is not None:
        s, i = m.start(), m.end()
        c = text[s]
        if c in "\r\n":
            if m.lastindex in (1, 3):  # a blank line, then an indented line
                if starts is None:
                    starts = line_starts(text)
                if not _in_list(text, starts, s):
                    i = _MD_ICODE.match(text, i).end()  # type: ignore[union-attr]
                else:  # a list item's paragraph: rescan from the break before it
                    e = m.end(m.lastindex)  # type: ignore[arg-type]
                    i = e - 2 if text.startswith("\r\n", e - 2) else e - 1
            else:
                i = _md_fence(text, out, m.start(m.lastindex), i, len(m.group(m.lastindex)))  # type: ignore[arg-type]
            continue
        tok = m.group()
        if c == "`":
            if i > ticks_end:  # first code span opener of this paragraph
                pm = _MD_PARA.search(text, i)
                ticks_end = pm.start() if pm else n
                ticks = {}
                for r in _MD_TICKS.finditer(text, i, ticks_end):
                    ticks.setdefault(r.end() - r.start(), []).append(r.start())
            # The span closes at the next run of exactly the same length
            # (a table per paragraph keeps unmatched openers linear).
            runs = ticks.get(len(tok))
            if runs and (j := bisect_left(runs, i)) < len(runs):
                i = runs[j] + len(tok)
        elif c == "$":
            relaxed = False
            if i >= n or failed.get(tok, -1) >= i:
                continue
            if tok == "$" and text[i].isspace():
                # pandoc: "$ " opens nothing -- except "$ \def\p{\partial} $", a macro block
                if not (relaxed := _MD_DEF_AFTER_SPACE.match(text, i) is not None):
                    continue
            end, oend, closed = _md_dollar(text, i, tok == "$$", relaxed)
            if not closed:  # a literal dollar (pandoc), not an unclosed region
                failed[tok] = end
                continue
            out.append(Region(i, end, s, oend, tok == "$$", tok, None, text[i:end], True))
            i = oend
        elif tok[-1] == "}":  # \begin{align}...: display math only at a line start
            env = m.group(5)
            if not _at_line_start(text, s) or failed.get(env, -1) >= i:
                continue
            if env.startswith("alignat") and (a := _TEX_ARG.match(text, i)):
                i = a.end()
            end, oend, closed = _tex_env(text, i, env)
            if not closed:  # no \end: literal text, not a region running to the end
                failed[env] = n  # (and no later \begin{env} can close either)
                i = m.end()
                continue
            out.append(Region(i, end, s, oend, True, "env", env, text[i:end], True))
            i = oend
        elif tok[-1] in "([":
            if failed.get(tok, -1) >= i:
                continue
            end, oend, closed = _md_bracket(text, i, tok)
            if not closed:
                failed[tok] = end
                continue
            kind = "\\" + tok[-1]
            out.append(Region(i, end, s, oend, kind == "\\[", kind, None, text[i:end], True))
            i = oend
        # else: an escape pair, skipped
    return out


def _at_line_start(text: str, pos: int) -> bool:
    """Only spaces or tabs between the previous line break (or the start) and ``pos``."""
    j = pos
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    return j == 0 or text[j - 1] in "\r\n"


def _in_list(text: str, starts: list[int], pos: int) -> bool:
    """Is the indented line after the break at ``pos`` a list continuation?

    A heuristic instead of list parsing: it is when the last non-blank line
    before it is a list item or is itself indented."""
    line = bisect_right(starts, pos)  # the blank line (pos is the break before it)
    while line > 0:
        line -= 1
        ls = starts[line]
        le = starts[line + 1] if line + 1 < len(starts) else len(text)
        if text[ls:le].strip(" \t\r\n"):
            return text[ls] in " \t" or _MD_LIST_ITEM.match(text, ls, le) is not None
    return False


def _md_fence(text: str, out: list[Region], rs: int, re_: int, k: int) -> int:
    """A fence run at [rs, re_) of length k: record a math fence, skip any other.

    Returns the offset to resume scanning from."""
    n = len(text)
    ch = text[rs]
    eol = _eol(text, re_)
    info = text[re_:eol]
    if ch == "`" and "`" in info:
        return rs  # ```x``` is a code span, not a fence: rescan from the run
    close = _fence_close(ch, k).search(text, eol)
    words = info.split()
    if words and words[0] in ("math", "{math}"):
        cs = min(n, eol + (2 if text.startswith("\r\n", eol) else 1))  # content start
        if close:
            end = max(cs, close.start())
            out.append(Region(cs, end, rs, close.end(), True, "fence", "math", text[cs:end], True))
        else:
            out.append(Region(cs, n, rs, n, True, "fence", "math", text[cs:n], False))
    return close.end() if close else n  # an unclosed fence runs to the end (CommonMark)


def _md_dollar(text: str, i: int, double: bool, relaxed: bool = False) -> tuple[int, int, bool]:
    """Scan $ / $$ content from i: (end, outer_end, closed), or the paragraph end.

    ``relaxed``: a single $ may close after a space (a definition block opened by "$ ")."""
    depth = 0  # brace depth inside \text{...}; 0 = plain math
    while True:
        m = (_MD_GROUP if depth else _MD_DOLLAR).search(text, i)
        if m is None:
            return len(text), len(text), False
        s, i = m.start(), m.end()
        c = text[s]
        if c == "$":
            if double:
                if i - s == 2:
                    return s, i, True
            elif (relaxed or not text[s - 1].isspace()) and not "0" <= text[s + 1 : s + 2] <= "9":
                return s, s + 1, True  # pandoc: no space before, no digit after
            else:
                i = s + 1  # "$$" here: its second "$" may still close
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "\\":
            if not depth and text[i - 1] == "{":  # \text{ opens a text group
                depth = 1
        else:
            return s, s, False


def _md_bracket(text: str, i: int, opener: str) -> tuple[int, int, bool]:
    pat = _MD_PAREN if opener[-1] == "(" else _MD_BRACKET
    closer = opener[:-1] + (")" if opener[-1] == "(" else "]")
    while (m := pat.search(text, i)) is not None:
        tok = m.group()
        if tok == closer:
            return m.start(), m.end(), True
        if tok[0] != "\\":
            return m.start(), m.start(), False
        i = m.end()
    return len(text), len(text), False
