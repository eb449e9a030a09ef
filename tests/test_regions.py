"""find_regions: math regions in LaTeX and Markdown.

Most tests use ``marked``: the document with each region's content wrapped
in ⟦ ⟧, which checks every start and end offset at a glance.
"""

import random
import time

from mcls.document.regions import Region, find_regions, language_for
from mcls.document.text import LineIndex


def marked(doc: str, language: str = "latex") -> str:
    out, last = [], 0
    for r in find_regions(doc, language):
        assert r.text == doc[r.start : r.end]
        assert last <= r.outer_start <= r.start <= r.end <= r.outer_end
        out += [doc[last : r.start], "⟦", r.text, "⟧"]
        last = r.end
    return "".join(out) + doc[last:]


def one(doc: str, language: str = "latex") -> Region:
    (r,) = find_regions(doc, language)
    return r


def md(doc: str) -> str:
    return marked(doc, "markdown")


# ------------------------------------------------------------------ LaTeX


def test_latex_delimiters():
    doc = r"a $x$ b $$y$$ c \(z\) d \[w\] e"
    assert marked(doc) == r"a $⟦x⟧$ b $$⟦y⟧$$ c \(⟦z⟧\) d \[⟦w⟧\] e"
    kinds = [(r.kind, r.display, r.env, r.closed) for r in find_regions(doc, "latex")]
    assert kinds == [
        ("$", False, None, True),
        ("$$", True, None, True),
        ("\\(", False, None, True),
        ("\\[", True, None, True),
    ]


def test_latex_outer_offsets():
    doc = r"ab $x$ \[y\] \begin{align*}z\end{align*}"
    r1, r2, r3 = find_regions(doc, "latex")
    assert doc[r1.outer_start : r1.outer_end] == "$x$"
    assert doc[r2.outer_start : r2.outer_end] == r"\[y\]"
    assert doc[r3.outer_start : r3.outer_end] == r"\begin{align*}z\end{align*}"


def test_latex_environments():
    for env in ["equation", "align", "gather", "multline", "eqnarray", "flalign",
                "split", "displaymath", "equation*", "align*", "gather*", "multline*"]:  # fmt: skip
        r = one(f"x \\begin{{{env}}} a = b \\end{{{env}}} y")
        assert (r.kind, r.env, r.text, r.display, r.closed) == ("env", env, " a = b ", True, True)
    r = one(r"\begin{math} a \end{math}")
    assert (r.env, r.display) == ("math", False)


def test_latex_alignat_argument_is_skipped():
    assert one(r"\begin{alignat}{2} a &= b \end{alignat}").text == " a &= b "
    assert one(r"\begin{alignat*} {3}x\end{alignat*}").text == "x"


def test_latex_nested_environment_belongs_to_the_outer_region():
    doc = "\\begin{equation}\n\\begin{split} a &= b \\\\ &= c \\end{split}\n\\end{equation}"
    r = one(doc)
    assert r.env == "equation"
    assert r.text == "\n\\begin{split} a &= b \\\\ &= c \\end{split}\n"


def test_latex_non_math_environments_are_not_regions():
    assert marked(r"\begin{itemize}\item $x$\end{itemize}") == r"\begin{itemize}\item $⟦x⟧$\end{itemize}"


def test_latex_comments():
    assert marked("a % $x$ not math\n$y$") == "a % $x$ not math\n$⟦y⟧$"
    assert marked(r"100\% sure $y$") == r"100\% sure $⟦y⟧$"
    # A "$" in a comment inside math does not close it.
    assert marked("$$ a % $$ no\n + b $$") == "$$⟦ a % $$ no\n + b ⟧$$"
    assert marked("\\[ a % \\]\n b \\]") == "\\[⟦ a % \\]\n b ⟧\\]"
    doc = "\\begin{align}\na % \\end{align}\n\\end{align}"
    assert one(doc).text == "\na % \\end{align}\n"


def test_latex_escapes():
    assert marked(r"costs \$5 and \$6") == r"costs \$5 and \$6"
    assert marked(r"$a \$ b$") == r"$⟦a \$ b⟧$"
    assert marked(r"$a \% b$ c") == r"$⟦a \% b⟧$ c"
    assert marked(r"a \\$x$") == r"a \\$⟦x⟧$"  # \\ is a line break, then math
    assert marked(r"a \\[2pt] b $x$") == r"a \\[2pt] b $⟦x⟧$"  # not display math
    assert marked(r"\[ a \\[2pt] b \]") == r"\[⟦ a \\[2pt] b ⟧\]"


