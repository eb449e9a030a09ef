"""Navigating and editing math like code: definition, references, highlights, rename, outline.

Protocol-free: document offsets in, document spans and strings out (``lsp/navigation_handlers``
converts positions). Everything is computed from one ``SymbolIndex`` per analysed document:
every place a math symbol is *written*, found by walking the resolved IR of each region and
locating the name inside the node's span:

- ``written``: the name as the author typed it (``X``, ``\\mathbf X``, ``W_1``): the span is the
  name only, so ``X^\\top`` and ``X_{ij}`` give the range of ``X``;
- ``macro``: the node's span is a user-macro use (``\\vX``); the macro expansion's source map
  maps every character of a macro body to the whole use, so that is how macro uses are told apart;
- ``lower``: ``x_{ij}`` read as the entry of a declared ``X`` (the seeds' convention);
- ``mixed``: anything else (``\\hat{\\vmu}``, a macro inside a font): the node's span.

Sizes (``n`` in ``\\mathbb{R}^{n\\times p}``, ``\\frac{1}{n}``, ``I_n``) are indexed as well, with
``kind == "size"``. Fonts are part of a name: ``x`` and ``\\mathbf{x}`` are different symbols.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

from .. import ir
from ..analysis import DocumentAnalysis, RegionAnalysis
from ..document.macros import Macro, expand

Span = tuple[int, int]

_FONTS = (
    r"(?:vb|va|vu)\*?|mathbfit|symbfit|symbfup|symbf|mathbf|boldsymbol|bm|mathrm|mathit|mathsf|mathcal|"
    r"mathbb|mathfrak|mathscr|textbf|mathtt|pmb|vec|widehat|widetilde|hat|bar|tilde|overline|ddot|dot|check|breve|underline|bf"
)
_GROUP = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"
# One written name: a font command and its argument, a control word, or a letter ...
_BASE = r"\\(?:" + _FONTS + r")(?![A-Za-z])\s*(?:" + _GROUP + r"|\\[A-Za-z]+|[A-Za-z0-9])|\\[A-Za-z]+|[A-Za-z]"
# ... with optional scripts (``W_1``, ``W_{1}``, ``\Sigma_{11}``, ``W^{(l)}``, ``X_*``, ``\mathbf{w}^\star``)
_SCRIPT = re.compile(r"\s*[_^]\s*(?:" + _GROUP + r"|\\[A-Za-z]+|[A-Za-z0-9*+\-])")
_SUB = r"\s*_\s*(?:" + _GROUP + r"|\\[A-Za-z]+|[A-Za-z0-9*])"
_NAME = re.compile(r"(?P<base>" + _BASE + r")(?P<sub>" + _SUB + r")?")
_BASE_RE = re.compile(_BASE)
_SIZE_TOKEN = re.compile(r"(?:\\[A-Za-z]+|[A-Za-z])(?:\s*_\s*(?:\{(?:[^{}]|\{[^{}]*\})*\}|\\[A-Za-z]+|[A-Za-z0-9]))?")
_SIZE_BASE = re.compile(r"\\[A-Za-z]+|[A-Za-z]")
# Control words that are never size names (inside ``\mathbb{R}^{n\times p}``, ``\sum_{i=1}^{n}``)
_NOT_SIZE = re.compile(r"\\(?:times|cdot|left|right|mathbb|mathcal|mathrm|text|operatorname|sum|prod|frac|in|to|infty|dots|ldots|cdots|big|Big|bigg|Bigg|quad|qquad|min|max|sup|inf|lim|arg|log|exp)(?![A-Za-z])")
_CS_AT = re.compile(r"\\[A-Za-z@]+")


_KEY = re.compile(r"[\s{}]")


@lru_cache(maxsize=8192)
def key(name: str) -> str:
    """Spelling-insensitive comparison key: ``\\mathbf X`` ~ ``\\mathbf{X}``, ``W_1`` ~ ``W_{1}``."""
    return _KEY.sub("", name)


def find_written(text: str, name: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans in ``text[start:end]`` where ``name`` is written as a whole name (never inside
    another control word or font group: ``X`` is not found in ``\\mathbf{X}``)."""
    end = len(text) if end is None else end
    if end - start == len(name) and text.startswith(name, start) and (len(name) == 1 or name.isalpha()):
        return [(start, end)]  # the usual case: the node's span is exactly the name
    want = key(name)
    out: list[Span] = []
    pos = start
    while pos < end:
        m = _BASE_RE.search(text, pos, end)
        if m is None:
            break
        ends = [m.end()]  # the base, then the base with one, two scripts
        j = m.end()
        for _ in range(2):
            sm = _SCRIPT.match(text, j, end)
            if sm is None:
                break
            j = sm.end()
            ends.append(j)
        for e in reversed(ends):
            if key(text[m.start() : e]) == want:
                out.append((m.start(), e))
                break
        pos = ends[-1] if key(text[m.start() : ends[-1]]) == want or len(ends) == 1 else m.end()
    return out


