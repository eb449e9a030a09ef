"""Completion inside math, and the shape of the expression being typed (signature help).

Protocol-free: ``completions(doc, offset)`` answers only when the offset is inside a math
region (never in prose, so nothing is ever inserted outside math) and returns the span the
items replace (the ``\\word`` or letters before the cursor) with the items:

- the document's declared/defined symbols, their shapes in ``detail`` (``n×p``);
- the document's own macros (``\\newcommand``/``\\def``/``\\DeclareMathOperator``), with their
  expansion and, when one stands for a declared symbol, its shape;
- common commands (``\\top``, ``\\odot``, ``\\operatorname{tr}``, ``\\mathbf{}``, Greek letters …).

``signature_help(doc, offset)`` is mcls's "signature-like help": the expression typed so far in
the current statement (closing the brackets still open) and its shape, e.g. ``A X : n×m``,
plus, inside an unfinished function call or group (``\\operatorname{tr}(A X``), that argument
and its shape. Shape *inlay hints* on finished statements come from ``features.inlay``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..analysis import DocumentAnalysis, RegionAnalysis

Span = tuple[int, int]


@dataclass(frozen=True)
class CompletionItem:
    label: str
    kind: str  # "variable" | "macro" | "function" | "operator" | "snippet" | "keyword"
    insert: str  # plain text to insert
    detail: str = ""
    documentation: str = ""
    snippet: str | None = None  # the same with tab stops ($1), for clients that take snippets
    filter: str | None = None  # what the client matches the typed word against
    sort: str = ""


@dataclass(frozen=True)
class Completions:
    span: Span  # what the items replace (the word before the cursor; may be empty)
    items: list[CompletionItem]


# (insert, detail, snippet, kind)
_COMMANDS: list[tuple[str, str, str | None, str]] = [
    ("\\top", "transpose: X^\\top", None, "operator"),
    ("\\intercal", "transpose", None, "operator"),
    ("\\odot", "Hadamard (element-wise) product", None, "operator"),
    ("\\oslash", "element-wise division", None, "operator"),
    ("\\otimes", "Kronecker product", None, "operator"),
    ("\\circ", "Hadamard product / composition", None, "operator"),
    ("\\cdot", "product", None, "operator"),
    ("\\times", "× (sizes: n\\times p)", None, "operator"),
    ("\\in", "declaration: X \\in \\mathbb{R}^{n\\times p}", None, "operator"),
    ("\\mathbb{R}", "the reals: \\mathbb{R}^{n\\times p}", "\\mathbb{R}^{$1}$0", "keyword"),
    ("\\operatorname{tr}", "trace", "\\operatorname{tr}($1)$0", "function"),
    ("\\operatorname{diag}", "diagonal (matrix → vector, vector → matrix)", "\\operatorname{diag}($1)$0", "function"),
    ("\\operatorname{vec}", "column-stacking vec", "\\operatorname{vec}($1)$0", "function"),
    ("\\det", "determinant", None, "function"),
    ("\\log", "logarithm (element-wise); \\log\\det", None, "function"),
    ("\\exp", "exponential (element-wise)", None, "function"),
    ("\\tanh", "tanh (element-wise)", None, "function"),
    ("\\sigma", "sigmoid (element-wise) or the Greek letter", None, "function"),
    ("\\sqrt{}", "square root", "\\sqrt{$1}$0", "function"),
    ("\\frac{}{}", "fraction", "\\frac{$1}{$2}$0", "snippet"),
    ("\\frac{\\partial }{\\partial }", "derivative ∂f/∂X", "\\frac{\\partial ${1:f}}{\\partial ${2:X}}$0", "snippet"),
    ("\\partial", "∂", None, "operator"),
    ("\\nabla", "gradient ∇", None, "operator"),
    ("\\sum", "sum", "\\sum_{${1:i}=1}^{${2:n}} $0", "operator"),
    ("\\|\\|", "norm ‖x‖", "\\|$1\\|$0", "snippet"),
    ("\\|\\|_F", "Frobenius norm", "\\|$1\\|_F$0", "snippet"),
    ("\\langle \\rangle", "inner product ⟨A, B⟩", "\\langle $1, $2 \\rangle$0", "snippet"),
    ("\\left(\\right)", "sized parentheses", "\\left($1\\right)$0", "snippet"),
    ("\\mathbf{}", "bold: a different symbol from the plain letter", "\\mathbf{$1}$0", "snippet"),
    ("\\boldsymbol{}", "bold (Greek too)", "\\boldsymbol{$1}$0", "snippet"),
    ("\\bm{}", "bold (bm package)", "\\bm{$1}$0", "snippet"),
    ("\\mathrm{}", "upright", "\\mathrm{$1}$0", "snippet"),
    ("\\mathcal{}", "calligraphic", "\\mathcal{$1}$0", "snippet"),
    ("\\hat{}", "hat", "\\hat{$1}$0", "snippet"),
    ("\\operatorname{}", "named operator", "\\operatorname{$1}$0", "snippet"),
    ("\\succ", "≻ (\\succ 0: positive definite)", None, "operator"),
    ("\\succeq", "⪰ (positive semi-definite)", None, "operator"),
    ("\\coloneqq", "≔ definition", None, "operator"),
    ("\\approx", "≈", None, "operator"),
    ("\\le", "≤", None, "operator"),
    ("\\ge", "≥", None, "operator"),
    ("\\ne", "≠", None, "operator"),
    ("\\quad", "space", None, "keyword"),
    ("\\text{}", "text", "\\text{$1}$0", "snippet"),
]
_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho "
    "tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell"
).split()

_WORD = re.compile(r"(\\[A-Za-z]*|[A-Za-z]+)\Z")


def math_region_at(doc: DocumentAnalysis, offset: int) -> RegionAnalysis | None:
    """The region whose *content* holds the offset (not its delimiters)."""
    ra = doc.region_at(offset)
    if ra is None or not (ra.region.start <= offset <= ra.region.end):
        return None
    return ra


def completions(doc: DocumentAnalysis, offset: int) -> Completions | None:
    ra = math_region_at(doc, offset)
    if ra is None:
        return None
    text = doc.text
    lo = max(ra.region.start, offset - 80)
    m = _WORD.search(text, lo, offset)
    word = m.group(1) if m else ""
    start = offset - len(word)
    if word.startswith("\\") and start > 0 and text[start - 1] == "\\" and (start < 2 or text[start - 2] != "\\"):
        return None  # `\\` row break, not a command
    if _in_text_group(text, ra.region.start, start):
        return None
    backslash = word.startswith("\\")
    in_font = re.search(r"\\[A-Za-z]+\s*\{\Z", text[max(0, start - 30) : start]) is not None  # `\mathbf{X|`
    items: list[CompletionItem] = []
    seen: set[str] = set()

    def add(item: CompletionItem) -> None:
        if item.insert in seen:
            return
        if backslash and not item.insert.startswith("\\"):
            return
        if in_font and item.insert.startswith("\\"):
            return
        if not backslash and item.kind not in ("variable", "macro"):
            return
        if not backslash and word and not (item.filter or item.insert)[:1].lower() == word[:1].lower():
            return
        seen.add(item.insert)
        items.append(item)

    # 1. the document's symbols
    from ..render.unicode import to_unicode
    from .. import ir

    scope = doc.scope
    for name, d in sorted(scope.decls.items()):
        shape = _shape_text(scope, d.rows, d.cols)
        try:
            uni = to_unicode(ir.Sym(name))
        except Exception:  # noqa: BLE001
            uni = name
        where = "declared" if d.kind in ("declared", "prose") else ("defined" if d.kind == "defined" else "declared twice, with different shapes")
        stem = _stem(name)
        add(CompletionItem(
            label=name, kind="variable", insert=name, detail=shape,
            documentation=f"{uni} : {shape} ({where})", filter=(name if backslash or not name.startswith("\\") else stem),
            sort=f"0{stem.lower()}",
        ))
    # 2. the document's macros
    for name, mac in sorted(doc.macros.items()):
        occ_shape = ""
        sym = _macro_symbol(doc, mac.body)
        if sym is not None:
            d = scope.decls.get(sym)
            if d is not None:
                occ_shape = _shape_text(scope, d.rows, d.cols)
        args = "".join("{}" for _ in range(mac.nargs - (1 if mac.default is not None else 0)))
        snippet = name + "".join(f"{{${i + 1}}}" for i in range(mac.nargs - (1 if mac.default is not None else 0))) + "$0" if args else None
        add(CompletionItem(
            label=name, kind="macro", insert=name + args, detail=occ_shape or f"→ {mac.body}"[:60],
            documentation=f"{name} → {mac.body}" + (f" : {occ_shape}" if occ_shape else ""), snippet=snippet,
            filter=None if backslash else name[1:],
            sort=f"1{name.lower()}",
        ))
    # 3. common commands and Greek letters
    for ins, detail, snip, kind in _COMMANDS:
        add(CompletionItem(label=ins, kind=kind, insert=ins, detail=detail, snippet=snip, sort=f"2{ins.lower()}"))
    for g in _GREEK:
        add(CompletionItem(label="\\" + g, kind="keyword", insert="\\" + g, detail="Greek letter", sort=f"3{g.lower()}"))
    return Completions((start, offset), items)


def _stem(name: str) -> str:
    """The letters a user types to reach a name: ``\\mathbf{X}`` -> ``X``, ``W_{1}`` -> ``W_1``."""
    m = re.fullmatch(r"\\[A-Za-z]+\{(.+)\}", name)
    return m.group(1) if m else name


def _in_text_group(text: str, start: int, offset: int) -> bool:
    """Inside ``\\text{…}`` of a math region: prose, no math completion."""
    seg = text[start:offset]
    for m in re.finditer(r"\\(?:text[a-z]*|mbox|label|ref|eqref|tag)\s*\{", seg):
        depth, j = 1, m.end()
        while j < len(seg) and depth:
            depth += seg[j] == "{"
            depth -= seg[j] == "}"
            j += 1
        if depth:
            return True
    return False


def _macro_symbol(doc: DocumentAnalysis, body: str) -> str | None:
    from ..parse import parse_math
    from ..scope import symbol_name

    if len(body) > 60 or "#" in body:
        return None
    try:
        pm = parse_math(body)
    except Exception:  # noqa: BLE001
        return None
    if pm.issues or len(pm.math.statements) != 1 or pm.math.statements[0].ops:
        return None
    from .. import ir

    x = pm.math.statements[0].parts[0]
    return symbol_name(x) if isinstance(x, (ir.Sym, ir.Indexed)) else None


def _shape_text(scope, rows, cols) -> str:
    try:
        r, c = scope.sizes.show(rows), scope.sizes.show(cols)
    except Exception:  # noqa: BLE001
        return "?"
    if r == "1" and c == "1":
        return "scalar"
    if c == "1":
        return f"{r}-vector" if r != "?" else "vector"
    return f"{r}×{c}"


# ------------------------------------------------------------------ signature-like help


@dataclass(frozen=True)
class ShapeHelp:
    label: str  # "A X : n×m"
    documentation: str  # Markdown-free text
    parts: list[tuple[str, str]]  # (expression as typed, shape): the statement, then the open group


_OPENERS = {"(": ")", "[": "]", "{": "}"}
_TRAILING_OP = re.compile(r"(?:[-+*/=,^_&]|\\(?!(?:top|intercal|ast|prime|ell|" + "|".join(_GREEK) + r")\b)[A-Za-z]+)\s*\Z")


def signature_help(doc: DocumentAnalysis, offset: int) -> ShapeHelp | None:
    """The shape of what is being typed at ``offset`` inside math (see the module docstring)."""
    ra = math_region_at(doc, offset)
    if ra is None:
        return None
    rel = offset - ra.region.start
    text = ra.region.text
    # the current statement: from the last row break / relation before the cursor
    line_start = max(text.rfind("\\\\", 0, rel) + 2 if text.rfind("\\\\", 0, rel) >= 0 else 0, 0)
    seg = text[line_start:rel]
    seg = re.sub(r"&", " ", seg)
    rel_at = _last_relation(seg)
    expr = seg[rel_at:]
    if not expr.strip():
        return None
    whole = _shape_of_text(doc, ra, expr)
    parts: list[tuple[str, str]] = []
    if whole is not None:
        parts.append(whole)
    inner = _open_group(expr)
    if inner is not None:
        head, body = inner
        got = _shape_of_text(doc, ra, body) if body.strip() else None
        if got is not None:
            parts.append(got)
            where = f"{head}…)" if head else "(…)"
    if not parts:
        return None
    label = f"{parts[0][0]} : {parts[0][1]}"
    docs = f"inside {where}: {parts[1][0]} : {parts[1][1]}" if len(parts) > 1 else ""
    return ShapeHelp(label, docs, parts)


_RELATION = re.compile(r"(?<!\\)(?:=|:=|\\in(?![A-Za-z])|\\(?:le|ge|leq|geq|approx|coloneqq|succ|succeq|ne|neq)(?![A-Za-z])|<|>)")


def _last_relation(seg: str) -> int:
    depth = 0
    last = 0
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "\\" and i + 1 < len(seg) and seg[i + 1] in "{}()[]|":
            i += 2
            continue
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth = max(0, depth - 1)
        elif depth == 0:
            m = _RELATION.match(seg, i)
            if m:
                last = m.end()
                i = m.end()
                continue
        i += 1
    return last


def _open_group(expr: str) -> tuple[str, str] | None:
    """The innermost unclosed ``(``/``[`` and the text after it: ``\\operatorname{tr}(A X`` ->
    (``tr(``, ``A X``)."""
    stack: list[int] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c == "\\" and i + 1 < len(expr) and expr[i + 1] in "{}()[]|":
            i += 2
            continue
        if c in "([":
            stack.append(i)
        elif c in ")]" and stack:
            stack.pop()
        i += 1
    if not stack:
        return None
    at = stack[-1]
    before = expr[:at]
    m = re.search(r"(\\operatorname\*?\s*\{([^{}]*)\}|\\([A-Za-z]+)|\\left)\s*\Z", before)
    head = ""
    if m and m.group(1) != "\\left":
        head = (m.group(2) or m.group(3) or "") + "("
    return head, expr[at + 1 :]


def _close(expr: str) -> str:
    """Make a prefix parseable: drop a dangling operator, close open groups."""
    s = expr.rstrip()
    for _ in range(4):
        t = _TRAILING_OP.sub("", s).rstrip()
        if t == s:
            break
        s = t
    stack: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if s.startswith("\\left", i):
                i += 5
                if i < len(s) and s[i] in "([":
                    stack.append("\\right" + _OPENERS[s[i]])
                    i += 1
                continue
            if s.startswith("\\right", i):
                i += 6
                if stack and stack[-1].startswith("\\right"):
                    stack.pop()
                i += 1
                continue
            if i + 1 < len(s) and s[i + 1] == "|":
                stack.append("\\|") if not (stack and stack[-1] == "\\|") else stack.pop()
                i += 2
                continue
            i += 2
            continue
        if c in _OPENERS:
            stack.append(_OPENERS[c])
        elif c in ")]}" and stack and stack[-1] == c:
            stack.pop()
        i += 1
    return s + "".join(reversed(stack))


def _shape_of_text(doc: DocumentAnalysis, ra: RegionAnalysis, expr: str) -> tuple[str, str] | None:
    from ..analysis import _child_scope
    from ..document.macros import expand
    from ..parse import parse_math
    from ..render.unicode import to_unicode
    from ..scope import resolve
    from ..shapes import ShapeChecker

    src = _close(expr)
    if not src.strip() or len(src) > 2000:
        return None
    try:
        if doc.macros:
            ex = expand(src, 0, doc.macros)
            pm = parse_math(ex.text, origin=(ex.starts, ex.ends))
        else:
            pm = parse_math(src)
        if pm.issues or len(pm.math.statements) != 1:
            return None
        st = pm.math.statements[0]
        if st.ops:
            return None
        scope = _child_scope(doc.scope)
        checker = ShapeChecker(scope, src)
        st = resolve(st, doc.scope)
        checker.check(st)
        node = st.parts[0]
        shape = checker.res.get(node)
        if shape is None:
            return None
        shown = checker.res.show(shape)
        try:
            typed = to_unicode(node)
        except Exception:  # noqa: BLE001
            typed = src.strip()
        if checker.res.problems:
            shown += " (" + checker.res.problems[0].message + ")"
        return typed, shown
    except Exception:  # noqa: BLE001 - help is a bonus; never fail the request
        return None