def test_latex_two_inline_formulas_touching():
    assert marked("$a$$b$") == "$⟦a⟧$$⟦b⟧$"


def test_latex_verbatim_is_skipped():
    assert marked(r"\verb|$x$| $y$") == r"\verb|$x$| $⟦y⟧$"
    assert marked(r"\verb+$+ \verb*!%! $y$") == r"\verb+$+ \verb*!%! $⟦y⟧$"
    assert marked(r"\lstinline{$a$} \lstinline[language=TeX]|$b| $y$").endswith("$⟦y⟧$")
    for env in ["verbatim", "lstlisting", "minted", "comment", "verbatim*"]:
        doc = f"\\begin{{{env}}}\n$x$ \\[ % \n\\end{{{env}}} $y$"
        assert find_regions(doc, "latex")[0].text == "y", env
    assert marked("\\begin{verbatim}\n$x$ never closed") == "\\begin{verbatim}\n$x$ never closed"


def test_latex_text_groups_may_hold_nested_math():
    assert marked(r"$f = \text{ if $x>0$ } g$ end") == r"$⟦f = \text{ if $x>0$ } g⟧$ end"
    assert marked(r"$$ a \mbox{$b$} \text{\{$c$\}} $$") == r"$$⟦ a \mbox{$b$} \text{\{$c$\}} ⟧$$"
    assert marked(r"\[ x \text{ for $i$} \]") == r"\[⟦ x \text{ for $i$} ⟧\]"
    assert marked(r"$a \tag*{$*$}$") == r"$⟦a \tag*{$*$}⟧$"


def test_latex_definitions_do_not_open_regions():
    doc = (
        "\\newcommand{\\be}{\\begin{equation}}\n\\def\\ee#1{\\end{equation}}\n"
        "\\newenvironment{eqs}[1][x]{\\begin{align}}{\\end{align}}\n"
        "\\newcommand*\\R{\\mathbb{R}}\n$y$"
    )
    assert [r.text for r in find_regions(doc, "latex")] == ["y"]


def test_latex_unclosed_inline_stops_at_paragraph_end():
    doc = "text $a + b\nmore\n\nnext $c$"
    r1, r2 = find_regions(doc, "latex")
    assert (r1.text, r1.closed, r1.outer_end) == ("a + b\nmore", False, r1.end)
    assert (r2.text, r2.closed) == ("c", True)
    assert marked("$a\r\n  \r\n$b$") == "$⟦a⟧\r\n  \r\n$⟦b⟧$"
    assert marked("$a\r\r$b$") == "$⟦a⟧\r\r$⟦b⟧$"
    assert marked("x $") == "x $⟦⟧"


def test_latex_unclosed_display_stops_at_paragraph_end():
    for doc in ["\\[ a\n\nb $c$", "$$ a\n\nb $c$", "\\( a\n\nb $c$"]:
        r1, r2 = find_regions(doc, "latex")
        assert (r1.text, r1.closed, r2.text) == (" a", False, "c")


def test_latex_unclosed_math_stops_before_sectioning():
    doc = "\\section{A} $x\n\\section{B} $y$ \\item \\( z \\item w"
    got = [(r.text, r.closed) for r in find_regions(doc, "latex")]
    assert got == [("x\n", False), ("y", True), (" z ", False)]
    assert marked(r"$\itemize x$") == r"$⟦\itemize x⟧$"  # only the exact command


def test_latex_unclosed_environment_runs_to_the_end():
    doc = "\\begin{align} x\n\ny $z$"
    r = one(doc)
    assert (r.text, r.closed, r.end, r.outer_end) == (" x\n\ny $z$", False, len(doc), len(doc))


def test_latex_unicode_before_math_on_the_same_line():
    doc = "∂f ⊙ g 😀 $x$\n"
    r = one(doc)
    assert (r.start, r.text) == (doc.index("x"), "x")
    # Region offsets are code points; LSP columns follow from LineIndex.
    assert LineIndex(doc).offset_to_position(r.start) == (0, 11)


# --------------------------------------------------------------- Markdown