def lower_name(name: str) -> str | None:
    """``X`` -> ``x``, ``\\mathbf{X}`` -> ``\\mathbf{x}`` (the entry convention ``x_{ij}`` of ``X``)."""
    m = re.fullmatch(r"(\\[A-Za-z]+\{)?([A-Z])(\})?", name)
    if not m or bool(m.group(1)) != bool(m.group(3)):
        return None
    return (m.group(1) or "") + m.group(2).lower() + (m.group(3) or "")


# ------------------------------------------------------------------ the index


@dataclass(frozen=True)
class Occurrence:
    name: str  # canonical name (``\mathbf{X}``, ``W_{1}``) or size name (``n``)
    span: Span  # absolute document range: the name as written, or the whole macro use
    kind: str  # "symbol" | "size"
    form: str  # "written" | "macro" | "lower" | "mixed" (spelled otherwise, e.g. a macro inside a font: the node's span)
    region: int  # index in doc.regions
    macro: str | None = None  # the macro used, for form == "macro"
    role: str = "use"  # "declaration" | "definition" | "use"
    node: ir.Expr | None = field(default=None, compare=False, repr=False)


@dataclass
class SymbolIndex:
    occurrences: list[Occurrence]  # sorted by span
    by_name: dict[tuple[str, str], list[Occurrence]]  # (kind, key(name)) -> occurrences
    macro_uses: list[tuple[str, Span]]  # top-level user-macro uses in math (absolute)
    _starts: list[int] = field(default_factory=list)
    region_uses: list[list[tuple[str, Span]]] = field(default_factory=list)  # per region, relative

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence under the cursor; a cursor just after a name also counts."""
        k = bisect_right(self._starts, offset)
        best = None
        for j in range(max(0, k - 4), min(len(self.occurrences), k + 1)):
            o = self.occurrences[j]
            if o.span[0] <= offset < o.span[1]:
                return o
            if o.span[1] == offset and best is None:
                best = o
        return best

    def of(self, occ: Occurrence) -> list[Occurrence]:
        return self.by_name.get((occ.kind, key(occ.name)), [])

    def names(self, kind: str = "symbol") -> set[str]:
        return {os_[0].name for (k, _), os_ in self.by_name.items() if k == kind and os_}


_INDEX: list = [None, None]  # [doc, index]: one entry, the document being edited


def symbol_index(doc: DocumentAnalysis) -> SymbolIndex:
    if _INDEX[0] is doc:
        return _INDEX[1]
    idx = _build_index(doc)
    _INDEX[0], _INDEX[1] = doc, idx
    return idx


def _macro_uses(ra: RegionAnalysis, macros: dict[str, Macro]) -> list[tuple[str, Span]]:
    """Top-level macro uses of a region (relative spans); a nested use maps to its outer use."""
    text = ra.region.text
    if not macros or "\\" not in text or not any(m in text for m in macros):
        return []
    try:
        used = expand(text, 0, macros).used
    except Exception:  # noqa: BLE001 - hostile input: no macro uses rather than no index
        return []
    out: list[tuple[str, Span]] = []
    seen: set[Span] = set()
    for name, sp_ in used:
        if sp_ in seen or not text.startswith(name, sp_[0]):
            continue
        seen.add(sp_)
        out.append((name, sp_))
    return out


class _RegionCache:
    """Per-region results keyed by the identity of the region's resolved statements (the analysis
    reuses them for an unchanged region, and they depend on its text, the macros and the scope),
    so after a keystroke only the edited region is re-read. Values hold the statements, so an
    id is never reused while its entry lives."""

    def __init__(self, size: int = 20000):
        from collections import OrderedDict

        self.size = size
        self.data: OrderedDict = OrderedDict()

    def get(self, ra: RegionAnalysis, extra) -> object | None:
        hit = self.data.get((id(ra.statements), extra))
        if hit is not None and hit[0] is ra.statements:
            self.data.move_to_end((id(ra.statements), extra))
            return hit[1]
        return None

    def put(self, ra: RegionAnalysis, extra, value) -> None:
        self.data[(id(ra.statements), extra)] = (ra.statements, value)
        if len(self.data) > self.size:
            self.data.popitem(last=False)


_REGION_OCCS = _RegionCache()


def _region_occurrences(ra: RegionAnalysis, macros: dict[str, Macro], size_keys: frozenset[str]):
    """(occurrences with region-relative spans, whether each is an `M = …` left side; macro uses)."""
    hit = _REGION_OCCS.get(ra, size_keys)
    if hit is not None:
        return hit
    text = ra.region.text
    uses = _macro_uses(ra, macros)
    use_at = {sp_: n for n, sp_ in uses}
    out: list[tuple[Occurrence, bool]] = []
    for st in ra.statements:
        lhs = st.parts[0] if st.ops and st.ops[0] in ("=", ":=") and len(st.parts) > 1 and isinstance(st.parts[0], ir.Sym) else None
        for node in st.walk():
            if isinstance(node, ir.Sym) and node.span is not None:
                kind = "size" if key(node.name) in size_keys else "symbol"
                o = _locate(text, node, node.name, use_at, 0, 0, kind)
                if o is not None:
                    out.append((o, node is lhs))
            if size_keys and node.span and isinstance(node, (ir.Space, ir.Opaque, ir.Identity, ir.Ones, ir.Entry, ir.Basis, ir.UnitVec)):
                out.extend((o, False) for o in _size_tokens(text, node, size_keys, 0, 0, use_at))
    value = (out, uses)
    _REGION_OCCS.put(ra, size_keys, value)
    return value


def _build_index(doc: DocumentAnalysis) -> SymbolIndex:
    occs: list[Occurrence] = []
    all_uses: list[tuple[str, Span]] = []
    region_uses: list[list[tuple[str, Span]]] = []
    scope = doc.scope
    decl_spans = {(key(d.name), d.span): ("definition" if d.kind == "defined" else "declaration") for d in scope.decls.values()}
    decl_spans.update({(key(new.name), new.span): "declaration" for _, new in scope.redeclared})
    decl_keys = {key(n) for n in scope.decls}
    size_keys = frozenset({key(s) for s in scope.size_names} - decl_keys)
    for k, ra in enumerate(doc.regions):
        base = ra.region.start
        rel, uses = _region_occurrences(ra, doc.macros, size_keys)
        region_uses.append(uses)
        all_uses.extend((n, (s + base, e + base)) for n, (s, e) in uses)
        for o, is_lhs in rel:
            ns = o.node.span if o.node is not None else None
            role = "use"
            if o.kind == "symbol" and ns is not None:
                role = decl_spans.get((key(o.name), (ns[0] + base, ns[1] + base))) or ("definition" if is_lhs else "use")
            occs.append(Occurrence(o.name, (o.span[0] + base, o.span[1] + base), o.kind, o.form, k, o.macro, role, o.node))
    occs = _dedupe(occs)
    by_name: dict[tuple[str, str], list[Occurrence]] = {}
    for o in occs:
        by_name.setdefault((o.kind, key(o.name)), []).append(o)
    all_uses.sort(key=lambda u: u[1])
    return SymbolIndex(occs, by_name, all_uses, [o.span[0] for o in occs], region_uses)


def _declared(scope, name: str) -> bool:
    return name in scope.decls or any(key(n) == key(name) for n in scope.decls)


def _locate(text: str, node: ir.Expr, name: str, use_at: dict, k: int, base: int, kind: str, role: str = "use") -> Occurrence | None:
    s, e = node.span
    if (s, e) in use_at:  # the whole node came from a macro body
        return Occurrence(name, (s + base, e + base), kind, "macro", k, use_at[(s, e)], role=role, node=node)
    found = find_written(text, name, s, e)
    if found:
        a, b = found[0]
        return Occurrence(name, (a + base, b + base), kind, "written", k, role=role, node=node)
    for (a, b), mac in use_at.items():  # `(\vX)`: a span with parentheses around a macro use
        if s <= a and b <= e and not text[s:a].strip("({[ \t") and not text[b:e].strip(")}] \t"):
            return Occurrence(name, (a + base, b + base), kind, "macro", k, mac, role=role, node=node)
    low = lower_name(name)
    if low is not None:
        found = find_written(text, low, s, e)
        if found:
            a, b = found[0]
            return Occurrence(name, (a + base, b + base), kind, "lower", k, role=role, node=node)
    # spelled in a way not recognised above (`\hat{\vmu}`: a macro inside a font): the node itself
    a, b = _strip_wrappers(text, s, e)
    if b > a:
        return Occurrence(name, (a + base, b + base), kind, "mixed", k, role=role, node=node)
    return None


def _strip_wrappers(text: str, s: int, e: int) -> Span:
    """``(X)`` -> ``X``: the parentheses a node's span may include."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    while e > s:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e - s >= 2 and text[s] in pairs and text[e - 1] == pairs[text[s]]:
            s, e = s + 1, e - 1
            continue
        break
    return s, e


