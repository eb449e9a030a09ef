"""Semantic tokens for math: what each name *is*, so themes colour matrices, vectors,
scalars, sizes, operators and functions differently — inside math regions only.

Standard token types with modifiers, so any theme colours them without configuration:

==================  =========================================================
``variable``        a named quantity; modifier ``matrix``, ``vector`` or ``scalar``
                    from its shape (none when the shape is unknown),
                    ``declaration``/``definition`` where it is declared/defined,
                    ``defaultLibrary``+``readonly`` for conventions (``I``, ``E_{ij}``, ``e_i``, ``\\mathbf{1}``)
``parameter``       a size (``n`` in ``\\mathbb{R}^{n\\times p}``, ``\\frac{1}{n}``) or an index letter
``function``        ``\\operatorname{tr}``, ``\\det``, ``\\exp``, ``f(x)`` (``defaultLibrary`` when mcls knows it)
``operator``        ``\\odot``, ``\\otimes``, ``^\\top``, ``+``, ``=``, ``\\in``, ``\\sum``, ``\\partial``, …
``macro``           a use of a document macro that stands for no symbol
``type``            ``\\mathbb{R}`` in a declaration
``number``          numerals
==================  =========================================================

Protocol-free: ``semantic_tokens`` returns absolute document spans; the LSP layer encodes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import ir
from ..analysis import DocumentAnalysis
from .navigation import _RegionCache, key, symbol_index
from .semantic_legend import TOKEN_MODIFIERS, TOKEN_TYPES

Span = tuple[int, int]


@dataclass(frozen=True)
class Token:
    span: Span  # absolute document range, one line
    type: str  # one of TOKEN_TYPES
    modifiers: tuple[str, ...] = ()

    @property
    def type_index(self) -> int:
        return TOKEN_TYPES.index(self.type)

    @property
    def modifier_bits(self) -> int:
        bits = 0
        for m in self.modifiers:
            bits |= 1 << TOKEN_MODIFIERS.index(m)
        return bits


_OPERATOR_WORDS = (
    "odot|circ|otimes|oplus|oslash|cdot|times|top|intercal|partial|nabla|sum|prod|in|notin|le|leq|ge|geq|leqslant|geqslant|"
    "succ|succeq|prec|preceq|approx|ne|neq|mid|coloneqq|coloneq|triangleq|equiv|propto|sim|simeq|to|mapsto|pm|mp|"
    "ast|star|setminus|cup|cap|subset|subseteq|wedge|vee|div|bigoplus|bigotimes|coprod|int|lim|max|min|sup|inf|argmin|argmax|"
    "mathrel|eqqcolon|doteq|cong"
)
_OPERATOR = re.compile(r"\\(?:" + _OPERATOR_WORDS + r")(?![A-Za-z])|[-+=<>/:*]")
_TEXTISH = re.compile(r"\\(?:text[A-Za-z]*|mbox|label|tag|ref|eqref|hspace|vspace|operatorname\*?|mathrm|begin|end)\s*\{[^{}]*\}")
_FUNC_HEAD = re.compile(r"[{\s]*(\\operatorname\*?\s*\{[^{}]*\}|\\math(?:rm|sf|op)\s*\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z]+)")
_OPAQUE_HEAD = re.compile(r"[{\s]*(\\(?:math[a-z]+|operatorname\*?)\s*\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z])")
_BIGOP = re.compile(r"[{\s]*(\\(?:sum|prod|max|min|sup|inf|lim|bigoplus|bigotimes|coprod|int|arg\s*\\?(?:min|max)|argmin|argmax)(?![A-Za-z]))")
_TMARK = re.compile(r"(?:\^\s*\{?\s*(\\top|\\intercal|\\mathsf\s*\{\s*T\s*\}|\\mathrm\s*\{\s*T\s*\}|\\ast|T|H|\*)\s*\}?|('+))\s*$")
_FIELD = re.compile(r"\s*(\\mathbb\s*\{\s*[A-Z]\s*\}|\\mathbb\s+[A-Z]|\\(?:R|Re|reals|mathcal\s*\{\s*[A-Z]\s*\}))")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_FUNCS_KNOWN = set(ir.MATRIX_FUNCS) | set(ir.ELEMENTWISE_FUNCS)


def semantic_tokens(doc: DocumentAnalysis, within: Span | None = None) -> list[Token]:
    """Tokens of every math region (or those overlapping ``within``), sorted, non-overlapping."""
    idx = symbol_index(doc)
    # (start, priority, end, type, modifiers): a lower priority wins where tokens overlap
    cands: list[tuple[int, int, int, str, tuple[str, ...]]] = []
    memo: dict[str, str | None] = {}  # category of declared names

    for o in idx.occurrences:
        if within and (o.span[1] < within[0] or o.span[0] > within[1]):
            continue
        if o.kind == "size":
            cands.append((o.span[0], 0, o.span[1], "parameter", ()))
            continue
        decl = doc.scope.decls.get(o.name)
        if decl is not None and o.name in memo:
            cat = memo[o.name]
        else:
            cat = _category(doc.regions[o.region], o.node, decl)
            if decl is not None and decl.kind != "ambiguous":
                memo[o.name] = cat
        mods = (o.role,) if o.role in ("declaration", "definition") else ()
        cands.append((o.span[0], 0, o.span[1], "variable", mods + ((cat,) if cat else ())))

    for k, ra in enumerate(doc.regions):
        base = ra.region.start
        if within and (ra.region.end < within[0] or base > within[1]):
            continue
        uses = idx.region_uses[k] if k < len(idx.region_uses) else []
        cands.extend((s + base, p, e + base, t, m) for s, p, e, t, m in _region_tokens(ra, uses))
    for _, sp in idx.macro_uses:  # a use that stands for no symbol (a symbol's occurrence wins)
        if not within or (sp[1] >= within[0] and sp[0] <= within[1]):
            cands.append((sp[0], 4, sp[1], "macro", ()))

    cands.sort(key=lambda c: (c[0], c[1], c[0] - c[2]))
    out: list[Token] = []
    end = -1
    text = doc.text
    for start, _, stop, typ, mods in cands:
        if start < end or stop <= start:
            continue
        if within and (stop <= within[0] or start >= within[1]):
            continue
        piece = text[start:stop]
        if "\n" in piece or "\r" in piece:
            continue
        out.append(Token((start, stop), typ, mods))
        end = stop
    return out


_REGION_TOKENS = _RegionCache()
_CONVENTION_HEAD = re.compile(r"\\[A-Za-z]+\s*\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z]")


def _region_tokens(ra, uses) -> list[tuple[int, int, int, str, tuple[str, ...]]]:
    """Tokens read from a region's IR and text (functions, operators, conventions, fields,
    numbers), with region-relative spans; cached per region."""
    hit = _REGION_TOKENS.get(ra, None)
    if hit is not None:
        return hit
    text = ra.region.text
    use_at = {sp[0]: sp for _, sp in uses}
    out: list[tuple[int, int, int, str, tuple[str, ...]]] = []

    def add(a: int, b: int, prio: int, typ: str, mods: tuple[str, ...] = ()) -> None:
        out.append((a, prio, b, typ, mods))

    for st in ra.statements:
        for node in st.walk():
            if node.span is None:
                continue
            s, e = node.span
            at_use = use_at.get(s)
            if isinstance(node, ir.Func):
                if at_use:
                    add(at_use[0], at_use[1], 1, "function", ("defaultLibrary",))
                    continue
                m = _FUNC_HEAD.match(text, s, e)
                if m:
                    add(m.start(1), m.end(1), 1, "function", ("defaultLibrary",))
            elif isinstance(node, ir.Opaque):
                if at_use and not node.args:
                    continue
                m = _BIGOP.match(text, s, e)
                if m:
                    add(m.start(1), m.end(1), 1, "operator")
                    continue
                if node.args and not node.text.startswith(("field:", "column", "row")):
                    if at_use:
                        add(at_use[0], at_use[1], 1, "function")
                        continue
                    m = _OPAQUE_HEAD.match(text, s, e)
                    if m and key(m.group(1)) == key(node.text.rstrip("'")):
                        add(m.start(1), m.end(1), 1, "function")
            elif isinstance(node, ir.Transpose):
                m = _TMARK.search(text, s, e)
                if m and not (node.x.span and m.start() < node.x.span[1]):
                    g = 1 if m.group(1) is not None else 2
                    add(m.start(g), m.end(g), 1, "operator")
            elif isinstance(node, (ir.Identity, ir.Basis, ir.UnitVec, ir.Ones)):
                cat = "vector" if isinstance(node, (ir.UnitVec, ir.Ones)) else "matrix"
                if at_use:
                    add(at_use[0], at_use[1], 1, "variable", ("readonly", "defaultLibrary", cat))
                    continue
                m = _CONVENTION_HEAD.match(text, s, e)
                if m:
                    add(m.start(), m.end(), 1, "variable", ("readonly", "defaultLibrary", cat))
            elif isinstance(node, ir.Space):
                m = _FIELD.match(text, s, e)
                if m:
                    add(m.start(1), m.end(1), 1, "type", ("defaultLibrary",))
            elif isinstance(node, ir.Num):
                m = _NUMBER.search(text, s, e)
                if m and not at_use:
                    add(m.start(), m.end(), 2, "number")
    # operators and relations, read from the text (outside \text{...})
    blocked = [(m.start(), m.end()) for m in _TEXTISH.finditer(text)] if "{" in text else []
    for m in _OPERATOR.finditer(text):
        a, b = m.start(), m.end()
        if a > 0 and text[a - 1] == "\\":
            continue  # `\|`, `\{`, `\\`: not operators
        if blocked and any(x <= a < y for x, y in blocked):
            continue
        add(a, b, 3, "operator")
    _REGION_TOKENS.put(ra, None, out)
    return out


def _category(ra, node, decl) -> str | None:
    from ..shapes import is_known

    if decl is not None and decl.kind != "ambiguous" and is_known(decl.rows) and is_known(decl.cols):
        rows, cols = decl.rows, decl.cols
    else:
        shape = ra.shape_of(node) if node is not None else None
        rows, cols = (shape.rows, shape.cols) if shape is not None else (None, None)
    if rows is None:
        return None
    if rows == 1 and cols == 1:
        return "scalar"
    if cols == 1 or rows == 1:
        return "vector" if is_known(cols) or cols == 1 else None
    if is_known(rows) and is_known(cols):
        return "matrix"
    return None


def encode(tokens: list[Token], position) -> list[int]:
    """LSP's relative encoding; ``position(offset) -> (line, character)`` in the negotiated
    encoding. Tokens spanning lines are dropped (clients need multilineTokenSupport)."""
    data: list[int] = []
    prev_line, prev_char = 0, 0
    for t in tokens:
        (l0, c0), (l1, c1) = position(t.span[0]), position(t.span[1])
        if l0 != l1 or c1 <= c0:
            continue
        data += [l0 - prev_line, c0 - prev_char if l0 == prev_line else c0, c1 - c0, t.type_index, t.modifier_bits]
        prev_line, prev_char = l0, c0
    return data
