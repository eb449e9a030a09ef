"""Navigation and editing of math (issue 10), on small documents with a cursor marker ``⁁``:
definition/declaration, references and highlights, rename (applied and re-checked), outline,
semantic tokens, completion and the shape of the expression being typed."""

from __future__ import annotations

import difflib
import os
from collections import Counter

import pytest

from mcls.analysis import analyze
from mcls.features import completion as comp
from mcls.features import navigation as nav
from mcls.features.semantic import TOKEN_MODIFIERS, TOKEN_TYPES, encode, semantic_tokens
from mcls.document.text import LineIndex

from fixtures import cursor, span_of

MARK = "⁁"

TEX = (
    "\\newcommand{\\vX}{\\mathbf{X}}\n"
    "\\newcommand{\\Xt}{X^\\top}\n"
    "\\newcommand{\\R}{\\mathbb{R}}\n"
    "\\section{Setting 😀}\n"
    "Let $X \\in \\R^{n\\times p}$, $\\vX \\in \\mathbb{R}^{p\\times p}$ and $y \\in \\mathbb{R}^n$.\n"
    "Let $W$ be an $n \\times n$ matrix and $\\mathbf{x} \\in \\mathbb{R}^p$.\n"
    "\\subsection{Model}\n"
    "\\begin{equation}\n"
    "M = X^\\top W X + \\vX^{-1} + \\Xt X\n"
    "\\end{equation}\n"
    "and $G = x_{ij} \\odot X$, $s = \\operatorname{tr}(W) + y^\\top W y + \\mathbf{x}^\\top \\mathbf x$.\n"
)


def at(doc_with_mark: str, lang: str = "latex"):
    text, off = cursor(doc_with_mark, MARK)
    return analyze(text, lang), text, off


def mark(text: str, needle: str, nth: int = 0, delta: int = 0) -> str:
    """``text`` with the cursor marker inside the nth ``needle`` (after ``delta`` characters)."""
    a, _ = span_of(text, needle, nth)
    return text[: a + delta] + MARK + text[a + delta :]


def texts(text: str, spans) -> list[str]:
    return [text[a:b] for a, b in spans]


# ------------------------------------------------------------------ definition / declaration


def test_definition_from_uses_to_the_declaration():
    doc, text, off = at(mark(TEX, "X^\\top W"))
    (t,) = nav.definition(doc, off)
    assert t.span == span_of(text, "X \\in")[:1] + (span_of(text, "X \\in")[0] + 1,)
    # from an entry x_{ij} (read as the entry of X), from inside \operatorname{tr}(W)
    doc, text, off = at(mark(TEX, "x_{ij}"))
    assert [text[slice(*t.span)] for t in nav.definition(doc, off)] == ["X"]
    assert nav.definition(doc, off)[0].span[0] == text.index("X \\in")
    doc, text, off = at(mark(TEX, "(W)", delta=1))
    (t,) = nav.definition(doc, off)
    assert t.span == span_of(text, "W", 0)  # "Let $W$ be an n×n matrix": a prose declaration


def test_fonts_are_part_of_the_name():
    doc, text, off = at(mark(TEX, "\\mathbf x", delta=8))  # `\mathbf x` = `\mathbf{x}`, not x
    (t,) = nav.definition(doc, off)
    assert t.span == span_of(text, "\\mathbf{x} \\in")[:1] + (text.index("\\mathbf{x} \\in") + len("\\mathbf{x}"),)
    refs = texts(text, nav.references(doc, off))
    assert refs == ["\\mathbf{x}", "\\mathbf{x}", "\\mathbf x"]