def _size_tokens(text: str, node: ir.Expr, size_keys: set[str], k: int, base: int, use_at: dict) -> list[Occurrence]:
    """Sizes written inside a node's own text: ``\\mathbb{R}^{n\\times p}``, ``I_n``, ``\\sum_{i=1}^{n}``."""
    s, e = node.span
    if isinstance(node, ir.Sym):
        # `W_{n}`: a size inside a subscripted name is not a use of the size
        return []
    holes = sorted(c.span for c in node.children() if c.span is not None)
    out: list[Occurrence] = []
    pos = s
    segments = []
    for a, b in holes:
        if a > pos:
            segments.append((pos, min(a, e)))
        pos = max(pos, b)
    if pos < e:
        segments.append((pos, e))
    for a, b in segments:
        if any(ua <= a and b <= ub for ua, ub in use_at):
            continue
        seg = text[a:b]
        if isinstance(node, ir.Space):
            caret = seg.find("^")  # only the exponent holds sizes: `\mathbb{R}^{n\times p}`
            if caret < 0:
                continue
        else:
            caret = -1
        i = caret + 1
        while (m := _SIZE_BASE.search(seg, i)) is not None:
            i = m.end()
            if m.start() > 0 and seg[m.start() - 1] == "\\" or _NOT_SIZE.match(m.group(0)):
                continue
            full = _SIZE_TOKEN.match(seg, m.start())
            for tok_end in ((full.end(),) if full and full.end() > m.end() else ()) + (m.end(),):
                tok = seg[m.start() : tok_end]
                if key(tok) in size_keys:
                    out.append(Occurrence(re.sub(r"\s+", "", tok), (a + m.start() + base, a + tok_end + base), "size", "written", k, node=node))
                    i = tok_end
                    break
    return out