def test_markdown_delimiters():
    assert md("a $x$ b") == "a $⟦x⟧$ b"
    assert md("a $$\nx = y\n$$ b") == "a $$⟦\nx = y\n⟧$$ b"
    assert md(r"a \(x\) b \[y\] c") == r"a \(⟦x⟧\) b \[⟦y⟧\] c"
    assert md(r"a \\(x\\) b \\[y\\] c") == r"a \\(⟦x⟧\\) b \\[⟦y⟧\\] c"
    kinds = [(r.kind, r.display) for r in find_regions(r"$a$ $$b$$ \(c\) \[d\] \\(e\\)", "markdown")]
    assert kinds == [("$", False), ("$$", True), ("\\(", False), ("\\[", True), ("\\(", False)]


def test_markdown_math_fences():
    doc = "text\n\n```math\na = b\nc\n```\n\n~~~ math\nd\n~~~~\n```{math}\ne\n```\n"
    regions = find_regions(doc, "markdown")
    assert [r.text for r in regions] == ["a = b\nc", "d", "e"]
    r = regions[0]
    assert (r.kind, r.env, r.display, r.closed) == ("fence", "math", True, True)
    assert doc[r.outer_start : r.outer_end] == "```math\na = b\nc\n```"
    assert one("```math\n```", "markdown").text == ""
    assert one("```math\r\nx\r\n```", "markdown").text == "x"


def test_markdown_unclosed_math_fence_runs_to_the_end():
    r = one("```math\na\n\nb $c$", "markdown")
    assert (r.text, r.closed) == ("a\n\nb $c$", False)


def test_markdown_pandoc_dollar_rules():
    assert md("costs $5 and $6 today") == "costs $5 and $6 today"
    assert md("$ x$ and $x $ and $x$5") == "$ x$ and $x $ and $x$5"
    assert md("$a$, $b$.") == "$⟦a⟧$, $⟦b⟧$."
    assert md("$a\nb$") == "$⟦a\nb⟧$"  # may span lines...
    assert md("$a\n\nb$ $c$") == "$a\n\nb$ $⟦c⟧$"  # ...but not a blank line
    assert md("$$a\n\nb$$") == "$$a\n\nb$$"
    assert md(r"\$x$ and $y\$ z$") == r"\$x$ and $⟦y\$ z⟧$"


def test_markdown_unmatched_dollar_is_literal():
    # Unlike LaTeX, an unmatched "$" in Markdown is text (currency), not an
    # unclosed region; later math is still found.
    assert md("pay $5 now\n\nthen $x$") == "pay $5 now\n\nthen $⟦x⟧$"
    assert md("a $ b, $x$") == "a $ b, $⟦x⟧$"
    # (Pandoc's rule does make "pay $5 now, then $x$" one formula.)
    assert md("pay $5 now, then $x$") == "pay $⟦5 now, then $x⟧$"
    assert md(r"open \( never closed") == r"open \( never closed"


def test_markdown_text_group_nested_math():
    assert md(r"$f = \text{ if $x>0$ } g$") == r"$⟦f = \text{ if $x>0$ } g⟧$"


def test_markdown_code_spans():
    assert md("`$x$` and $y$") == "`$x$` and $⟦y⟧$"
    assert md("``a ` $x$ `` $y$") == "``a ` $x$ `` $⟦y⟧$"
    assert md("```$x$``` $y$") == "```$x$``` $⟦y⟧$"  # one-line ``` is a code span
    assert md("an ` alone $y$") == "an ` alone $⟦y⟧$"  # unmatched backtick is literal
    assert md("`a\n\n$y$ b`") == "`a\n\n$⟦y⟧$ b`"  # code spans do not cross paragraphs
    assert md(r"\`$y$`") == r"\`$⟦y⟧$`"


def test_markdown_code_blocks_are_skipped():
    doc = "```python\n$x$\n```\n$y$\n~~~\n$z$\n~~~\n"
    assert [r.text for r in find_regions(doc, "markdown")] == ["y"]
    assert md("````\n```\n$x$\n````\n$y$") == "````\n```\n$x$\n````\n$⟦y⟧$"
    assert md("```\n$x$ never closed") == "```\n$x$ never closed"
    assert md("```python\n$x$\n```") == "```python\n$x$\n```"  # a fence on line 0


