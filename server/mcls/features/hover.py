"""Hover: the shape of the expression under the cursor and, for an equation,
its derivative (see ``derive``). Protocol-free: returns offsets and Markdown."""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..analysis import DocumentAnalysis, node_at

Span = tuple[int, int]


@dataclass(frozen=True)
class HoverResult:
    span: Span  # document offsets [start, end)
    markdown: str
    plaintext: str


@dataclass(frozen=True)
class HoverOptions:
    format: str = "auto"  # auto | image | unicode | latex
    images: bool = False  # the client renders Markdown images (VS Code)
    markdown: bool = True  # the client renders Markdown at all
    wrt: str | None = None  # pinned variable (setting mcls.wrt)
    budget_s: float = 1.0  # setting mcls.timeoutMs: derivatives not started by then are skipped


def hover(doc: DocumentAnalysis, offset: int, options: HoverOptions = HoverOptions()) -> HoverResult | None:
    ra = doc.region_at(offset)
    if ra is None:
        return None
    rel = min(max(offset - ra.region.start, 0), len(ra.region.text))
    hit = node_at(ra, rel)
    if hit is None:
        return None
    stmt, node = hit
    from ..render.latex import to_latex
    from ..render.unicode import to_unicode

    # Hovering a part of an equation's left side or the relation itself shows the whole statement.
    target = node
    if isinstance(node, ir.Chain) or _is_lhs(stmt, node):
        target = stmt
    shape = ra.shape_of(target if not isinstance(target, ir.Chain) else target.parts[0])
    shape_txt = ra.shapes.show(shape) if shape is not None and ra.shapes else "?"

    lines_md: list[str] = []
    lines_txt: list[str] = []
    head_latex = to_latex(target if not isinstance(target, ir.Chain) else _chain_head(target))
    head_uni = to_unicode(target if not isinstance(target, ir.Chain) else _chain_head(target))
    lines_md.append(f"**{_md_escape(head_uni)}** : {shape_txt}")
    lines_txt.append(f"{head_uni} : {shape_txt}")

    # What mcls found of a claim this statement makes (identity, derivative, differential).
    verdict = False
    if stmt.span is not None:
        lo, hi = stmt.span[0] + ra.region.start, stmt.span[1] + ra.region.start
        for p in [*doc.verified, *(p for p in doc.problems if p.code == "claim/false")]:
            if lo <= p.span[0] and p.span[1] <= hi:
                verdict = True
                mark = "✓ " if p.code == "claim/verified" else "✗ "
                lines_md.append(mark + _md_escape(p.message))
                lines_txt.append(mark + p.message)
    # An identity is about its two sides being equal: derivatives of it would be noise.
    identity = verdict and target is stmt and not isinstance(stmt.parts[0], (ir.Derivative, ir.Differential))

    import time

    deadline = time.monotonic() + options.budget_s
    results = [] if identity else derivations_for(doc, stmt, target, options, deadline=deadline)
    if time.monotonic() > deadline:
        lines_md.append(f"_mcls stopped after its {options.budget_s:g} s budget; what it computed is shown_")
        lines_txt.append(f"(stopped after the {options.budget_s:g} s budget)")
    if results:
        for dv in results:
            md, txt = render_derivation(dv, options, doc)
            lines_md.append(md)
            lines_txt.append(txt)
    else:
        lines_md.append("```latex\n" + head_latex + "\n```")
    span = target.span if target.span else stmt.span
    if span is None:
        return None
    abs_span = (span[0] + ra.region.start, span[1] + ra.region.start)
    return HoverResult(abs_span, "\n\n".join(lines_md), "\n".join(lines_txt))


def _is_lhs(stmt: ir.Chain, node: ir.Expr) -> bool:
    if not stmt.ops or not stmt.parts:
        return False
    lhs = stmt.parts[0]
    return any(n is node for n in lhs.walk())


def _chain_head(ch: ir.Chain) -> ir.Expr:
    if len(ch.parts) >= 2:
        return ir.Chain(ch.parts[:2], ch.ops[:1])
    return ch.parts[0]


def _md_escape(s: str) -> str:
    return s.replace("*", "\\*").replace("_", "\\_")


def derivations_for(doc: DocumentAnalysis, stmt: ir.Chain, target: ir.Expr, options: HoverOptions, limit: int = 2,
                    deadline: float | None = None):
    """Derivatives to show: of the statement (`M = …`) or the hovered sub-expression."""
    from . import derive

    if isinstance(target, ir.Chain):
        subject: ir.Chain | ir.Expr = target
        # `\frac{\partial f}{\partial X} = G`: show the derivative's value (claims are diagnostics)
        if target.parts and isinstance(target.parts[0], ir.Derivative):
            return _derivative_value(doc, target.parts[0], options)
    elif isinstance(target, ir.Derivative):
        return _derivative_value(doc, target, options)
    else:
        subject = target
    _, f = derive.split_statement(subject)
    prefs = derive.preferred_for(doc, options.wrt)
    out = []
    import time

    for name in derive.candidate_variables(f, doc.scope, prefs)[:limit]:
        if deadline is not None and time.monotonic() > deadline:
            break
        try:
            out.append(derive.derive(subject, name, doc.scope))
        except derive.DeriveError:
            continue
        except Exception:  # noqa: BLE001 - a hover never fails because the engine did
            continue
    return out