def _dedupe(occs: list[Occurrence]) -> list[Occurrence]:
    occs.sort(key=lambda o: (o.span[0], -o.span[1], o.role != "declaration"))
    out: list[Occurrence] = []
    seen: set[tuple[Span, str, str]] = set()
    for o in occs:
        ident = (o.span, o.kind, key(o.name))
        if ident in seen:
            continue
        seen.add(ident)
        out.append(o)
    return out


# ------------------------------------------------------------------ definition / declaration


@dataclass(frozen=True)
class Target:
    span: Span  # where to go (the name at the target); offsets in ``path``'s text
    path: str | None = None  # None: this document; else another file of the project
    full: Span | None = None  # the whole construct (a \newcommand), when it differs
    name: str | None = None  # in another file: the text to select inside ``span`` (the macro's name)


def macro_path(doc: DocumentAnalysis, name: str) -> str | None:
    """The file defining macro ``name`` when it is another file of the project (the
    analysis' ``context``), else None."""
    ctx = getattr(doc, "context", None)
    paths = getattr(ctx, "macro_paths", None) or {}
    if name in paths and getattr(ctx, "macros", {}).get(name) is doc.macros.get(name):
        return paths[name]
    return None


def macro_at(doc: DocumentAnalysis, offset: int) -> tuple[Macro, Span] | None:
    """A use of a document macro under the cursor (anywhere in the text)."""
    text = doc.text
    if not doc.macros:
        return None
    lo = max(0, offset - 64)
    for m in _CS_AT.finditer(text, lo, min(len(text), offset + 64)):
        if m.start() <= offset <= m.end() and m.group(0) in doc.macros:
            mac = doc.macros[m.group(0)]
            if macro_path(doc, mac.name) is None and mac.span[0] <= m.start() < mac.span[1] and _macro_name_span(doc, mac) == (m.start(), m.end()):
                return None  # the definition itself
            return mac, (m.start(), m.end())
        if m.start() > offset:
            break
    return None


def _macro_name_span(doc: DocumentAnalysis, mac: Macro) -> Span:
    i = doc.text.find(mac.name, mac.span[0], mac.span[1])
    while i >= 0:
        j = i + len(mac.name)
        if not (j < len(doc.text) and doc.text[j].isalpha() and mac.name[-1].isalpha()):
            return (i, j)
        i = doc.text.find(mac.name, j, mac.span[1])
    return mac.span


def macro_target(doc: DocumentAnalysis, mac: Macro) -> Target:
    path = macro_path(doc, mac.name)
    if path is not None:  # defined in another file (a preamble, macros.sty)
        return Target(mac.span, path, mac.span, mac.name)
    return Target(_macro_name_span(doc, mac), None, mac.span)


def symbol_at(doc: DocumentAnalysis, offset: int) -> Occurrence | None:
    return symbol_index(doc).at(offset)


def _decl_targets(doc: DocumentAnalysis, occ: Occurrence) -> list[Target]:
    idx = symbol_index(doc)
    if occ.kind == "size":
        same = idx.of(occ)
        first = next((o for o in same if isinstance(o.node, ir.Space)), None) or (same[0] if same else None)
        return [Target(first.span)] if first else []
    scope = doc.scope
    out: list[Target] = []
    d = scope.decls.get(occ.name) or next((v for n, v in scope.decls.items() if key(n) == key(occ.name)), None)
    if d is not None:
        out.append(Target(_name_at(idx, occ, d.span) if d.path is None else d.span, d.path))
        for old, new in scope.redeclared:
            if key(new.name) == key(occ.name):
                t = Target(_name_at(idx, occ, new.span) if new.path is None else new.span, new.path)
                if t not in out:
                    out.append(t)
        return out
    # `M = …` whose shape is unknown is not in the scope: its first definition
    for o in idx.of(occ):
        if o.role == "definition":
            return [Target(o.span)]
    return []