def test_definition_of_a_defined_symbol_and_of_macros():
    doc, text, off = at(TEX + "$M^\\top" + MARK + "$\n")
    (t,) = nav.definition(doc, off - 5)  # on M
    assert t.span == span_of(text, "M =")[:1] + (text.index("M =") + 1,)
    # a macro standing for a symbol: its \newcommand and the symbol's declaration
    doc, text, off = at(mark(TEX, "\\vX^{-1}", delta=2))
    targets = nav.definition(doc, off)
    assert [text[slice(*t.span)] for t in targets] == ["\\vX", "\\vX"]
    assert targets[0].span == (text.index("\\vX"), text.index("\\vX") + 3)  # in \newcommand{\vX}
    assert targets[0].full == (0, text.index("\n"))
    assert targets[1].span == span_of(text, "\\vX \\in")[:1] + (text.index("\\vX \\in") + 3,)
    assert [text[slice(*t.span)] for t in nav.declaration(doc, off)] == ["\\vX"]
    assert nav.declaration(doc, off)[0].span == targets[1].span
    # a macro that stands for no symbol (\R)
    doc, text, off = at(mark(TEX, "\\R^{n", delta=1))
    (t,) = nav.definition(doc, off)
    assert t.span == (text.index("\\R}"), text.index("\\R}") + 2)
    assert nav.definition(doc, text.index("Setting")) == []


def test_prose_and_markdown_declarations():
    md = "# Notes\n\nLet $A$ be an $n \\times m$ matrix.\n\n$$ B = A^\\top A $$\n"
    doc, text, off = at(mark(md, "A^\\top"), "markdown")
    (t,) = nav.definition(doc, off)
    assert t.span == span_of(text, "A")


# ------------------------------------------------------------------ references / highlights


def test_references_cover_macros_entries_and_honour_fonts():
    doc, text, off = at(mark(TEX, "X \\in"))
    idx = nav.symbol_index(doc)
    refs = nav.references(doc, off)
    assert texts(text, refs) == ["X", "X", "X", "\\Xt", "X", "x", "X"]
    assert refs[3] == span_of(text, "\\Xt X")[:1] + (text.index("\\Xt X") + 3,)  # the macro use
    assert nav.references(doc, off, include_declaration=False) == refs[1:]
    # \mathbf{X} (through \vX) is another symbol
    bold = nav.references(doc, text.index("\\vX \\in") + 1)
    assert texts(text, bold) == ["\\vX", "\\vX"]
    assert all(o.kind == "symbol" for o in idx.occurrences if o.name in ("X", "\\mathbf{X}"))
    hl = nav.highlights(doc, off)
    assert [k for _, k in hl] == ["write"] + ["read"] * 6


def test_sizes_have_references_too():
    doc, text, off = at(mark(TEX, "n\\times p"))
    refs = texts(text, nav.references(doc, off))
    assert refs == ["n", "n", "n", "n"]  # \R^{n\times p}, \mathbb{R}^n, $n \times n$
    assert nav.definition(doc, off)[0].span == span_of(text, "n\\times p")[:1] + (text.index("n\\times p") + 1,)


def test_nothing_outside_math():
    doc, text, _ = at(TEX + MARK)
    assert nav.symbol_at(doc, text.index("Let")) is None
    assert nav.references(doc, text.index("matrix")) == []
    assert nav.prepare_rename(doc, text.index("Model")) is None


# ------------------------------------------------------------------ rename


def check_rename(text: str, lang: str, offset: int, new: str) -> str:
    """Rename, apply, re-analyse: no new diagnostics, every old use renamed, nothing else changed."""
    doc = analyze(text, lang)
    occ = nav.symbol_at(doc, offset)
    assert occ is not None
    before = nav.symbol_index(doc)
    old_uses = before.of(occ)
    edits = nav.rename(doc, offset, new)
    out = nav.apply_edits(text, edits)
    after_doc = analyze(out, lang)
    after = nav.symbol_index(after_doc)
    # no new diagnostics
    assert Counter(p.code for p in after_doc.problems) == Counter(p.code for p in doc.problems)
    # every old use renamed: as many uses of the new name as there were of the old, none left
    new_name = nav.parse_name(new)
    assert len(after.by_name.get((occ.kind, nav.key(new_name)), [])) == len(old_uses)
    assert (occ.kind, nav.key(occ.name)) not in after.by_name
    # the other symbols are untouched
    others = lambda idx: Counter((o.kind, nav.key(o.name)) for o in idx.occurrences if nav.key(o.name) not in (nav.key(occ.name), nav.key(new_name)))
    assert others(after) == others(before)
    # nothing else changed: every changed chunk of the text is one of the edits
    allowed = [e.span for e in edits]
    for tag, a1, a2, _, _ in difflib.SequenceMatcher(None, text, out, autojunk=False).get_opcodes():
        if tag != "equal":
            assert any(s <= a1 and a2 <= e or (a1 == a2 and s <= a1 <= e) for s, e in allowed), (tag, text[a1 - 10 : a2 + 10])
    return out


