"""The document pipeline: text -> regions -> macros expanded -> parse -> scope -> shapes.

Protocol-free: the CLI, the tests and the LSP layer call these functions.
Per-region work is cached by the region's text (spans inside a region are
relative to its start), so re-analysing after a keystroke redoes only the
region that changed, unless the change altered declarations.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from . import ir
from .document.macros import Macro, collect_macros, expand
from .document.regions import Region, find_regions, update_regions
from .parse import ParsedMath, parse_math
from .problems import Problem, Related, Severity
from .memo import IdMemo
from .scope import (Decl, Scope, assumption_statements, declarations_in, may_state_sizes_or_assumptions, prose_declarations,
                    prose_inert, resolve, size_equalities, symbol_name)
from .shapes import Shape, ShapeChecker, ShapeResult

Span = tuple[int, int]


@dataclass
class RegionAnalysis:
    region: Region
    parsed: ParsedMath  # spans relative to region.start
    statements: tuple[ir.Chain, ...] = ()  # resolved
    shapes: ShapeResult | None = None
    problems: list[Problem] = field(default_factory=list)  # spans relative, related absolute
    verified: tuple[Problem, ...] = ()  # claims that hold (claim/verified), spans relative

    def shape_of(self, node: ir.Expr) -> Shape | None:
        return self.shapes.get(node) if self.shapes else None


@dataclass
class DocumentAnalysis:
    text: str
    language: str
    path: str | None
    regions: list[RegionAnalysis]
    scope: Scope
    macros: dict[str, Macro]
    problems: list[Problem]
    context: Any = None  # the document.project.ProjectContext it was analysed with
    prose: tuple | None = None  # prose_declarations' result, reused by the next version
    verified: list[Problem] = field(default_factory=list)  # claims that hold: shown on request
    pass1: tuple[Scope, str] | None = None  # the scope after pass 1 and its fingerprint, likewise

    def region_at(self, offset: int) -> RegionAnalysis | None:
        lo, hi = 0, len(self.regions) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            r = self.regions[mid].region
            if offset < r.outer_start:
                hi = mid - 1
            elif offset > r.outer_end:
                lo = mid + 1
            else:
                return self.regions[mid]
        return None


class _Cache:
    """Bounded LRU of per-region results (parse and shape), shared across versions."""

    def __init__(self, size: int = 20000):
        self.size = size
        self.data: OrderedDict = OrderedDict()

    def get(self, key):
        v = self.data.get(key)
        if v is not None:
            self.data.move_to_end(key)
        return v

    def put(self, key, value):
        self.data[key] = value
        self.data.move_to_end(key)
        if len(self.data) > self.size:
            self.data.popitem(last=False)


_PARSE_CACHE = _Cache()
_SHAPE_CACHE = _Cache()


def _macros_fp(macros: dict[str, Macro]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for k in sorted(macros):
        m = macros[k]
        h.update(f"{k}\0{m.nargs}\0{m.default}\0{m.body}\1".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _parse_region(r: Region, macros: dict[str, Macro], mfp: str) -> ParsedMath:
    key = (r.text, mfp)
    hit = _PARSE_CACHE.get(key)
    if hit is not None:
        return hit
    if macros or "\\def" in r.text or "\\newcommand" in r.text:
        ex = expand(r.text, 0, macros)
        pm = parse_math(ex.text, origin=(ex.starts, ex.ends))
    else:
        pm = parse_math(r.text)
    _PARSE_CACHE.put(key, pm)
    return pm


def _shift(span: Span, by: int) -> Span:
    return (span[0] + by, span[1] + by)


def _abs_decl(d: Decl, by: int, path: str | None) -> Decl:
    return Decl(d.name, d.rows, d.cols, _shift(d.span, by), d.shape_text, d.kind, d.assumptions, path)


def _has_macros(text: str) -> bool:
    return ("\\def" in text or "command" in text or "\\Declare" in text or "\\let" in text
            or text.startswith(("---", "\ufeff---")))  # KaTeX/MathJax macros in front matter


@dataclass(frozen=True)
class _Pass1:
    """What one parsed region contributes to pass 1, before it meets the scope."""
    decls: tuple[Decl, ...]  # spans relative to the region
    chains: tuple[ir.Chain, ...]  # statements that may state sizes or assumptions


_PASS1: IdMemo = IdMemo()
_NO_PASS1 = _Pass1((), ())  # a region that declares nothing


def _pass1(pm: ParsedMath) -> _Pass1:
    return _PASS1.get(pm, lambda pm: _Pass1(
        tuple(d for st in pm.math.statements for d in declarations_in(st)),
        tuple(st for st in pm.math.statements if may_state_sizes_or_assumptions(st))))


def _declare_all(scope: Scope, text: str, regions: list[Region], parsed: list[ParsedMath], path: str | None, base: int = 0,
                 prose: tuple | None = None) -> tuple:
    """Pass 1: declarations anywhere in the text (papers declare after use too), prose
    declarations, size equalities and assumptions. ``path`` None: this document; spans are
    shifted by ``base`` (the text is a piece of a file starting there). ``prose``: the
    prose declarations when already known; returns them."""
    contributions = [_pass1(pm) for pm in parsed]
    for r, c in zip(regions, contributions):
        for d in c.decls:
            _declare(scope, _abs_decl(d, r.start + base, path))
    if prose is None:
        prose = prose_declarations(text, regions, parsed)
    pdecls, passump = prose
    for d in pdecls:
        _declare(scope, _abs_decl(d, base, path))
    for name, kinds in passump.items():
        scope.assumptions.setdefault(name, set()).update(kinds)
    for c in contributions:
        for st in c.chains:
            size_equalities(st, scope)
            assumption_statements(st, scope)
    return prose


def _declare(scope: Scope, d: Decl) -> None:
    old = scope.decls.get(d.name)
    if old is not None and old.path != d.path and d.path is None and old.kind != "defined" \
            and old.rows == d.rows and old.cols == d.cols:
        scope.decls[d.name] = d  # this document restates another file's declaration: point here
        return
    scope.declare(d)


def declarations_into(scope: Scope, text: str, language: str, macros: dict[str, Macro], path: str, base: int = 0) -> None:
    """Pass 1 over (a piece of) another file of a project: its declarations go into ``scope``
    tagged with ``path`` (see ``document.project``)."""
    regions = find_regions(text, language)
    mfp = _macros_fp(macros)
    _declare_all(scope, text, regions, [_parse_region(r, macros, mfp) for r in regions], path, base)


def _seed_scope(context) -> Scope:
    """A fresh scope holding what the other files of the project declared."""
    if context is None or getattr(context, "scope", None) is None:
        return Scope()
    from .sizes import Sizes

    base: Scope = context.scope
    sizes = Sizes()
    sizes._bind = dict(base.sizes._bind)
    sizes._n = base.sizes._n  # fresh unknowns must not collide with the other files'
    return Scope(dict(base.decls), sizes, set(base.size_names), {k: set(v) for k, v in base.assumptions.items()}, [])


def analyze(text: str, language: str, path: str | None = None, context=None, previous: DocumentAnalysis | None = None) -> DocumentAnalysis:
    """``context``: a ``document.project.ProjectContext`` -- macros and declarations of the
    other files of a LaTeX project (their problems' related information names those files).
    ``previous``: the analysis of an earlier version of this document; when the edit lies
    inside one region, the work that region cannot affect is taken from it (the result is
    the same as without it)."""
    changed = None
    if previous is not None and previous.language == language:
        regions, changed = update_regions(previous.text, [ra.region for ra in previous.regions], text, language)
    else:
        regions = find_regions(text, language)
    macros = collect_macros(text) if _has_macros(text) else {}
    if context is not None and context.macros:
        macros = {**context.macros, **macros}  # this file's definitions win
    mfp = _macros_fp(macros)
    if changed is not None and previous is not None and previous.macros == macros:
        parsed = [ra.parsed for ra in previous.regions]  # same texts, same macros
        parsed[changed] = _parse_region(regions[changed], macros, mfp)
    else:
        parsed = [_parse_region(r, macros, mfp) for r in regions]

    prose = pass1 = None
    if changed is not None and previous is not None and previous.macros == macros:
        before, after = previous.regions[changed], parsed[changed]
        old_regions = [ra.region for ra in previous.regions]
        delta = len(text) - len(previous.text)
        if previous.prose is not None and prose_inert(regions, parsed, changed) \
                and prose_inert(old_regions, [ra.parsed for ra in previous.regions], changed):
            prose = _shifted_prose(previous.prose, before.region.end, delta)
            if previous.pass1 is not None and _same_context(previous.context, context) \
                    and _pass1(before.parsed) == _pass1(after) == _NO_PASS1:
                pass1 = _shifted_scope(previous.pass1[0], before.region.end, delta), previous.pass1[1]
    if pass1 is None:
        scope = _seed_scope(context)
        prose = _declare_all(scope, text, regions, parsed, None, prose=prose)
        pass1 = scope.snapshot(), _scope_fp(scope)
    scope, decl_fp = pass1[0].snapshot(), pass1[1]

    # Pass 2: shapes, region by region; definitions (`M = …`) flow forward.
    results: list[RegionAnalysis] = []
    problems: list[Problem] = []
    definitions: dict[str, ir.Expr] = {}
    hinted: set[str] = set()
    for r, pm in zip(regions, parsed):
        ra = _check_region(r, pm, scope, decl_fp)
        if any(p.severity == Severity.ERROR and p.code.startswith("shape/") for p in ra.problems) and _generic_sizes(text, r):
            # "for conformable matrices, tr(ABC) = tr(CAB)": the letters are generic here
            ra.problems = [p for p in ra.problems if not (p.severity == Severity.ERROR and p.code.startswith("shape/"))]
        results.append(ra)
        for name, rhs in _DEFINED.get(ra.statements, _defined_in):  # first: `L = …, \quad \nabla_w L = …`
            definitions.setdefault(name, rhs)
        _claims(ra, scope, definitions, decl_fp, text)
        for name, shape, depends in _definitions(ra):
            if name not in scope.decls:
                d = Decl(name, shape.rows, shape.cols, _first_span(ra, name), "", kind="defined", depends=depends)
                scope.declare(d)
                decl_fp = _extend_fp(decl_fp, d)
        for p in ra.problems:
            if p.code == "shape/undeclared":  # one hint per name per document
                name = p.message.split(" is not declared", 1)[0]
                if name in hinted or name in scope.decls:
                    continue
                hinted.add(name)
            problems.append(replace(p, span=_shift(p.span, r.start), related=_current_related(p.related, scope)))
    later = getattr(context, "included", frozenset()) if context is not None else frozenset()
    for old, new in scope.redeclared:
        if old.path is not None and old.path in later:
            continue  # the file this one includes reports the conflict (it comes later)
        problems.append(Problem("shape/redeclared", f"{new.name} was declared as {_shape_text(old)} before; this declares it as {_shape_text(new)}",
                                new.span, Severity.WARNING, (Related(old.span, f"first declaration of {old.name}", old.path),)))
    problems.sort(key=lambda p: p.span)
    verified = [replace(p, span=_shift(p.span, ra.region.start)) for ra in results for p in ra.verified]
    return DocumentAnalysis(text, language, path, results, scope, macros, problems, context, prose=prose, verified=verified, pass1=pass1)


def _same_context(a, b) -> bool:
    return a is b or (a is not None and b is not None and a.fingerprint == b.fingerprint)


def _shifted_scope(scope: Scope, after: int, delta: int) -> Scope:
    """The pass-1 scope of the previous version, with this document's spans past the edit moved."""
    if not delta:
        return scope

    def move(d: Decl) -> Decl:
        return replace(d, span=_shift(d.span, delta)) if d.path is None and d.span[0] >= after else d

    out = scope.snapshot()
    out.decls = {k: move(d) for k, d in scope.decls.items()}
    out.redeclared = [(move(a), move(b)) for a, b in scope.redeclared]
    return out


def _shifted_prose(prose: tuple, after: int, delta: int) -> tuple:
    decls, assumptions = prose
    if delta:
        decls = [replace(d, span=_shift(d.span, delta)) if d.span[0] >= after else d for d in decls]
    return decls, assumptions


def _current_related(related: tuple[Related, ...], scope: Scope) -> tuple[Related, ...]:
    """Cached region results keep the declarations' positions of when they were
    computed; point "X declared here" at where X is declared now."""
    out = []
    for rel in related:
        name, sep, _ = rel.message.partition(" declared here")
        d = scope.decls.get(name) if sep else None
        out.append(Related(d.span, rel.message, d.path) if d is not None else rel)
    return tuple(out)


def _claims(ra: RegionAnalysis, scope: Scope, definitions: dict, fp: str, text: str) -> None:
    """Derivatives and identities the document states are checked numerically (claim/false;
    the ones that hold go to ``ra.verified``)."""
    names = _CLAIM_NAMES.get(ra.statements, _claim_names)
    if names is None:
        return
    if any(p.severity == Severity.ERROR for p in ra.problems):
        return  # an ill-shaped statement already has its diagnostic
    from .features.claims import is_conditional

    defs = tuple(definitions[n] for n in sorted(names) if n in definitions)
    conditional = is_conditional(text, ra.region)
    key = (id(ra.statements), fp, tuple(id(e) for e in defs), conditional)
    hit = _CLAIM_RESULTS.get(key)  # the entry keeps the keyed objects alive: ids stay unique
    if hit is not None and hit[0] is ra.statements and all(a is b for a, b in zip(hit[1], defs)):
        found = hit[2]
    else:
        found = _check_claims(ra, scope, definitions, fp, conditional)
        _CLAIM_RESULTS.put(key, (ra.statements, defs, found))
    ra.problems.extend(p for p in found if p.code != "claim/verified")
    ra.verified = tuple(p for p in found if p.code == "claim/verified")


def _check_claims(ra: RegionAnalysis, scope: Scope, definitions: dict, fp: str, conditional: bool) -> tuple[Problem, ...]:
    from .features.claims import check_claims
    from .render.style import detect_style

    try:  # corrected values are written as this formula writes (\mathrm{d}X, ^T, ...)
        return tuple(check_claims(ra.statements, scope, definitions, fp, conditional, detect_style(ra.region.text)))
    except Exception:  # noqa: BLE001 - claims are a bonus; never break diagnostics
        return ()


def _claim_names(statements):
    from .features.claims import claim_names

    return claim_names(statements)


_CLAIM_NAMES: IdMemo = IdMemo()  # per cached statements: a keystroke elsewhere skips them
_CLAIM_RESULTS = _Cache()


def _shape_text(d: Decl) -> str:
    from .sizes import size_text

    if d.rows == 1 and d.cols == 1:
        return "a scalar"
    if d.cols == 1:
        return f"a {size_text(d.rows)}-vector"
    return f"{size_text(d.rows)}×{size_text(d.cols)}"


def _extend_fp(fp: str, d: Decl) -> str:
    """The fingerprint of a scope after declaring ``d`` in the scope of fingerprint ``fp``
    (declaring is deterministic, so this identifies the new scope as well as hashing it all)."""
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{fp}\0{d.name}\0{d.rows}\0{d.cols}\0{d.path}\0{d.kind}\0{sorted(d.depends)}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _scope_fp(scope: Scope) -> str:
    h = hashlib.blake2b(digest_size=12)
    for k in sorted(scope.decls):
        d = scope.decls[k]
        h.update(f"{k}\0{d.rows}\0{d.cols}\0{d.path}\1".encode("utf-8", "surrogatepass"))
    for k in sorted(scope.assumptions):
        h.update(f"{k}\0{sorted(scope.assumptions[k])}\2".encode())
    h.update(str(sorted(scope.sizes._bind.items(), key=str)).encode())
    return h.hexdigest()


def _check_region(r: Region, pm: ParsedMath, scope: Scope, fp: str) -> RegionAnalysis:
    key = (r.text, id(pm), fp)
    hit = _SHAPE_CACHE.get(key)
    if hit is not None and hit[0] is pm:
        _, statements, res, probs = hit
        return RegionAnalysis(r, pm, statements, res, list(probs))
    checker = ShapeChecker(_child_scope(scope), r.text)
    statements = tuple(resolve(st, scope) for st in pm.math.statements)
    for st in statements:
        checker.check(st)
    probs: list[Problem] = list(checker.res.problems)
    for issue in pm.issues:
        probs.append(Problem("parse/syntax", issue.message, issue.span, Severity.INFORMATION))
    defined_here = {st.parts[0].name for st in statements if st.ops and st.ops[0] in ("=", ":=") and isinstance(st.parts[0], ir.Sym)}
    # Only names used in an operation: `$x$` alone in prose is a mention, not a use.
    used = {n.name for st in statements if st.ops or not isinstance(st.parts[0], (ir.Sym, ir.Tuple))
            for n in st.walk() if isinstance(n, ir.Sym)}
    for name, span in checker.undeclared.items():
        if name in defined_here or name not in used:
            continue
        shape = checker.res.show(checker.local[name]) if name in checker.local else "?"
        known = "" if "?" in shape else f"; from its use it is {shape}"
        probs.append(Problem("shape/undeclared", f"{name} is not declared{known}", span, Severity.HINT))
    for name, span in pm.unknown:
        probs.append(Problem("parse/unknown-macro", f"unknown command {name}: mcls reads it as an opaque symbol", span, Severity.HINT))
    _SHAPE_CACHE.put(key, (pm, statements, checker.res, tuple(probs)))
    return RegionAnalysis(r, pm, statements, checker.res, probs)


def _child_scope(scope: Scope) -> Scope:
    """Same declarations, own unknown-size bindings (so regions do not leak into each other)."""
    from .sizes import Sizes

    s = Sizes()
    s._bind = dict(scope.sizes._bind)
    return Scope(scope.decls, s, scope.size_names, scope.assumptions, [])


_DEFS: IdMemo = IdMemo()


def _definitions(ra: RegionAnalysis):
    """`M = …` where M is a plain undeclared name and the right side has a known shape
    (memoised per cached shape result: a keystroke elsewhere must not redo it)."""
    if ra.shapes is None:
        return list(_definitions_uncached(ra))
    return _DEFS.get(ra.shapes, lambda _: list(_definitions_uncached(ra)))


_GENERIC = re.compile(
    r"\b(?:conformabl\w*|conformal\w*|compatibl\w*|(?:appropriate|suitabl)\w*\s+(?:sized?|sizes|dimension\w*|shape\w*)"
    r"|of\s+(?:suitable|appropriate|compatible|matching)\s+(?:sizes?|dimensions?|shapes?)|whenever\b[^.]*\bdefined)\b", re.I)


def _generic_sizes(text: str, region: Region) -> bool:
    """The sentence says its letters are generic: "for conformable matrices", "whenever the
    products are defined", "of compatible sizes" -- then the document's declarations of
    those letters do not apply, and a size mismatch there is not an error."""
    from .document.sentences import sentence_around

    before, after = sentence_around(text, region)
    return bool(_GENERIC.search(before) or _GENERIC.search(after))


def _defined_in(statements: tuple[ir.Chain, ...]) -> tuple[tuple[str, ir.Expr], ...]:
    return tuple((name, st.parts[1]) for st in statements if (name := _defined_name(st)) is not None)


_DEFINED: IdMemo = IdMemo()  # per cached statements: a keystroke elsewhere skips them


def _defined_name(st: ir.Chain) -> str | None:
    """The name `M = …` or `f(x) = …` defines (a function's value is its right side)."""
    if not (len(st.parts) >= 2 and st.ops and st.ops[0] in ("=", ":=")):
        return None
    lhs = st.parts[0]
    if isinstance(lhs, ir.Sym):
        return lhs.name
    if isinstance(lhs, ir.Opaque) and lhs.args and all(isinstance(a, ir.Sym) for a in lhs.args) \
            and re.fullmatch(r"\\?[A-Za-z]+", lhs.text):
        return lhs.text
    return None


def _definitions_uncached(ra: RegionAnalysis):
    from .shapes import is_known

    for st in ra.statements:
        if (name := _defined_name(st)) is not None:
            s = ra.shape_of(st.parts[1])
            if s is not None and is_known(s.rows) and is_known(s.cols):
                depends = frozenset(n.name for n in st.parts[1].walk() if isinstance(n, ir.Sym))
                yield name, s, depends


def _first_span(ra: RegionAnalysis, name: str) -> Span:
    for st in ra.statements:
        for node in st.walk():
            if isinstance(node, ir.Sym) and node.name == name and node.span:
                return _shift(node.span, ra.region.start)
    return (ra.region.start, ra.region.end)


# ------------------------------------------------------------------ public, protocol-free API


def check_document(text: str, language: str, path: str | None = None, context=None) -> list[Problem]:
    return analyze_cached(text, language, path, context).problems


def node_at(ra: RegionAnalysis, rel: int) -> tuple[ir.Chain, ir.Expr] | None:
    """Smallest node whose span contains the relative offset ``rel``."""
    best: tuple[ir.Chain, ir.Expr] | None = None
    best_len = None
    for st in ra.statements:
        if st.span is None or not (st.span[0] <= rel <= st.span[1]):
            continue
        for node in st.walk():
            sp = node.span
            if sp is None or not (sp[0] <= rel < max(sp[1], sp[0] + 1)):
                continue
            ln = sp[1] - sp[0]
            if best_len is None or ln < best_len or (ln == best_len and not isinstance(node, ir.Chain)):
                best, best_len = (st, node), ln
    if best is None:
        for st in ra.statements:
            if st.span and st.span[0] <= rel <= st.span[1]:
                return st, st
    return best


def symbol_decl(scope: Scope, node: ir.Expr) -> Decl | None:
    name = symbol_name(node) if isinstance(node, (ir.Sym, ir.Indexed)) else None
    return scope.decls.get(name) if name else None


_DOC_CACHE = _Cache(size=8)


def analyze_cached(text: str, language: str, path: str | None = None, context=None) -> DocumentAnalysis:
    """The analysis of this exact text, reused across requests (hover after diagnostics).
    Without a ``context``, a LaTeX file with a path gets that of the active project (the
    language server sets one: see ``document.project.set_active``)."""
    if context is None and path and language == "latex":
        context = _active_context(path, text)
    key = (path, language, hash(text), len(text), context.fingerprint if context is not None else None)
    hit = _DOC_CACHE.get(key)
    if hit is not None and hit.text == text:
        return hit
    doc = analyze(text, language, path, context, previous=_LAST.get((path, language)) if path else None)
    _DOC_CACHE.put(key, doc)
    if path:
        _LAST[(path, language)] = doc
        if len(_LAST) > 64:
            del _LAST[next(iter(_LAST))]
    return doc


_LAST: dict[tuple[str, str], DocumentAnalysis] = {}  # the latest analysis of each document


def forget(path: str) -> None:
    """The document at ``path`` was closed: its latest analysis need not be kept."""
    for key in [k for k in _LAST if k[0] == path]:
        del _LAST[key]


def _active_context(path: str, text: str):
    from .document.project import active

    project = active()
    if project is None:
        return None
    try:
        return project.context_for(path, text)
    except Exception:  # noqa: BLE001 - a project problem never stops this file's analysis
        import logging

        logging.getLogger(__name__).exception("project context failed for %s", path)
        return None


def check_document_cached(text: str, language: str, path: str | None = None) -> list[Problem]:
    return analyze_cached(text, language, path).problems


def hover(text: str, language: str, offset: int, options=None, path: str | None = None):
    """Hover at a document offset (see ``features.hover``); None when not on math."""
    from .features.hover import HoverOptions, hover as _hover

    return _hover(analyze_cached(text, language, path), offset, options or HoverOptions())


@dataclass(frozen=True)
class Coverage:
    regions: int
    parsed: int  # read without a parse issue
    shaped: int  # every statement's top node has at least one known dimension
    skipped: int  # not read (math mcls does not model; left alone silently)


def coverage(doc: DocumentAnalysis) -> Coverage:
    """How much of a document's math mcls understood (`mcls check --stats`)."""
    from .shapes import is_known

    parsed = shaped = 0
    for ra in doc.regions:
        if ra.parsed.issues or not ra.statements:
            continue
        parsed += 1
        ok = True
        for st in ra.statements:
            s = ra.shape_of(st.parts[0]) if st.parts else None
            if s is None or not (is_known(ra.shapes.sizes.resolve(s.rows)) or is_known(ra.shapes.sizes.resolve(s.cols))):
                ok = False
                break
        shaped += ok
    n = len(doc.regions)
    return Coverage(n, parsed, shaped, n - parsed)