def _name_at(idx: SymbolIndex, occ: Occurrence, span: Span) -> Span:
    """The written name inside a declaration's span (a Sym span may include parentheses)."""
    for o in idx.of(occ):
        if span[0] <= o.span[0] and o.span[1] <= span[1]:
            return o.span
    return span


def definition(doc: DocumentAnalysis, offset: int) -> list[Target]:
    """``textDocument/definition``: from a symbol to its declaration (``X \\in …``, prose, or the
    first ``M = …``); from a macro use to its ``\\newcommand``/``\\def`` — and, when the macro
    stands for a symbol, to that symbol's declaration too."""
    occ = symbol_at(doc, offset)
    mac = macro_at(doc, offset)
    out: list[Target] = []
    if mac is not None:
        out.append(macro_target(doc, mac[0]))
    if occ is not None and (mac is None or occ.form == "macro"):
        out.extend(t for t in _decl_targets(doc, occ) if t not in out)
    return out


def declaration(doc: DocumentAnalysis, offset: int) -> list[Target]:
    """``textDocument/declaration``: the symbol's declaration; for a macro that stands for no
    symbol, its definition."""
    occ = symbol_at(doc, offset)
    if occ is not None:
        out = _decl_targets(doc, occ)
        if out:
            return out
    mac = macro_at(doc, offset)
    return [macro_target(doc, mac[0])] if mac is not None else []


# ------------------------------------------------------------------ references / highlights


def references(doc: DocumentAnalysis, offset: int, include_declaration: bool = True) -> list[Span]:
    occ = symbol_at(doc, offset)
    if occ is None:
        return []
    return [o.span for o in symbol_index(doc).of(occ) if include_declaration or o.role != "declaration"]


def highlights(doc: DocumentAnalysis, offset: int) -> list[tuple[Span, str]]:
    """Every use of the symbol under the cursor in this document; ``"write"`` for declarations
    and definitions, ``"read"`` for uses."""
    occ = symbol_at(doc, offset)
    if occ is None:
        return []
    return [(o.span, "write" if o.role in ("declaration", "definition") else "read") for o in symbol_index(doc).of(occ)]


# ------------------------------------------------------------------ rename


class RenameError(Exception):
    """Why a rename is refused; the message is shown to the user."""


@dataclass(frozen=True)
class Edit:
    span: Span
    new_text: str


@dataclass(frozen=True)
class RenamePlace:
    span: Span
    placeholder: str  # the canonical name (``\mathbf{X}``), what the user edits


def prepare_rename(doc: DocumentAnalysis, offset: int) -> RenamePlace | None:
    occ = symbol_at(doc, offset)
    if occ is None:
        return None
    return RenamePlace(occ.span, occ.name)


def parse_name(new_name: str) -> str | None:
    """The canonical name of ``new_name`` when it is one math name (``Y``, ``\\mathbf{Y}``,
    ``\\Sigma``, ``W_2``), else None."""
    from ..parse import parse_math
    from ..scope import symbol_name

    t = new_name.strip()
    if not t or len(t) > 80 or not re.fullmatch(_NAME.pattern, t) or "$" in t:
        return None
    pm = parse_math(t)
    if pm.issues or pm.unknown or len(pm.math.statements) != 1:
        return None
    st = pm.math.statements[0]
    if st.ops or len(st.parts) != 1:
        return None
    x = st.parts[0]
    if not isinstance(x, (ir.Sym, ir.Indexed)):
        return None
    return symbol_name(x)


def rename(doc: DocumentAnalysis, offset: int, new_name: str) -> list[Edit]:
    """Edits renaming the symbol under the cursor everywhere it is written in math.
    Raises ``RenameError`` (with a message for the user) when the rename would not be faithful."""
    occ = symbol_at(doc, offset)
    if occ is None:
        raise RenameError("mcls renames math symbols: put the cursor on a name in math")
    idx = symbol_index(doc)
    new = parse_name(new_name)
    if new is None:
        raise RenameError(f"'{new_name}' is not a math name (a letter, a Greek letter or a font such as \\mathbf{{Y}}, with an optional subscript)")
    old = occ.name
    if key(new) == key(old):
        return []
    _check_clash(doc, idx, occ, new)
    _check_local(doc, idx, occ)
    edits: dict[Span, str] = {}
    macro_sites: set[Span] = set()
    for o in idx.of(occ):
        if o.form == "macro":
            sites = _macro_body_sites(doc, o.macro or "", old, set())
            if not sites:
                raise RenameError(f"{old} comes from the macro {o.macro}, whose definition does not spell it out: rename it in the macro by hand")
            macro_sites.update(sites)
            continue
        written = doc.text[o.span[0] : o.span[1]]
        target = new  # form "written", or "mixed": the whole name is rewritten
        if o.form == "lower":
            low = lower_name(new)
            target = low if low is not None and low not in idx.names() and not _declared(doc.scope, low) else new
        edits[o.span] = _fit(doc.text, o.span, _author_form(written, target))
    for sp_ in macro_sites:
        written = doc.text[sp_[0] : sp_[1]]
        edits[sp_] = _fit(doc.text, sp_, _author_form(_unescape(written), new, escaped=written.startswith("\\\\")))
    out = [Edit(s, t) for s, t in sorted(edits.items())]
    _verify(doc, occ, old, new, out)
    return out