def test_rename_rewrites_every_use_in_the_authors_form():
    off = TEX.index("X \\in")
    out = check_rename(TEX, "latex", off, "Y")
    assert "Let $Y \\in \\R^{n\\times p}$" in out
    assert "M = Y^\\top W Y + \\vX^{-1} + \\Xt Y" in out
    assert "\\newcommand{\\Xt}{Y^\\top}" in out  # the macro body, once
    assert "$G = y_{ij} \\odot Y$" not in out and "$G = Y_{ij} \\odot Y$" in out  # y is taken: write Y_{ij}
    out = check_rename(TEX, "latex", off, "\\mathbf{Z}")
    assert "M = \\mathbf{Z}^\\top W \\mathbf{Z}" in out and "\\mathbf{z}_{ij} \\odot \\mathbf{Z}" in out
    assert "\\newcommand{\\Xt}{\\mathbf{Z}^\\top}" in out


def test_rename_through_a_macro_rewrites_its_definition():
    off = TEX.index("\\vX^{-1}") + 1
    place = nav.prepare_rename(analyze(TEX, "latex"), off)
    assert place.placeholder == "\\mathbf{X}" and TEX[slice(*place.span)] == "\\vX"
    out = check_rename(TEX, "latex", off, "\\mathbf{V}")
    assert out.startswith("\\newcommand{\\vX}{\\mathbf{V}}\n")
    assert out.count("\\vX") == TEX.count("\\vX")  # the uses keep the macro


def test_rename_keeps_brace_less_fonts_and_token_boundaries():
    doc = "Let $\\mathbf x \\in \\mathbb{R}^n$ and $\\Sigma \\in \\mathbb{R}^{n\\times n}$.\n$f = \\mathbf{x}^\\top\\Sigma\\mathbf x + \\mathbf x\\cdot\\Sigma$\n"
    out = check_rename(doc, "latex", doc.index("\\mathbf x"), "\\mathbf{u}")
    assert "$\\mathbf u \\in" in out and "\\mathbf{u}^\\top" in out and "\\mathbf u\\cdot" in out
    out = check_rename(doc, "latex", doc.index("\\Sigma"), "S")
    assert "\\mathbf{x}^\\top S\\mathbf x" in out and "\\cdot S$" in out
    out = check_rename(doc, "latex", doc.index("\\mathbf x"), "\\beta")
    assert "\\beta \\in" in out and "\\beta\\cdot" in out
    doc = "Let $a, b \\in \\mathbb{R}$.\n$g = ab + b$\n"
    out = check_rename(doc, "latex", doc.index("a,"), "\\alpha")
    assert "$g = \\alpha b + b$" in out  # not \alphab


def test_rename_a_size():
    out = check_rename(TEX, "latex", TEX.index("n\\times p"), "m")
    assert "\\R^{m\\times p}" in out and "\\mathbb{R}^m$" in out and "$m \\times m$" in out


