"""LineIndex: offsets (code points) <-> LSP positions (UTF-16 columns)."""

from mcls.document.text import LineIndex, line_starts


def utf16_position(text: str, offset: int) -> tuple[int, int]:
    """Slow reference: count breaks and encode the line prefix as UTF-16."""
    head = text[:offset].replace("\r\n", "\n").replace("\r", "\n")
    line = head.count("\n")
    prefix = head[head.rfind("\n") + 1 :]
    return line, len(prefix.encode("utf-16-le", "surrogatepass")) // 2


def marks(doc: str) -> tuple[str, list[int]]:
    """Strip '|' markers from doc; return the text and the marker offsets."""
    offsets, out = [], []
    for ch in doc:
        if ch == "|":
            offsets.append(len(out))
        else:
            out.append(ch)
    return "".join(out), offsets


def test_empty_text():
    li = LineIndex("")
    assert li.line_count == 1
    assert li.offset_to_position(0) == (0, 0)
    assert li.position_to_offset(0, 0) == 0
    assert li.position_to_offset(3, 7) == 0
    assert li.line_text(0) == "" and li.line_break(0) == ""


def test_lf_lines_and_markers():
    text, (a, b, c) = marks("ab|c\n|\nx|yz")
    li = LineIndex(text)
    assert li.line_count == 3
    assert li.offset_to_position(a) == (0, 2)
    assert li.offset_to_position(b) == (1, 0)
    assert li.offset_to_position(c) == (2, 1)
    assert [li.position_to_offset(*p) for p in [(0, 2), (1, 0), (2, 1)]] == [a, b, c]
    assert [li.line_text(i) for i in range(3)] == ["abc", "", "xyz"]
    assert [li.line_break(i) for i in range(3)] == ["\n", "\n", ""]


def test_trailing_newline_makes_an_empty_last_line():
    li = LineIndex("a\n")
    assert li.line_count == 2
    assert li.offset_to_position(2) == (1, 0)
    assert li.line_text(1) == ""


def test_crlf_is_one_break():
    text = "ab\r\ncd\r\n"
    li = LineIndex(text)
    assert li.line_count == 3
    assert li.line_text(0) == "ab" and li.line_break(0) == "\r\n"
    assert li.offset_to_position(4) == (1, 0)
    # Offsets of "\r" and of "\n" are both the end of line 0: never between them.
    assert li.offset_to_position(2) == (0, 2)
    assert li.offset_to_position(3) == (0, 2)
    assert li.position_to_offset(0, 99) == 2  # clamped before "\r"
    assert li.position_to_offset(1, 1) == 5


def test_lone_cr_and_mixed_breaks():
    li = LineIndex("a\rb\r\nc\nd")
    assert li.line_count == 4
    assert [li.line_text(i) for i in range(4)] == ["a", "b", "c", "d"]
    assert [li.line_break(i) for i in range(4)] == ["\r", "\r\n", "\n", ""]
    assert li.offset_to_position(2) == (1, 0)
    assert li.position_to_offset(3, 0) == 7
    assert LineIndex("\r\r").line_count == 3
    assert LineIndex("\n\r").line_count == 3  # "\n\r" is two breaks


def test_only_lsp_line_breaks_count():
    # str.splitlines would split on these; LSP does not.
    li = LineIndex("a\x0bb\x0cc\x1cd\x85e\u2028f")
    assert li.line_count == 1
    assert li.offset_to_position(11) == (0, 11)


def test_emoji_counts_two_utf16_units():
    text, (x,) = marks("a😀b😀|$x$\nnext")
    li = LineIndex(text)
    assert li.offset_to_position(1) == (0, 1)
    assert li.offset_to_position(2) == (0, 3)
    assert li.offset_to_position(x) == (0, 6)
    assert li.position_to_offset(0, 6) == x
    assert li.position_to_offset(0, 3) == 2
    # A character between the two surrogates maps to the start of the code point.
    assert li.position_to_offset(0, 2) == 1
    assert li.position_to_offset(0, 5) == 3
    # Other lines are unaffected.
    assert li.offset_to_position(len(text)) == (1, 4)
    assert li.position_to_offset(1, 2) == text.index("next") + 2


def test_bmp_math_symbols_before_math_count_one():
    text, (d,) = marks("∂f/∂X ⊙ Y = |$x$")
    li = LineIndex(text)
    assert li.offset_to_position(d) == (0, d)
    assert li.position_to_offset(0, d) == d


def test_clamping():
    li = LineIndex("ab\ncd")
    assert li.offset_to_position(-5) == (0, 0)
    assert li.offset_to_position(99) == (1, 2)
    assert li.position_to_offset(-1, 0) == 0
    assert li.position_to_offset(0, -3) == 0
    assert li.position_to_offset(0, 99) == 2  # end of line, before the break
    assert li.position_to_offset(7, 0) == 5  # line past the end -> len(text)
    assert li.line_text(9) == "" and li.line_break(-1) == ""


def test_line_start_and_end():
    li = LineIndex("ab\r\ncd")
    assert (li.line_start(1), li.line_end(0), li.line_end(1)) == (4, 2, 6)
    assert line_starts("ab\r\ncd\re\nf") == [0, 4, 7, 9]


def test_matches_reference_on_every_offset():
    text = "x😀∂\r\n\r⊙$a$🎉🎉\n\n\U0001d400b\r\r\nend😀"
    li = LineIndex(text)
    for off in range(len(text) + 1):
        pos = li.offset_to_position(off)
        if text[off - 1 : off + 1] == "\r\n":  # inside a CRLF: the line end
            assert pos == li.offset_to_position(off - 1)
            continue
        assert pos == utf16_position(text, off), off
        assert li.position_to_offset(*pos) == off


def test_large_document():
    line = "Let $\\nabla f = 2A^\\top(Ax-b)$ where ∂ and 😀 appear.\n"
    text = line * (5_000_000 // len(line))
    li = LineIndex(text)
    n = text.count("\n")
    assert li.line_count == n + 1
    last = len(text) - len(line)
    emoji = line.index("😀")
    assert li.offset_to_position(last + emoji) == (n - 1, emoji)
    assert li.offset_to_position(last + emoji + 2) == (n - 1, emoji + 3)
    assert li.position_to_offset(n - 1, emoji + 3) == last + emoji + 2