def _check_clash(doc: DocumentAnalysis, idx: SymbolIndex, occ: Occurrence, new: str) -> None:
    k = key(new)
    scope = doc.scope
    taken = [n for n in scope.decls if key(n) == k]
    if taken:
        d = scope.decls[taken[0]]
        raise RenameError(f"{new} is already a symbol of this document ({new} : {_shape_words(d)}): renaming {occ.name} to it would merge two symbols")
    if any(key(s) == k for s in scope.size_names):
        raise RenameError(f"{new} is used as a size or an index in this document: renaming {occ.name} to it would merge them")
    if ("symbol", k) in idx.by_name or ("size", k) in idx.by_name:
        raise RenameError(f"{new} is already used in this document's math: renaming {occ.name} to it would merge two symbols")
    if any(key(m) == k for m in doc.macros):
        raise RenameError(f"{new} is a macro of this document")
    from ..scope import _BASIS_MAT, _BASIS_VEC, _IDENTITY

    for names, node_type, what in ((_IDENTITY, ir.Identity, "the identity matrix"), (_BASIS_MAT, ir.Basis, "a single-entry matrix E_ij"),
                                   (_BASIS_VEC, ir.UnitVec, "a standard basis vector e_i")):
        if new in names and any(isinstance(n, node_type) for ra in doc.regions for st in ra.statements for n in st.walk()):
            raise RenameError(f"{new} already means {what} in this document: renaming {occ.name} to it would change what the math says")
    if occ.kind == "size" and not re.fullmatch(r"[A-Za-z](?:_(?:\{[A-Za-z0-9]+\}|[A-Za-z0-9]))?|\\[A-Za-z]+", new):
        raise RenameError(f"{new} cannot be a size name (a letter, optionally with a subscript)")


def _check_local(doc: DocumentAnalysis, idx: SymbolIndex, occ: Occurrence) -> None:
    """Renaming across the files of a project is not done: refuse when another file declares
    the symbol or defines a macro standing for it."""
    import os

    decls = [d for n, d in doc.scope.decls.items() if key(n) == key(occ.name)]
    decls += [new for _, new in doc.scope.redeclared if key(new.name) == key(occ.name)]
    for d in decls:
        if d.path is not None:
            raise RenameError(f"{occ.name} is declared in {os.path.basename(d.path)}: mcls renames within one file, "
                              "and renaming here only would leave that declaration behind")
    for o in idx.of(occ):
        if o.form == "macro" and o.macro and macro_path(doc, o.macro) is not None:
            raise RenameError(f"{occ.name} comes from {o.macro}, defined in {os.path.basename(macro_path(doc, o.macro))}: "
                              "rename it in that file")


def _shape_words(d) -> str:
    from ..sizes import size_text

    try:
        if d.rows == 1 and d.cols == 1:
            return "scalar"
        if d.cols == 1:
            return f"{size_text(d.rows)}-vector"
        return f"{size_text(d.rows)}×{size_text(d.cols)}"
    except Exception:  # noqa: BLE001
        return "a symbol"


def _author_form(written: str, new: str, escaped: bool = False) -> str:
    """``new`` spelled like the author spelled the old name at this site:
    ``\\mathbf X`` renamed to ``\\mathbf{Y}`` stays brace-less (``\\mathbf Y``)."""
    w = re.fullmatch(r"(\\[A-Za-z]+)(\s+)([A-Za-z0-9])", written.strip())
    n = re.fullmatch(r"(\\[A-Za-z]+)\{([A-Za-z0-9])\}", new)
    out = new
    if w and n and w.group(1) == n.group(1):
        out = f"{n.group(1)}{w.group(2)}{n.group(2)}"
    return out.replace("\\", "\\\\") if escaped else out


def _unescape(s: str) -> str:
    return s.replace("\\\\", "\\")


def _fit(text: str, span: Span, new: str) -> str:
    """Keep tokens apart: ``\\cdot`` + ``S`` must not become ``\\cdotS``, nor ``\\beta`` + ``y``."""
    a, b = span
    if new[:1].isalpha() and re.search(r"\\[A-Za-z]+$", text[max(0, a - 40) : a]):
        new = " " + new
    if re.search(r"\\[A-Za-z]+$", new) and b < len(text) and text[b].isalpha():
        new = new + " "
    return new