def test_rename_refuses_clashes_and_non_names():
    doc = analyze(TEX, "latex")
    off = TEX.index("X \\in")
    for new, words in [("W", "already a symbol"), ("y", "already a symbol"), ("\\mathbf{x}", "already a symbol"),
                       ("n", "size"), ("x+1", "not a math name"), ("2", "not a math name"), ("\\vX", "not a math name"),
                       ("G", "already a symbol"), ("", "not a math name")]:
        with pytest.raises(nav.RenameError, match=words):
            nav.rename(doc, off, new)
    assert nav.rename(doc, off, "X") == []
    with pytest.raises(nav.RenameError, match="math symbols"):
        nav.rename(doc, TEX.index("Setting"), "Y")


def test_rename_refuses_to_capture_a_convention():
    doc = "Let $X \\in \\mathbb{R}^{n\\times n}$.\n$M = X + I_n$\n"
    with pytest.raises(nav.RenameError, match="identity"):
        nav.rename(analyze(doc, "latex"), doc.index("X"), "I")


def test_rename_with_emoji_and_crlf_markdown():
    md = "# 😀 Notes\r\n\r\nLet $\\mathbf{A} \\in \\mathbb{R}^{n\\times m}$ 😀 and $b \\in \\mathbb{R}^n$.\r\n\r\n$$\r\nc = \\mathbf{A}^\\top b\r\n$$\r\n"
    out = check_rename(md, "markdown", md.index("\\mathbf{A}^\\top") + 3, "\\mathbf{B}")
    assert out == md.replace("\\mathbf{A}", "\\mathbf{B}")


# ------------------------------------------------------------------ outline


def test_document_symbols_grouped_by_section_with_shapes():
    doc = analyze(TEX, "latex")
    outline = nav.document_symbols(doc)
    assert [s.name for s in outline] == ["Setting 😀"]
    sec = outline[0]
    names = [c.name for c in sec.children]
    assert names[:5] == ["X : n×p", "𝐗 : p×p", "y : n-vector", "W : n×n", "𝐱 : p-vector"]
    sub = sec.children[-1]
    assert sub.kind == "section" and sub.name == "Model"
    assert [c.name for c in sub.children] == ["M : p×p", "G : n×p", "s : scalar"]
    assert {c.kind for c in sec.children[:5]} == {"matrix", "vector"}
    x = sec.children[0]
    assert TEX[slice(*x.selection)] == "X" and x.detail == "X"


def test_document_symbols_markdown_headings_skip_code():
    md = "# Top\n\n```python\n# not a heading\n```\n\n## Data\n\nLet $X \\in \\mathbb{R}^{n\\times p}$.\n\n## Loss\n\n$$L = \\|X\\|_F^2$$\n"
    outline = nav.document_symbols(analyze(md, "markdown"))
    assert [s.name for s in outline] == ["Top"]
    assert [s.name for s in outline[0].children] == ["Data", "Loss"]
    assert [c.name for c in outline[0].children[0].children] == ["X : n×p"]
    assert [c.name for c in outline[0].children[1].children] == ["L : scalar"]


# ------------------------------------------------------------------ semantic tokens


def kinds(text: str, lang: str = "latex") -> dict[str, tuple[str, tuple[str, ...]]]:
    toks = semantic_tokens(analyze(text, lang))
    return {text[t.span[0] : t.span[1]] + f"@{t.span[0]}": (t.type, t.modifiers) for t in toks}


def test_semantic_tokens_classify_math_only():
    text = TEX
    toks = semantic_tokens(analyze(text, "latex"))
    by = {}
    for t in toks:
        by.setdefault(text[t.span[0] : t.span[1]], set()).add((t.type, t.modifiers))
    assert ("variable", ("declaration", "matrix")) in by["X"]
    assert ("variable", ("matrix",)) in by["X"]
    assert ("variable", ("declaration", "vector")) in by["y"]
    assert ("variable", ("definition", "scalar")) in by["s"]
    assert by["n"] == {("parameter", ())}
    assert ("operator", ()) in by["\\odot"] and ("operator", ()) in by["\\top"] and ("operator", ()) in by["="]
    assert by["\\operatorname{tr}"] == {("function", ("defaultLibrary",))}
    assert ("variable", ("declaration", "matrix")) in by["\\vX"]  # a macro standing for a symbol
    assert ("type", ("defaultLibrary",)) in by["\\mathbb{R}"]
    assert "Let" not in by and "matrix" not in by and "Setting" not in by  # prose: no tokens
    # sorted, non-overlapping, one line each, inside math regions
    doc = analyze(text, "latex")
    for a, b in zip(toks, toks[1:]):
        assert a.span[1] <= b.span[0]
    for t in toks:
        assert any(r.region.start <= t.span[0] and t.span[1] <= r.region.end for r in doc.regions)
    assert all(t.type in TOKEN_TYPES and set(t.modifiers) <= set(TOKEN_MODIFIERS) for t in toks)


