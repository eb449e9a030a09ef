"""Code actions: insert a derivation (or gradient, differential, NumPy code) after
a math region. Protocol-free: listing is cheap (no calculus), resolving computes
the edit. The user's text is never changed except by inserting the block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import ir
from ..analysis import DocumentAnalysis, RegionAnalysis
from . import derive

Span = tuple[int, int]


@dataclass(frozen=True)
class Edit:
    span: Span  # document offsets replaced (empty span: insertion)
    new_text: str


@dataclass(frozen=True)
class Action:
    title: str
    kind: str  # "refactor.insert" | "quickfix"
    data: dict  # what resolve() needs; JSON-serialisable
    edits: tuple[Edit, ...] | None = None  # filled for quick fixes (cheap), else by resolve()


KINDS = ("derivation", "gradient", "differential", "numpy")


def actions_at(doc: DocumentAnalysis, start: int, end: int) -> list[Action]:
    """Actions for the statements of the region(s) touching [start, end]. No calculus here."""
    out: list[Action] = []
    ra = doc.region_at(start) or doc.region_at(end)
    if ra is None:
        return out
    prefs = derive.preferred_for(doc, None)
    for k, st in enumerate(ra.statements):
        name, f = derive.split_statement(st)
        if isinstance(f, (ir.Derivative, ir.Space)) or (st.ops and st.ops[0] == "\\in"):
            continue
        shape = ra.shape_of(f)
        if shape is None:
            continue
        scalar = ra.shapes.sizes.resolve(shape.rows) == 1 and ra.shapes.sizes.resolve(shape.cols) == 1
        from ..render.unicode import to_unicode

        fname = to_unicode(name) if name is not None else "f"
        for var in derive.candidate_variables(f, doc.scope, prefs)[:2]:
            vname = to_unicode(ir.Sym(var))
            base = {"region": ra.region.outer_start, "statement": k, "wrt": var}
            if scalar:
                out.append(Action(f"Insert derivation of ∂{fname}/∂{vname}", "refactor.insert", {**base, "what": "derivation"}))
                out.append(Action(f"Insert gradient ∂{fname}/∂{vname}", "refactor.insert", {**base, "what": "gradient"}))
            else:
                out.append(Action(f"Insert derivation of ∂{fname}/∂{vname}ᵢⱼ", "refactor.insert", {**base, "what": "derivation"}))
                out.append(Action(f"Insert Jacobian ∂vec {fname}/∂(vec {vname})ᵀ", "refactor.insert", {**base, "what": "jacobian"}))
            out.append(Action(f"Insert differential d{fname} (w.r.t. {vname})", "refactor.insert", {**base, "what": "differential"}))
            out.append(Action(f"Insert NumPy code for ∂{fname}/∂{vname}", "refactor.insert", {**base, "what": "numpy"}))
    return out


def resolve(doc: DocumentAnalysis, data: dict) -> tuple[Edit, ...]:
    """The edit of an action listed by ``actions_at`` on the same document text."""
    ra = _region(doc, int(data.get("region", -1)))
    if ra is None:
        raise derive.DeriveError("the formula changed; list the actions again")
    k = int(data.get("statement", 0))
    if not 0 <= k < len(ra.statements):
        raise derive.DeriveError("the formula changed; list the actions again")
    st = ra.statements[k]
    dv = derive.derive(st, str(data["wrt"]), doc.scope)
    if not dv.verified.ok:
        raise derive.DeriveError("mcls could not verify this derivative numerically, so it inserts nothing")
    from .hover import _style

    style = _style(doc)
    what = data.get("what", "derivation")
    rows: list[tuple[str, str]]
    if what == "derivation":
        rows = derive.steps(dv, style)
    elif what == "gradient":
        lhs, rhs = derive.result_latex(dv, style).split(" = ", 1)
        rows = [(lhs, rhs)]
    elif what == "differential":
        rows = derive.steps(dv, style)[:2]
    elif what == "jacobian":
        rows = _jacobian_rows(doc, dv, style)
    elif what == "numpy":
        return (_insert_after(doc, ra, _numpy_block(doc, dv)),)
    else:
        raise derive.DeriveError(f"unknown action {what!r}")
    from ..document.macros import fold

    rows = [(fold(a, doc.macros), fold(b, doc.macros)) for a, b in rows]  # the document's own macros
    return (_insert_after(doc, ra, _math_block(doc, ra, rows)),)


def _jacobian_rows(doc: DocumentAnalysis, dv: derive.Derivation, style) -> list[tuple[str, str]]:
    """d vec F = J d vec X, verified before it is inserted."""
    from .. import calculus, verify
    from ..render.latex import to_latex

    st = calculus.shapes_for(dv.f, doc.scope)
    try:
        J = calculus.jacobian(dv.f, dv.wrt, st)
    except calculus.NotDifferentiable as e:
        raise derive.DeriveError(f"no Jacobian in Kronecker form: {e}") from e
    v = verify.verify_jacobian(dv.f, dv.wrt, J, doc.scope, shapes=st)
    if not v.ok:
        raise derive.DeriveError("mcls could not verify this Jacobian numerically, so it inserts nothing")
    vec = style.command("vec") if style is not None and hasattr(style, "command") else "\\operatorname{vec}"
    name, wrt = to_latex(dv.name, style), to_latex(dv.wrt, style)
    return [(f"\\frac{{\\partial {vec} {name}}}{{\\partial ({vec} {wrt})^\\top}}", to_latex(J, style))]


def _region(doc: DocumentAnalysis, outer_start: int) -> RegionAnalysis | None:
    for ra in doc.regions:
        if ra.region.outer_start == outer_start:
            return ra
    return None


def _newline(text: str) -> str:
    """The document's line ending: its first one (CRLF, LF, or a lone CR as old Mac files have)."""
    m = re.search(r"\r\n?|\n", text)
    return m.group() if m else "\n"