def _macro_body_sites(doc: DocumentAnalysis, macro: str, name: str, seen: set[str]) -> set[Span]:
    """Where ``name`` is written in the definition of ``macro`` (and of macros its body uses)."""
    mac = doc.macros.get(macro)
    if mac is None or macro in seen:
        return set()
    seen.add(macro)
    if macro_path(doc, macro) is not None:
        import os

        raise RenameError(f"{name} comes from {macro}, defined in {os.path.basename(macro_path(doc, macro))}: rename it in that file")
    body_span = _body_span(doc, mac)
    if body_span is None:
        return set()
    a, b = body_span
    text = doc.text
    out: set[Span] = set()
    escaped = text[a:b] != mac.body
    if escaped:  # YAML front matter "\\mathbf{x}": search an unescaped copy, map back
        raw = text[a:b]
        plain, back = [], []
        i = 0
        while i < len(raw):
            back.append(i)
            if raw.startswith("\\\\", i):
                plain.append("\\")
                i += 2
            else:
                plain.append(raw[i])
                i += 1
        back.append(len(raw))
        p = "".join(plain)
        for s, e in find_written(p, name):
            out.add((a + back[s], a + back[e]))
        body_text = p
    else:
        out.update(find_written(text, name, a, b))
        body_text = mac.body
    for m in _CS_AT.finditer(body_text):
        if m.group(0) in doc.macros and m.group(0) != macro:
            out |= _macro_body_sites(doc, m.group(0), name, seen)
    return out


def _body_span(doc: DocumentAnalysis, mac: Macro) -> Span | None:
    text = doc.text
    s, e = mac.span
    if mac.body and text[e - 1 : e] == "}" and text[e - 1 - len(mac.body) : e - 1] == mac.body:
        return (e - 1 - len(mac.body), e - 1)
    esc = mac.body.replace("\\", "\\\\")  # YAML front matter: "\\mathbf{x}"
    if esc != mac.body and mac.body:
        i = text.rfind(esc, s, e)
        if i >= 0:
            return (i, i + len(esc))
    i = text.rfind(mac.body, s, e) if mac.body else -1
    if i >= 0:
        return (i, i + len(mac.body))
    return None


def apply_edits(text: str, edits: list[Edit]) -> str:
    for e in sorted(edits, key=lambda e: e.span, reverse=True):
        text = text[: e.span[0]] + e.new_text + text[e.span[1] :]
    return text


def _verify(doc: DocumentAnalysis, occ: Occurrence, old: str, new: str, edits: list[Edit]) -> None:
    """Re-analyse the renamed document: the new name must be used exactly where the old one
    was, the old one nowhere, and no new problem may appear. Otherwise refuse."""
    from collections import Counter

    from ..analysis import analyze

    before = symbol_index(doc)
    n_before = len(before.of(occ))
    after_doc = analyze(apply_edits(doc.text, edits), doc.language, doc.path)
    after = _build_index(after_doc)
    n_new = len(after.by_name.get((occ.kind, key(new)), []))
    n_old = len(after.by_name.get((occ.kind, key(old)), []))
    if n_new != n_before or n_old != 0:
        raise RenameError(f"mcls cannot rename {old} to {new} safely here: after the rename it reads {n_new} uses of {new} "
                          f"(expected {n_before}) and {n_old} of {old}")
    was = Counter(p.code for p in doc.problems)
    now = Counter(p.code for p in after_doc.problems)
    extra = now - was
    if extra:
        code = next(iter(extra))
        msg = next(p.message for p in after_doc.problems if p.code == code)
        raise RenameError(f"renaming {old} to {new} would change what the math means ({code}: {msg})")


# ------------------------------------------------------------------ document symbols (outline)


@dataclass
class OutlineItem:
    name: str  # "X : n×p" / the section title
    detail: str  # the LaTeX name / the heading command
    kind: str  # "section" | "matrix" | "vector" | "scalar" | "symbol"
    span: Span  # the whole item (a section runs to the next heading of its level)
    selection: Span  # the name
    children: list["OutlineItem"] = field(default_factory=list)


_TEX_HEADING = re.compile(r"\\(part|chapter|section|subsection|subsubsection|paragraph)\*?\s*(?:\[[^\]\r\n]*\]\s*)?\{")
_TEX_LEVEL = {"part": 0, "chapter": 1, "section": 2, "subsection": 3, "subsubsection": 4, "paragraph": 5}
_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)