def test_markdown_indented_code():
    assert md("para\n\n    $x$\n\n$y$") == "para\n\n    $x$\n\n$⟦y⟧$"
    assert md("    $x$\n$y$") == "    $x$\n$⟦y⟧$"  # the start counts as after a blank line
    assert md("para\r\n\r\n\t$x$\r\n\r\n$y$") == "para\r\n\r\n\t$x$\r\n\r\n$⟦y⟧$"
    # Not code: a continuation line, or a list item's indented paragraph.
    assert md("para\n    $x$") == "para\n    $⟦x⟧$"
    assert md("- item\n\n    $x$\n") == "- item\n\n    $⟦x⟧$\n"
    assert md("1. item\n\n    ```math\n    a\n    ```\n") == "1. item\n\n    ```math\n⟦    a⟧\n    ```\n"


def test_markdown_front_matter():
    doc = "---\ntitle: $x$ costs\n---\n$y$"
    assert md(doc) == "---\ntitle: $x$ costs\n---\n$⟦y⟧$"
    assert md("---\r\na: $x$\r\n...\r\n$y$") == "---\r\na: $x$\r\n...\r\n$⟦y⟧$"
    assert md("text\n---\n$y$\n---\n") == "text\n---\n$⟦y⟧$\n---\n"  # not at the start
    assert md("\ufeff---\na: $x$\n---\n```math\nz\n```") == "\ufeff---\na: $x$\n---\n```math\n⟦z⟧\n```"


def test_markdown_crlf_and_unicode():
    doc = "∂ ⊙ 😀 $x$\r\n\r\n$$\r\ny\r\n$$\r\n"
    r1, r2 = find_regions(doc, "markdown")
    assert (r1.text, r2.text) == ("x", "\r\ny\r\n")
    assert LineIndex(doc).offset_to_position(r1.start) == (0, 8)
    assert LineIndex(doc).offset_to_position(r2.outer_end) == (4, 2)


# ------------------------------------------------------------------ misc


def test_language_for():
    assert language_for("latex", None) == "latex"
    assert language_for("tex", "/a/b.md") == "latex"
    assert language_for("plaintex", None) == "latex"
    assert language_for("markdown", "x.tex") == "markdown"
    assert language_for(None, "/a/notes.md") == "markdown"
    assert language_for("plaintext", "file:///a/b/Notes.QMD") == "markdown"
    assert language_for(None, "C:\\docs\\paper.Rmd") == "markdown"
    assert language_for(None, "x.markdown") == "markdown"
    for ext in ["tex", "sty", "cls", "ltx"]:
        assert language_for(None, f"a.{ext}") == "latex"
    assert language_for(None, None) == "latex"
    assert language_for("python", "a.py") == "latex"


def test_empty_and_junk_input_never_raises():
    for lang in ["latex", "markdown"]:
        assert find_regions("", lang) == []
        assert find_regions("\n\r\n", lang) == []
        junk = random.Random(7).randbytes(200_000).decode("latin-1")
        find_regions(junk, lang)
        find_regions("$\\" * 1000 + "\\", lang)


def test_random_documents_keep_invariants():
    pieces = ["$", "$$", "\\", "\\(", "\\)", "\\[", "\\]", "%", "{", "}", "`", "```", "~~~",
              "\n", "\r", "\r\n", " ", "    ", "\t", "x", "1", "math", "\\text{", "---", "- ",
              "\\begin{align}", "\\end{align}", "\\begin{verbatim}", "\\end{verbatim}", "\\verb",
              "|", "\\\\", "\\def", "\\newcommand", "😀", "\x00"]  # fmt: skip
    rng = random.Random(0)
    for _ in range(2000):
        doc = "".join(rng.choice(pieces) for _ in range(rng.randrange(30)))
        for lang in ["latex", "markdown"]:
            marked(doc, lang)  # asserts ordering and text == doc[start:end]