def _indent(doc: DocumentAnalysis, at: int) -> str:
    line_start = max(doc.text.rfind("\n", 0, at), doc.text.rfind("\r", 0, at)) + 1
    m = re.match(r"[ \t]*", doc.text[line_start:at])
    return m.group(0) if m else ""


def _math_block(doc: DocumentAnalysis, ra: RegionAnalysis, rows: list[tuple[str, str]]) -> list[str]:
    body = []
    for n, (lhs, rhs) in enumerate(rows):
        end = " \\\\" if n + 1 < len(rows) else ""
        body.append(f"  {lhs} &= {rhs}{end}" if lhs else f"  &= {rhs}{end}")
    if doc.language == "markdown":
        return ["$$", "\\begin{aligned}", *body, "\\end{aligned}", "$$"]
    return ["\\begin{align*}", *body, "\\end{align*}"]


def _numpy_block(doc: DocumentAnalysis, dv: derive.Derivation) -> list[str]:
    from .numpy_export import numpy_source

    code = numpy_source(dv, doc.scope).rstrip("\n").split("\n")
    if not any(ln.startswith("import numpy") for ln in code):
        code = ["import numpy as np", "", *code]  # a block the reader can run as it is
    if doc.language == "markdown":
        return ["```python", *code, "```"]
    checked = "the derivative it computes was verified numerically" if dv.verified.ok else "the derivative could not be verified numerically"
    return [f"% NumPy code generated by mcls; {checked}", "\\begin{verbatim}", *code, "\\end{verbatim}"]


def _insert_after(doc: DocumentAnalysis, ra: RegionAnalysis, lines: list[str]) -> Edit:
    """Insert the block on its own lines after the region's line, keeping indentation and line endings."""
    nl = _newline(doc.text)
    text = doc.text
    at = ra.region.outer_end
    # after the end of the line the region ends on (a trailing `.` or `,` stays with the formula)
    m = re.compile(r"[^\r\n]*").match(text, at)
    eol = m.end() if m else at
    indent = _indent(doc, ra.region.outer_start)
    sep = nl if doc.language == "latex" else nl + nl
    block = nl.join(indent + ln if ln else ln for ln in lines)
    if not text[eol:].strip():  # at the end of the document: no trailing blank line
        return Edit((eol, eol), sep + block + ("" if text[eol:] else nl))
    return Edit((eol, eol), sep + block + ("" if doc.language == "latex" else nl))