def _derivative_value(doc: DocumentAnalysis, d: ir.Derivative, options: HoverOptions):
    from . import derive

    wrt = d.wrt
    index = None
    if isinstance(wrt, ir.Entry) and isinstance(wrt.of, ir.Sym):
        index = (wrt.i, wrt.j)
        wrt = wrt.of
    if not isinstance(wrt, ir.Sym):
        return []
    f = d.f
    if isinstance(f, ir.Sym):  # `\partial M` where M was defined earlier: use its definition
        f = _definition_of(doc, f.name) or f
    try:
        dv = derive.derive(f, wrt.name, doc.scope, index=index)
    except Exception:  # noqa: BLE001
        return []
    from dataclasses import replace

    return [replace(dv, name=d.f)]


def _definition_of(doc: DocumentAnalysis, name: str) -> ir.Expr | None:
    for ra in doc.regions:
        for st in ra.statements:
            if st.ops and st.ops[0] in ("=", ":=") and isinstance(st.parts[0], ir.Sym) and st.parts[0].name == name:
                return st.parts[1]
    return None


def render_derivation(dv, options: HoverOptions, doc: DocumentAnalysis) -> tuple[str, str]:
    from . import derive

    style = _style(doc)
    latex = derive.result_latex(dv, style)
    uni = derive.result_unicode(dv, style)
    mark = derive.verified_text(dv.verified)
    # A scalar's differential too (`df = tr(A dX B)`): the form papers reason with.
    d_uni = derive.differential_unicode(dv, style) if dv.kind == "scalar" else ""
    d_latex = derive.differential_latex(dv, style) if dv.kind == "scalar" else ""
    conv = "" if dv.kind != "scalar" else " (gradient, same shape as " + uni.split("/∂", 1)[1].split(" =", 1)[0] + ")"
    fmt = options.format
    if fmt == "auto":
        fmt = "image" if options.images else "unicode"
    parts: list[str] = []
    if fmt == "image":
        from ..render.svg import svg_data_uri

        uri = svg_data_uri(latex)
        if uri:
            parts.append(f"![{_md_escape(uni)}]({uri})")
        else:
            parts.append(f"`{uni}`")
    elif fmt == "unicode":
        parts.append(f"`{uni}`")
    if d_uni:
        parts.append(f"`{d_uni}`")
    parts.append(mark + conv)
    note = derive.elementwise_note(dv, doc.scope)
    if note:
        parts.append("⚠ " + note)
    if dv.kind == "scalar" and {"symmetric", "spd"} & doc.scope.assumptions_of(dv.wrt.name):
        w = uni.split("/∂", 1)[1].split(" =", 1)[0]
        parts.append(f"{w} is symmetric: this is the unconstrained gradient G; on symmetric matrices it is G + Gᵀ − I ⊙ G")
    if options.markdown:  # to copy into the document: in its own macros (the image needs them expanded)
        from ..document.macros import fold

        parts.append("```latex\n" + fold(latex + ("\n" + d_latex if d_latex else ""), doc.macros) + "\n```")
    return "\n\n".join(parts), "\n".join(x for x in (uni, d_uni, mark, "⚠ " + note if note else "") if x)


_STYLE_CACHE: dict[int, object] = {}
_EXPANDED: dict[tuple[str, str], str] = {}  # region text, macros fingerprint -> expanded math


def _style(doc: DocumentAnalysis):
    """The document's notation (``render.style``), read from the regions and macros its
    analysis already found; each region's expansion is kept, so after a keystroke only the
    edited region is expanded again (re-finding and re-expanding a 2,000-region paper cost
    ≈50 ms on the first hover after every edit)."""
    from ..analysis import _macros_fp
    from ..document.macros import expand
    from ..render.style import style_of_math

    key = hash(doc.text)
    st = _STYLE_CACHE.get(key)
    if st is None:
        mfp = _macros_fp(doc.macros) if doc.macros else ""
        if len(_EXPANDED) > 50_000:
            _EXPANDED.clear()
        parts = []
        for ra in doc.regions:
            text = ra.region.text
            if doc.macros:
                k = (text, mfp)
                if (ex := _EXPANDED.get(k)) is None:
                    ex = _EXPANDED[k] = expand(text, 0, doc.macros).text
                text = ex
            parts.append(text)
        st = style_of_math("\n".join(parts))
        _STYLE_CACHE.clear()
        _STYLE_CACHE[key] = st
    return st