def test_large_documents():
    prose = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n"
    tex = (
        prose + "Let $f(x) = \\|Ax - b\\|_2^2$ so % $no$\n\\begin{align*}\n"
        "  \\frac{\\partial f}{\\partial X} &= \\text{ if $x>0$ } X^\\top\n\\end{align*}\n"
        "Text \\verb|$| with \\$5 and \\[ \\mathbf{x} \\odot \\mathbf{y} \\] 😀.\n\n"
    )
    doc = tex * (5_000_000 // len(tex))
    assert len(find_regions(doc, "latex")) == 3 * (5_000_000 // len(tex))
    mdoc = prose + "Some $x$ and `$no$` and $$\ny\n$$ cost $5.\n\n```math\nz\n```\n\n    $no$\n\n"
    doc = mdoc * (5_000_000 // len(mdoc))
    assert len(find_regions(doc, "markdown")) == 3 * (5_000_000 // len(mdoc))


def test_pathological_inputs_stay_linear():
    # Unmatched backtick runs of many different lengths once took quadratic time.
    cases = [
        ("".join("`" * k + " " for k in range(1, 1500)), "markdown"),
        ("$a $" * 100_000, "markdown"),
        ("\\text{" * 100_000, "latex"),
        ("$\\text{" + "{" * 200_000, "latex"),
        ("\n" * 500_000, "markdown"),
        ("\\begin{" * 100_000, "latex"),
        ("- a\n\n    x\n\n" * 50_000, "markdown"),
    ]
    for doc, lang in cases:
        t0 = time.perf_counter()
        find_regions(doc, lang)
        assert time.perf_counter() - t0 < 3.0, doc[:20]


def test_markdown_bare_environments_at_line_start():
    """Jupyter notebooks write display environments without $$ (MathJax typesets them)."""
    doc = "Text\n\\begin{align}\na &= b \\\\\nc &= d\n\\end{align}\nmore $x$"
    assert md(doc) == "Text\n\\begin{align}⟦\na &= b \\\\\nc &= d\n⟧\\end{align}\nmore $⟦x⟧$"
    r = find_regions(doc, "markdown")[0]
    assert (r.kind, r.env, r.display, r.closed) == ("env", "align", True, True)
    assert doc[r.outer_start : r.outer_end].startswith("\\begin{align}")
    assert doc[r.outer_start : r.outer_end].endswith("\\end{align}")
    for env in ["equation", "equation*", "align*", "gather", "gather*", "multline*"]:
        assert md(f"  \\begin{{{env}}} x \\end{{{env}}}\n") == f"  \\begin{{{env}}}⟦ x ⟧\\end{{{env}}}\n"
    assert md("\\begin{alignat}{2} a&=b \\end{alignat}") == "\\begin{alignat}{2}⟦ a&=b ⟧\\end{alignat}"


def test_markdown_bare_environments_elsewhere_are_text():
    assert md("inline \\begin{align} x \\end{align}") == "inline \\begin{align} x \\end{align}"
    assert md("`\\begin{align} x \\end{align}`") == "`\\begin{align} x \\end{align}`"
    assert md("```\n\\begin{align} x \\end{align}\n```") == "```\n\\begin{align} x \\end{align}\n```"
    assert md("para\n\n    \\begin{align} x \\end{align}\n") == "para\n\n    \\begin{align} x \\end{align}\n"
    assert md("\\\\begin{align} x \\end{align}") == "\\\\begin{align} x \\end{align}"  # escaped
    assert md("\\begin{itemize} x \\end{itemize}") == "\\begin{itemize} x \\end{itemize}"
    # no \end: literal text, not a region swallowing the rest
    assert md("\\begin{align} x\n\nthen $y$") == "\\begin{align} x\n\nthen $⟦y⟧$"
    # inside $$ it is the content of the $$ region
    assert md("$$\\begin{align} x \\end{align}$$") == "$$⟦\\begin{align} x \\end{align}⟧$$"


def test_markdown_unclosed_bare_environments_stay_linear():
    doc = "\\begin{align} x\n" * 40000
    t = time.perf_counter()
    assert find_regions(doc, "markdown") == []
    assert time.perf_counter() - t < 2.0


def test_markdown_dollar_space_macro_definitions():
    """`$ \\def\\p{\\partial} $`: pandoc's "no space after $" rule is relaxed for definitions."""
    assert md("$ \\def\\p{\\partial} $ and $\\p x$") == "$⟦ \\def\\p{\\partial} ⟧$ and $⟦\\p x⟧$"
    assert md("$ \\newcommand{\\R}{\\mathbb{R}}$ ok") == "$⟦ \\newcommand{\\R}{\\mathbb{R}}⟧$ ok"
    assert md("$\n\\renewcommand{\\x}{y}\n$") == "$⟦\n\\renewcommand{\\x}{y}\n⟧$"
    assert md("$ \\DeclareMathOperator{\\tr}{tr} $") == "$⟦ \\DeclareMathOperator{\\tr}{tr} ⟧$"
    # everything else keeps pandoc's rules
    assert md("costs $ 5 and $ 6") == "costs $ 5 and $ 6"
    assert md("$ x$") == "$ x$"
    assert md("$ \\define x $") == "$ \\define x $"