def test_semantic_tokens_encoding_counts_utf16():
    text = "😀 $x \\in \\mathbb{R}^n$\r\n😀😀 $x^\\top x$"
    doc = analyze(text, "markdown")
    idx = LineIndex(text)
    data = encode(semantic_tokens(doc), idx.offset_to_position)
    tokens = [data[i : i + 5] for i in range(0, len(data), 5)]
    assert tokens[0][:3] == [0, 4, 1]  # x after "😀 $": 2 + 1 + 1 UTF-16 units
    line, col = 0, 0
    seen = []
    for dl, dc, ln, ty, _ in tokens:
        line += dl
        col = dc if dl else col + dc
        seen.append((line, col, ln, TOKEN_TYPES[ty]))
    assert (1, 6, 1, "variable") in seen  # the second line's x: 😀😀 = 4 units, then " $"


def test_semantic_tokens_range():
    doc = analyze(TEX, "latex")
    a = TEX.index("\\begin{equation}")
    b = TEX.index("\\end{equation}")
    toks = semantic_tokens(doc, (a, b))
    assert toks and all(a <= t.span[0] and t.span[1] <= b for t in toks)


# ------------------------------------------------------------------ completion


def labels(c) -> list[str]:
    return [i.label for i in c.items]


def test_completion_after_backslash_in_math():
    doc, text, off = at(TEX + "$Z = X^\\t" + MARK + "$\n")
    c = comp.completions(doc, off)
    assert text[slice(*c.span)] == "\\t"
    ls = labels(c)
    for want in ("\\top", "\\odot", "\\operatorname{tr}", "\\mathbf{}", "\\vX", "\\Xt", "\\mathbf{x}", "\\Sigma"):
        assert want in ls
    assert "X" not in ls  # after a backslash, only commands
    item = next(i for i in c.items if i.label == "\\vX")
    assert item.detail == "p×p"  # the macro stands for \mathbf{X}
    bold = next(i for i in c.items if i.label == "\\mathbf{x}")
    assert bold.detail == "p-vector" and bold.kind == "variable"
    frac = next(i for i in c.items if i.label == "\\mathbf{}")
    assert frac.snippet == "\\mathbf{$1}$0"


def test_completion_on_letters_offers_symbols_with_shapes():
    doc, text, off = at(TEX + "$Z = W" + MARK + "$\n")
    c = comp.completions(doc, off)
    assert text[slice(*c.span)] == "W"
    got = {i.label: i.detail for i in c.items}
    assert got["W"] == "n×n"
    assert "\\top" not in got
    doc, text, off = at(TEX + "$Z = x" + MARK + "$\n")
    got = {i.label: (i.detail, i.filter) for i in comp.completions(doc, off).items}
    assert got["\\mathbf{x}"] == ("p-vector", "x")  # typed x, offered the bold x too


def test_no_completion_outside_math_or_in_text():
    doc, text, off = at(TEX + "Prose \\t" + MARK + " here\n")
    assert comp.completions(doc, off) is None
    doc, text, off = at(TEX + "$a = \\text{for all \\t" + MARK + "}$\n")
    assert comp.completions(doc, off) is None
    doc, text, off = at(TEX + "$a = b \\\\" + MARK + "$\n")
    assert comp.completions(doc, off) is None


