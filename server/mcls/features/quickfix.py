"""Quick fixes for shape errors: transpose one operand (in the document's own
transpose style), drop a transpose, or swap the operands. A fix is offered only
if the fixed region checks with fewer errors and none at the fixed place.
"""

from __future__ import annotations

from .. import ir
from ..analysis import DocumentAnalysis, RegionAnalysis
from ..document.macros import fold
from ..problems import Problem, Severity
from .actions import Action, Edit

FIXABLE = {"shape/matmul", "shape/add", "shape/hadamard", "shape/equation", "shape/frobenius"}


def quick_fixes(doc: DocumentAnalysis, start: int, end: int) -> list[Action]:
    out: list[Action] = []
    for p in doc.problems:
        if p.code == "claim/false" and p.fix and p.span[1] >= start and p.span[0] <= end:
            value = fold(p.fix, doc.macros)  # in the document's own macros
            out.append(Action(f"Replace with the verified value {value}", "quickfix", {"diagnostic": p.code}, (Edit(p.span, value),)))
            continue
        if p.code not in FIXABLE or p.severity != Severity.ERROR:
            continue
        if p.span[1] < start or p.span[0] > end:
            continue
        ra = doc.region_at(p.span[0])
        if ra is None:
            continue
        out.extend(_fixes_for(doc, ra, p))
    return out


def _operands(ra: RegionAnalysis, rel: tuple[int, int]) -> tuple[ir.Expr, ir.Expr] | None:
    """The two operands a problem's range spans: a child starting at its start and a later one ending at its end."""
    for st in ra.statements:
        for node in st.walk():
            kids = [c for c in _operand_children(node) if c.span]
            for a_i, a in enumerate(kids):
                if a.span[0] != rel[0]:
                    continue
                for b in kids[a_i + 1 :]:
                    if b.span[1] == rel[1]:
                        return a, b
    return None


def _operand_children(node: ir.Expr) -> tuple[ir.Expr, ...]:
    if isinstance(node, ir.Mul):
        return node.factors
    if isinstance(node, ir.Add):
        return node.terms
    if isinstance(node, (ir.Hadamard, ir.Frob, ir.HadamardDiv, ir.Kron)):
        return (node.a, node.b)
    if isinstance(node, ir.Chain):
        return node.parts
    return ()


def _fixes_for(doc: DocumentAnalysis, ra: RegionAnalysis, p: Problem) -> list[Action]:
    base = ra.region.start
    rel = (p.span[0] - base, p.span[1] - base)
    ops = _operands(ra, rel)
    if ops is None:
        return []
    a, b = ops
    text = ra.region.text
    mark = _transpose_mark(doc)
    candidates: list[tuple[str, list[Edit]]] = []
    for op in (a, b):
        src = text[op.span[0] : op.span[1]]
        if isinstance(op, ir.Transpose) and isinstance(op.x, ir.Expr) and op.x.span:
            inner = text[op.x.span[0] : op.x.span[1]]
            candidates.append((f"Remove the transpose: {src} → {inner}", [Edit(op.span, inner)]))
        else:
            wrapped = src if _atomic(op) else f"({src})"
            candidates.append((f"Transpose {src} → {wrapped}{mark}", [Edit(op.span, wrapped + mark)]))
    # `X^\top X` where `X X^\top` was meant: move a transpose to the neighbouring factor.
    for op in (a, b):
        if isinstance(op, ir.Transpose) and op.x.span and _atomic(op.x):
            for nb in _neighbours(ra, op):
                if nb.span and _atomic(nb) and not isinstance(nb, ir.Transpose):
                    src, inner, nsrc = text[op.span[0]:op.span[1]], text[op.x.span[0]:op.x.span[1]], text[nb.span[0]:nb.span[1]]
                    pair = (f"{src} {nsrc}", f"{inner} {nsrc}{mark}") if nb.span[0] > op.span[0] else (f"{nsrc} {src}", f"{nsrc}{mark} {inner}")
                    candidates.append((f"Move the transpose: {pair[0]} → {pair[1]}", [Edit(op.span, inner), Edit(nb.span, nsrc + mark)]))
    if isinstance(p.code, str) and p.code == "shape/matmul":
        sa, sb = text[a.span[0] : a.span[1]], text[b.span[0] : b.span[1]]
        if a.span[1] <= b.span[0]:
            candidates.append((f"Swap {sa} and {sb}", [Edit(a.span, sb), Edit(b.span, sa)]))
    before = _errors(doc, ra, text)
    out: list[Action] = []
    for title, edits in candidates:
        new_text = _apply(text, edits)
        after = _errors(doc, ra, new_text)
        if after < before and not _error_at(doc, ra, new_text, rel[0]):
            abs_edits = tuple(Edit((e.span[0] + base, e.span[1] + base), e.new_text) for e in edits)
            out.append(Action(title, "quickfix", {"diagnostic": p.code}, abs_edits))
    return out


def _neighbours(ra: RegionAnalysis, op: ir.Expr) -> list[ir.Expr]:
    for st in ra.statements:
        for node in st.walk():
            if isinstance(node, ir.Mul):
                for k, f in enumerate(node.factors):
                    if f is op:
                        return [node.factors[j] for j in (k + 1, k - 1) if 0 <= j < len(node.factors)]
    return []


def _atomic(x: ir.Expr) -> bool:
    return isinstance(x, (ir.Sym, ir.Indexed, ir.Entry, ir.Basis, ir.UnitVec, ir.Ones, ir.Identity, ir.Inverse, ir.Power)) or getattr(x, "_paren", False)


def _transpose_mark(doc: DocumentAnalysis) -> str:
    from .hover import _style

    mark = getattr(_style(doc), "transpose", "\\top") or "\\top"
    if mark.startswith("\\") and mark[1:].isalpha():
        return "^" + mark
    return "^{" + mark + "}" if len(mark) > 1 else "^" + mark


def _apply(text: str, edits: list[Edit]) -> str:
    for e in sorted(edits, key=lambda e: e.span[0], reverse=True):
        text = text[: e.span[0]] + e.new_text + text[e.span[1] :]
    return text


def _check(doc: DocumentAnalysis, ra: RegionAnalysis, text: str) -> list[Problem]:
    from ..document.macros import expand
    from ..parse import parse_math
    from ..scope import resolve
    from ..shapes import ShapeChecker
    from ..analysis import _child_scope

    if doc.macros:
        ex = expand(text, 0, doc.macros)
        pm = parse_math(ex.text, origin=(ex.starts, ex.ends))
    else:
        pm = parse_math(text)
    if pm.issues:
        return [Problem("parse/syntax", "", (0, 0))]
    chk = ShapeChecker(_child_scope(doc.scope), text)
    for st in pm.math.statements:
        chk.check(resolve(st, doc.scope))
    return [q for q in chk.res.problems if q.severity == Severity.ERROR]


def _errors(doc, ra, text) -> int:
    return len(_check(doc, ra, text))


def _error_at(doc, ra, text, at: int) -> bool:
    return any(q.span[0] <= at < q.span[1] for q in _check(doc, ra, text))