def headings(text: str, language: str) -> list[tuple[int, str, Span, Span]]:
    """(level, title, heading span, title span) in document order."""
    out: list[tuple[int, str, Span, Span]] = []
    if language == "markdown":
        fenced: list[Span] = []
        open_at, marker = None, ""
        for m in _FENCE.finditer(text):
            if open_at is None:
                open_at, marker = m.start(), m.group(1)
            elif m.group(1)[0] == marker[0] and len(m.group(1)) >= len(marker):
                fenced.append((open_at, m.end()))
                open_at = None
        if open_at is not None:
            fenced.append((open_at, len(text)))
        front = re.match(r"\A\ufeff?---[ \t]*\r?\n.*?\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", text, re.S)
        if front:  # YAML front matter: `# comments` are not headings
            fenced.append((0, front.end()))
        for m in _MD_HEADING.finditer(text):
            if any(a <= m.start() < b for a, b in fenced):
                continue
            title = m.group(2).strip()
            out.append((len(m.group(1)), title, (m.start(), m.end()), (m.start(2), m.start(2) + len(title))))
        return out
    for m in _TEX_HEADING.finditer(text):
        line_start = max(text.rfind("\n", 0, m.start()), text.rfind("\r", 0, m.start())) + 1
        if re.search(r"(?<!\\)%", text[line_start : m.start()]):
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth and j - m.end() < 500:
            c = text[j]
            if c == "\\":
                j += 2
                continue
            depth += c == "{"
            depth -= c == "}"
            j += 1
        title = re.sub(r"\s+", " ", text[m.end() : j - 1]).strip()
        out.append((_TEX_LEVEL[m.group(1)], title, (m.start(), j), (m.end(), max(m.end(), j - 1))))
    return out


def document_symbols(doc: DocumentAnalysis) -> list[OutlineItem]:
    """Declared and defined symbols with their shapes, grouped under the document's headings."""
    from ..render.unicode import to_unicode

    scope = doc.scope
    decls = list(scope.decls.values()) + [new for _, new in scope.redeclared]
    seen: set[tuple[str, Span]] = set()
    items: list[OutlineItem] = []
    idx = symbol_index(doc)
    for d in sorted(decls, key=lambda d: d.span):
        if d.path is not None or (d.name, d.span) in seen:
            continue
        seen.add((d.name, d.span))
        shape, kind = _shape(scope, d.rows, d.cols)
        try:
            shown = to_unicode(ir.Sym(d.name))
        except Exception:  # noqa: BLE001
            shown = d.name
        sel = d.span
        for o in idx.by_name.get(("symbol", key(d.name)), []):
            if d.span[0] <= o.span[0] and o.span[1] <= d.span[1]:
                sel = o.span
                break
        items.append(OutlineItem(f"{shown} : {shape}", d.name + ("" if d.kind != "ambiguous" else " (declared twice)"), kind, sel, sel))
    # definitions whose shape is unknown (not in the scope)
    declared_keys = {key(d.name) for d in decls}
    for (k, nk), os_ in idx.by_name.items():
        if k != "symbol" or nk in declared_keys:
            continue
        o = next((o for o in os_ if o.role == "definition"), None)
        if o is not None:
            shown = _safe_unicode(o.name)
            items.append(OutlineItem(f"{shown} : ?", o.name, "symbol", o.span, o.span))
    items.sort(key=lambda i: i.span)
    return _group(items, headings(doc.text, doc.language), len(doc.text))


def _safe_unicode(name: str) -> str:
    from ..render.unicode import to_unicode

    try:
        return to_unicode(ir.Sym(name))
    except Exception:  # noqa: BLE001
        return name


def _shape(scope, rows, cols) -> tuple[str, str]:
    show = scope.sizes.show
    try:
        r, c = show(rows), show(cols)
    except Exception:  # noqa: BLE001
        return "?", "symbol"
    if r == "1" and c == "1":
        return "scalar", "scalar"
    if c == "1":
        return (f"{r}-vector" if r != "?" else "vector"), "vector"
    return f"{r}×{c}", "matrix"


def _group(items: list[OutlineItem], heads, n: int) -> list[OutlineItem]:
    """Sections nest by level; each symbol goes under the innermost section holding it."""
    if not heads:
        return items
    roots: list[OutlineItem] = []
    stack: list[tuple[int, OutlineItem]] = []
    flat: list[OutlineItem] = []
    for k, (level, title, span, sel) in enumerate(heads):
        end = n
        for level2, _, span2, _ in heads[k + 1 :]:
            if level2 <= level:
                end = span2[0]
                break
        sec = OutlineItem(title or "(untitled)", "", "section", (span[0], end), sel)
        while stack and stack[-1][0] >= level:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(sec)
        stack.append((level, sec))
        flat.append(sec)
    for it in items:
        home = None
        for sec in flat:  # the innermost (last starting) section containing the item
            if sec.span[0] <= it.span[0] < sec.span[1] and (home is None or sec.span[0] >= home.span[0]):
                home = sec
        (home.children if home else roots).append(it)
    for sec in flat:
        sec.children.sort(key=lambda i: i.span[0])
    roots.sort(key=lambda i: i.span[0])
    return roots