# ------------------------------------------------------------------ shape of the expression being typed


def test_signature_help_shows_the_shape_being_typed():
    doc, text, off = at(TEX + "$Z = X^\\top W " + MARK + "$\n")
    h = comp.signature_help(doc, off)
    assert h.label == "Xᵀ W : p×n"
    doc, text, off = at(TEX + "$Z = \\operatorname{tr}(X^\\top W X " + MARK + "$\n")
    h = comp.signature_help(doc, off)
    assert h.label == "tr(Xᵀ W X) : scalar" and h.documentation == "inside tr(…): Xᵀ W X : p×p"
    doc, text, off = at(TEX + "$Z = X W \\odot " + MARK + "$\n")
    h = comp.signature_help(doc, off)
    assert "cannot multiply" in h.label
    doc, text, off = at(TEX + "Prose " + MARK + "\n")
    assert comp.signature_help(doc, off) is None


# ------------------------------------------------------------------ multi-file papers


def test_definition_across_the_files_of_a_project(tmp_path):
    project = pytest.importorskip("mcls.document.project")
    import inspect

    if "context" not in inspect.signature(analyze).parameters:
        pytest.skip("analysis without project contexts")
    from mcls.lsp.navigation_handlers import _other_locations

    ws = tmp_path / "ws"
    (ws / "sections").mkdir(parents=True)
    main = "\\documentclass{article}\n\\usepackage{macros}\n\\begin{document}\nLet $\\vX \\in \\mathbb{R}^{n\\times p}$ 😀.\n\\input{sections/method}\n\\end{document}\n"
    (ws / "main.tex").write_text(main, encoding="utf-8")
    (ws / "macros.sty").write_text("\\ProvidesPackage{macros}\n\\newcommand{\\vX}{\\mathbf{X}}\n", encoding="utf-8")
    method = "\\section{Method}\nThe Gram matrix is $G = \\vX^\\top \\vX$.\n"
    (ws / "sections" / "method.tex").write_text(method, encoding="utf-8")
    path = str(ws / "sections" / "method.tex")
    ctx = project.Project([str(ws)]).context_for(path, method)
    doc = analyze(method, "latex", path, ctx)
    off = method.index("\\vX^") + 1
    targets = nav.definition(doc, off)
    assert [(os.path.basename(t.path or ""), t.name) for t in targets] == [("macros.sty", "\\vX"), ("main.tex", None)]
    locs = _other_locations(targets, "utf-16", None)
    assert locs[0].uri.endswith("/macros.sty") and (locs[0].range.start.line, locs[0].range.start.character) == (1, 12)
    assert locs[1].uri.endswith("/main.tex") and (locs[1].range.start.line, locs[1].range.start.character) == (3, 5)
    # references stay in this file; completion knows the other files' symbols
    assert texts(method, nav.references(doc, off)) == ["\\vX", "\\vX"]
    c = comp.completions(doc, method.index("\\vX^") + 2)
    assert next(i for i in c.items if i.label == "\\vX").detail == "n×p"
    with pytest.raises(nav.RenameError, match="main.tex"):
        nav.rename(doc, off, "\\mathbf{Y}")


def test_rename_through_front_matter_macros_keeps_yaml_escapes():
    md = ('---\nkatex:\n  macros:\n    "\\\\vx": "\\\\mathbf{x}"\n---\n\n'
          "Let $\\vx \\in \\mathbb{R}^n$ 😀.\n\n$$ y = \\vx^\\top \\vx $$\n")
    if not analyze(md, "markdown").macros:
        pytest.skip("front matter macros are not read")
    out = check_rename(md, "markdown", md.index("\\vx \\in") + 1, "u")
    assert '"\\\\vx": "u"' in out and out.endswith("$$ y = \\vx^\\top \\vx $$\n")
    out = check_rename(md, "markdown", md.index("\\vx \\in") + 1, "\\beta")
    assert '"\\\\vx": "\\\\beta"' in out
