"""Math text -> IR (``mcls.ir``), with document spans on every node.

The grammar (``grammar/matrix.lark``) is syntactic only; what a name *means*
(``E_{ij}`` a basis matrix or an entry of a declared ``E``) is decided later by
the scope stage, which knows the declarations. Parsing never raises: a line
that cannot be read becomes a ``ParseIssue`` with the offending range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ir
from .document.text import matching_brace
from .ir import Expr

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "varrho", "sigma", "varsigma",
    "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
    "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega", "ell", "hbar", "imath", "jmath",
}
TRANSPOSE_MARKS = {"T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "\\textsf{T}", "\\mathsf T",
                   "\\ast", "*", "H", "\\mathsf{H}", "\\mathrm{H}", "\\mathsf{t}", "t", "\\tau", "\\prime", "'"}
FUNC_NAMES = {
    "tr": "tr", "Tr": "tr", "trace": "tr", "Trace": "tr", "det": "det", "log": "log", "ln": "log",
    "exp": "exp", "tanh": "tanh", "sin": "sin", "cos": "cos", "diag": "diag", "Diag": "Diag",
    "vec": "vec", "sigma": "sigma", "sigmoid": "sigma", "relu": "relu", "ReLU": "relu",
    "logdet": "logdet", "sqrt": "sqrt", "softplus": "softplus",
}
# `\stackrel{over}{base}`, `\overset{over}{base}`: a definition (`\stackrel{\text{def}}{=}`,
# `\overset{\Delta}{=}`), a labelled step of a derivation (`\overset{(a)}{=}`: the base
# relation), or a question (`\stackrel{?}{=}`: kept as written, so it is never a claim).
_DECORATED_REL = re.compile(r"\\(?:stackrel|overset)\{(.*)\}\{(.*)\}")
_DEF_MARK = re.compile(r"def|\\triangle|\\Delta|\\bigtriangleup|^:$|^\\mathrm\{?d\}?$|^\\text\{?d\}?$", re.I)


def _decorated_rel(over: str, base: str, key: str) -> str:
    if _DEF_MARK.search(over):
        return ":="
    if "?" in over:
        return key
    return REL_NAMES.get(base, key)


REL_NAMES = {
    "=": "=", ":=": ":=", "\\coloneqq": ":=", "\\coloneq": ":=", "\\triangleq": ":=", "\\equiv": ":=",
    "\\eqqcolon": "=:", "\\doteq": ":=", "\\in": "\\in", "\\approx": "\\approx", "\\ne": "\\ne",
    "\\neq": "\\ne", "\\le": "\\le", "\\leq": "\\le", "\\ge": "\\ge", "\\geq": "\\ge",
    "\\leqslant": "\\le", "\\geqslant": "\\ge", "\\succ": "\\succ", "\\succeq": "\\succeq",
    "\\prec": "\\prec", "\\preceq": "\\preceq", "\\sim": "\\sim", "\\propto": "\\propto",
    "\\simeq": "\\approx", "\\cong": "\\approx", "<": "<", ">": ">",
}


MAX_REGION = 20_000  # characters; real formulas are far shorter


@dataclass(frozen=True)
class ParseIssue:
    span: tuple[int, int]
    message: str


@dataclass(frozen=True)
class ParsedMath:
    math: ir.Math
    issues: tuple[ParseIssue, ...]
    unknown: tuple[tuple[str, tuple[int, int]], ...]  # unknown commands and where


# ------------------------------------------------------------------ helpers: heads consumed by products


@dataclass(frozen=True)
class _FuncHead:
    name: str
    style: str
    span: tuple[int, int]
    primes: int = 0


@dataclass(frozen=True)
class _DiffHead:
    span: tuple[int, int]


@dataclass(frozen=True)
class _DerivOp:
    """``\\frac{\\partial}{\\partial X}`` waiting for its operand."""

    wrt: Expr
    span: tuple[int, int]


@dataclass(frozen=True)
class _BigOpHead:
    """``\\sum_{i=1}^n`` (or ``\\max_x``, ``\\lim_{t\\to 0}``, ``\\arg\\min_x``) waiting for its body:
    by convention the body is the rest of the product (``\\sum_i x_i x_i^\\top``)."""

    text: str  # as written, limits included (rendering)
    var: str | None  # the subscript when it is a single name (argmin/argmax: shape of the result)
    span: tuple[int, int]


@dataclass(frozen=True)
class _NablaOp:
    """``\\nabla_X``, ``\\nabla^2_x``, bare ``\\nabla``: applies to the rest of the product."""

    wrt: Expr | None
    order: int
    span: tuple[int, int]


@dataclass(frozen=True)
class _Cont:
    """Marker: this chain continues the previous statement (``&= …`` in align)."""


# ------------------------------------------------------------------ grammar loading


def _grammar_text() -> str:
    try:
        return resources.files("mcls.grammar").joinpath("matrix.lark").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # running from a source tree without install
        return (Path(__file__).resolve().parents[2] / "grammar" / "matrix.lark").read_text(encoding="utf-8")


_OPERAND_END = {
    "LETTER", "DIGITS", "CMD", "FONTSYM", "FIELD", "RPAR", "RSQB", "RBRACE", "RBAR", "RDBAR",
    "PRIME", "FRAC_DIGITS", "RBRACE_ESC", "RANGLE", "MATRIX_ENV", "DBAR_FUNC", "TMARK",
}
_OPENERS = {"LPAR", "LSQB", "LBRACE", "LBRACE_ESC", "LANGLE"}
_CLOSERS = {"RPAR", "RSQB", "RBRACE", "RBRACE_ESC", "RANGLE"}


class _PairBars:
    """Post-lexer over one line: ``|`` and ``\\|`` are both openers and closers;
    decide which from the previous token (after an operand and with one open, it
    closes). A bar that pairs with nothing inside its group is a conditional bar
    (``p(y | X)``, ``P_{k|k-1}``): it becomes ``MID``. A ``\\cdot`` standing alone
    between delimiters (``\\mathbb{E}[\\cdot]``, ``\\|\\cdot\\|``) is a placeholder operand."""

    always_accept = ("BAR", "DBAR", "CDOT")

    def process(self, stream):
        toks = list(stream)
        n = len(toks)
        for k, tok in enumerate(toks):
            if tok.type == "CDOT":
                before = toks[k - 1].type if k else None
                after = toks[k + 1].type if k + 1 < n else None
                if before in _OPENERS | {"BAR", "DBAR", "COMMA"} and after in _CLOSERS | {"BAR", "DBAR", "COMMA"}:
                    toks[k] = Token.new_borrow_pos("DBAR_FUNC", tok.value, tok)
        stack: list[tuple[str, int]] = []
        prev: str | None = None
        for k, tok in enumerate(toks):
            t = tok.type
            if t in _OPENERS:
                stack.append(("(", k))
            elif t in _CLOSERS:
                while stack and stack[-1][0] != "(":
                    j = stack.pop()[1]
                    toks[j] = Token.new_borrow_pos("MID", toks[j].value, toks[j])
                if stack:
                    stack.pop()
            elif t in ("BAR", "DBAR"):
                if stack and stack[-1][0] == t and prev in _OPERAND_END:
                    j = stack.pop()[1]
                    toks[j] = Token.new_borrow_pos("L" + t, toks[j].value, toks[j])
                    tok = toks[k] = Token.new_borrow_pos("R" + t, tok.value, tok)
                else:
                    stack.append((t, k))
            prev = tok.type
        for kind, j in stack:
            if kind != "(":
                toks[j] = Token.new_borrow_pos("MID", toks[j].value, toks[j])
        yield from toks


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        _grammar_text(),
        parser="lalr",
        lexer="basic",
        postlex=_PairBars(),
        propagate_positions=True,
        maybe_placeholders=False,
        cache=False,
    )


# ------------------------------------------------------------------ pre-processing (length-preserving)

_WRAPPERS = re.compile(
    r"\\begin\s*\{\s*(?:aligned|alignedat|split|gathered|array|multlined)\*?\s*\}(?:\s*\{[^{}]*\})?"
    r"|\\end\s*\{\s*(?:aligned|alignedat|split|gathered|array|multlined)\*?\s*\}"
    r"|\\(?:label|tag\*?|eqref|ref|hspace\*?|vspace\*?)\s*\{[^{}]*\}"
)
_EQALIGN = re.compile(r"\\(?:eqalign|eqalignno|displaylines|boxed|substack)\s*\{")


_SIZER_BEFORE = re.compile(r"\\(?:left|bigg?|Bigg?)[lm]?\s*\Z")


def _blank(s: str, a: int, b: int) -> str:
    return s[:a] + " " * (b - a) + s[b:]


def sanitize(text: str) -> str:
    """Blank out layout wrappers so statements inside them parse; keeps every offset."""
    text = _WRAPPERS.sub(lambda m: " " * len(m.group(0)), text)
    for m in list(_EQALIGN.finditer(text)):
        close = matching_brace(text, m.end() - 1)
        if close is not None:
            text = _blank(_blank(text, close, close + 1), m.start(), m.end())
    return text


_MATRIX_BEGIN = re.compile(r"\\begin\s*\{\s*(?:[bpvBV]?matrix|smallmatrix|array|cases)\*?\s*\}")
_MATRIX_END = re.compile(r"\\end\s*\{\s*(?:[bpvBV]?matrix|smallmatrix|array|cases)\*?\s*\}")


def split_lines(text: str) -> list[tuple[int, int]]:
    """Split at top-level ``\\\\`` (not inside braces or matrix environments)."""
    out: list[tuple[int, int]] = []
    depth = 0
    env = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "%":  # comment to end of line
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "\\":
            if text.startswith("\\begin", i):
                m = _MATRIX_BEGIN.match(text, i)
                if m:
                    env += 1
                    i = m.end()
                    continue
            if text.startswith("\\end", i):
                m = _MATRIX_END.match(text, i)
                if m:
                    env = max(0, env - 1)
                    i = m.end()
                    continue
            if i + 1 < n and text[i + 1] == "\\" and depth == 0 and env == 0:
                out.append((start, i))
                i += 2
                # optional spacing argument \\[2pt]
                m = re.match(r"\s*\[[^\]\n]*\]", text[i : i + 40])
                if m:
                    i += m.end()
                start = i
                continue
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        i += 1
    out.append((start, n))
    return out


# ------------------------------------------------------------------ transformer


def _index_text(tokens) -> str:
    parts: list[str] = []
    for t in tokens:
        if isinstance(t, Token):
            parts.append(re.sub(r"\s+", "", str(t)))
        elif isinstance(t, list):
            parts.append("{" + _index_text(t) + "}")
        elif isinstance(t, str):
            parts.append(t)
    return "".join(parts)


def canonical_font(raw: str) -> str:
    """``\\mathbf X`` -> ``\\mathbf{X}``; ``\\mathbf{ X }`` -> ``\\mathbf{X}``."""
    m = re.match(r"(\\[A-Za-z]+)\*?\s*(.*)$", raw, re.S)
    if not m:
        return raw
    cmd, rest = m.group(1), m.group(2).strip()
    if rest.startswith("{") and rest.endswith("}"):
        rest = rest[1:-1]
    rest = re.sub(r"\s+", "", rest)
    # nested font: \bm{\mathbf{x}} keeps both
    return f"{cmd}{{{rest}}}"


@v_args(meta=True)
class _ToIR(Transformer):
    def __init__(self, text: str, base: int, origin: tuple[list[int], list[int]] | None):
        super().__init__(visit_tokens=False)
        self.text = text
        self.base = base
        self.origin = origin
        self.unknown: list[tuple[str, tuple[int, int]]] = []

    # -- spans
    def _sp(self, a: int, b: int) -> tuple[int, int]:
        if self.origin is None:
            return (self.base + a, self.base + b)
        starts, ends = self.origin
        if not starts:
            return (self.base, self.base)
        a = min(max(a, 0), len(starts) - 1)
        b = min(max(b - 1, a), len(starts) - 1)
        return (min(starts[a], ends[b] - 1), max(ends[b], starts[a] + 1))

    def _tsp(self, tok: Token) -> tuple[int, int]:
        return self._sp(tok.start_pos, tok.end_pos)

    def _msp(self, meta) -> tuple[int, int] | None:
        if getattr(meta, "empty", True):
            return None
        return self._sp(meta.start_pos, meta.end_pos)

    def _join(self, a, b) -> tuple[int, int] | None:
        sa = _span_of(a)
        sb = _span_of(b)
        if sa and sb:
            return (min(sa[0], sb[0]), max(sa[1], sb[1]))
        return sa or sb

    # -- statements
    def start(self, meta, children):
        return children[0]

    def line(self, meta, children):
        stmts = [c for c in children if isinstance(c, ir.Chain)]
        return stmts

    def stmt(self, meta, children):
        return children[0]

    def chain(self, meta, children):
        parts = [self._finish(children[0])]
        ops: list[str] = []
        for i in range(1, len(children), 2):
            ops.append(children[i])
            parts.append(self._finish(children[i + 1]))
        return ir.Chain(tuple(parts), tuple(ops), span=self._msp(meta))

    def cont_chain(self, meta, children):
        parts: list = [ir.Opaque("&", span=None)]
        ops: list[str] = []
        for i in range(0, len(children), 2):
            ops.append(children[i])
            parts.append(self._finish(children[i + 1]))
        ch = ir.Chain(tuple(parts), tuple(ops), span=self._msp(meta))
        object.__setattr__(ch, "_cont", True)
        return ch

    def rel(self, meta, children):
        tok = str(children[0])
        key = re.sub(r"\s+", "", tok)
        if m := _DECORATED_REL.fullmatch(key):
            return _decorated_rel(m.group(1), m.group(2), key)
        return REL_NAMES.get(key, key)

    def eq(self, meta, children):
        return "="

    def defeq(self, meta, children):
        return ":="

    def lt(self, meta, children):
        return "<"

    def gt(self, meta, children):
        return ">"

    # -- finishing: heads that were never applied become opaque
    def _finish(self, x):
        if isinstance(x, _Grouped):
            return self._finish(x.x)
        if isinstance(x, _Prod):
            return self._build_product(x.factors, x.span, x.joined)
        if isinstance(x, _FuncHead):
            return ir.Opaque(x.style, span=x.span)
        if isinstance(x, _DiffHead):
            return ir.Opaque("d", span=x.span)
        if isinstance(x, _DerivOp):
            return ir.Derivative(ir.Opaque("·"), x.wrt, span=x.span)
        if isinstance(x, _BigOpHead):
            return ir.Opaque(x.text, span=x.span)
        if isinstance(x, _NablaOp):
            return ir.Opaque("\\nabla", span=x.span)
        return x

    # -- sums
    def add(self, meta, children):
        a, b = children[0], children[-1]
        a, b = self._finish(a), self._finish(b)
        terms = (a.terms if isinstance(a, ir.Add) and not _paren(a) else (a,)) + (b,)
        return ir.Add(terms, span=self._msp(meta))

    def sub(self, meta, children):
        a, b = self._finish(children[0]), self._finish(children[1])
        nb = ir.Neg(b, span=b.span)
        terms = (a.terms if isinstance(a, ir.Add) and not _paren(a) else (a,)) + (nb,)
        return ir.Add(terms, span=self._msp(meta))

    def neg(self, meta, children):
        return ir.Neg(self._finish(children[0]), span=self._msp(meta))

    def frob(self, meta, children):
        return ir.Frob(self._finish(children[0]), self._finish(children[1]), span=self._msp(meta))

    def kron(self, meta, children):
        return ir.Kron(self._finish(children[0]), self._finish(children[2]), span=self._msp(meta))

    def hadamard(self, meta, children):
        return ir.Hadamard(self._finish(children[0]), self._finish(children[2]), span=self._msp(meta))

    def hadamard_div(self, meta, children):
        return ir.HadamardDiv(self._finish(children[0]), self._finish(children[2]), span=self._msp(meta))

    # -- products: collected flat while parsing, built (heads applied) when finished,
    # so `\\frac{\\partial}{\\partial X} b^\\top X c` takes the whole product.
    def _build_product(self, factors: list, span, joined: dict | None = None):
        joined = joined or {}

        def fin(a):
            e = self._finish(a)
            op = joined.get(id(a))
            if op is not None and isinstance(e, Expr):
                object.__setattr__(e, "_joined", op)  # `a \cdot b`, `a \times b`, `a * b`
            return e

        acc: list = []
        for f in reversed(factors):
            if isinstance(f, _FuncHead) and acc:
                arg = acc.pop(0)
                acc.insert(0, self._apply_func(f, arg))
            elif isinstance(f, _DiffHead) and acc:
                arg = acc.pop(0)
                acc.insert(0, ir.Differential(self._finish(arg), span=self._join(f, arg)))
            elif isinstance(f, (_DerivOp, _BigOpHead, _NablaOp)) and acc:
                body = acc[0] if len(acc) == 1 else ir.Mul(tuple(fin(a) for a in acc), span=self._join(acc[0], acc[-1]))
                body = self._finish(body)
                acc = [self._apply_operator(f, body)]
            else:
                acc.insert(0, f)
        acc = [fin(a) for a in acc]
        if len(acc) == 1:
            return acc[0]
        return ir.Mul(tuple(acc), span=span)

    def _apply_operator(self, f, body: Expr) -> Expr:
        span = self._join(f, body)
        if isinstance(f, _DerivOp):
            return ir.Derivative(body, f.wrt, span=span)
        if isinstance(f, _BigOpHead):
            args = (body,) if f.var is None else (body, ir.Sym(f.var))
            return ir.Opaque(f.text, args, span=span)
        # nabla: first order with a variable is a Derivative; otherwise opaque (shapes reads it)
        if f.order == 1 and f.wrt is not None:
            d = ir.Derivative(body, f.wrt, span=span)
            object.__setattr__(d, "_nabla", True)  # a gradient: the body is a scalar
            return d
        text = "\\nabla" if f.order == 1 else "\\nabla^2"
        return ir.Opaque(text, (body,) if f.wrt is None else (body, f.wrt), span=span)

    def mul(self, meta, children):
        left, right = children[0], children[-1]
        factors = left.factors if isinstance(left, _Prod) else [left]
        joined = dict(left.joined) if isinstance(left, _Prod) else {}
        if len(children) == 3 and isinstance(children[1], Token):
            joined[id(right)] = re.sub(r"\s+", "", str(children[1]))
        return _Prod(factors + [right], self._msp(meta), joined)

    def times(self, meta, children):
        return self.mul(meta, children)

    def star(self, meta, children):
        return self.mul(meta, children)

    def div(self, meta, children):
        d = ir.Div(self._finish(children[0]), self._finish(children[1]), span=self._msp(meta))
        object.__setattr__(d, "_slash", True)  # `M/A` is also the Schur complement
        return d

    # -- postfix
    def sup(self, meta, children):
        base, s = children[0], children[1]
        span = self._msp(meta)
        base = self._finish(base) if not isinstance(base, _FuncHead) else base
        if isinstance(base, _FuncHead):
            # \sigma^{-1} etc.: keep as a power of an unapplied function -> opaque
            return ir.Opaque(base.style, span=span)
        if isinstance(base, ir.Opaque) and base.text.startswith("field:"):
            return self._space(base, s, span)
        if getattr(base, "_transparent", False):  # \overbrace{…}^{note}
            return base
        mark = _sup_mark(s)
        if mark == "T":
            return ir.Transpose(base, span=span)
        if mark == "-1":
            return ir.Inverse(base, span=span)
        if mark == "-T":
            return ir.Inverse(ir.Transpose(base, span=span), span=span)
        if mark == "+":
            return ir.Opaque("pinv", (base,), span=span)
        if mark in ("name", "nameT") and isinstance(base, ir.Sym):
            src = _sup_src(s)
            if mark == "nameT":  # x^{(i)\top}: the name x^{(i)}, transposed
                label = re.match(r"\([^()]*\)|\[[^\[\]]*\]", src).group(0)
                return ir.Transpose(ir.Sym(base.name + "^{" + label + "}", span=span), span=span)
            return ir.Sym(base.name + "^{" + src + "}", span=span)
        p = ir.Power(base, _sup_expr(s), span=span)
        if mark == "iter":
            object.__setattr__(p, "_iter", True)
        return p

    def _space(self, field: ir.Opaque, s, span):
        raw = _src(s)
        parts = _split_top(raw, r"\\times|\\cdot|×|\*|,")
        rows = parts[0].strip() if parts else None
        cols = parts[1].strip() if len(parts) > 1 else None
        if len(parts) > 2:
            return ir.Opaque("space", span=span)
        return ir.Space(_canon_size(rows), _canon_size(cols) if cols else None, field.text[6:], span=span)

    def supscript(self, meta, children):
        c = children[0]
        if isinstance(c, Token):
            if c.type == "FUNC":
                return _Raw(str(c), None)
            return _Raw(str(c), None)
        return c  # group -> expression (with _src recorded)

    def single(self, meta, children):
        tok = children[0]
        return _Raw(str(tok), self._leaf(tok))

    def single_sub(self, meta, children):
        return [children[0]]

    def group(self, meta, children):
        x = self._finish(children[0])
        # Remember the source for size/name uses.
        src = self.text[meta.start_pos + 1 : meta.end_pos - 1] if not meta.empty else ""
        return _Grouped(x, src, self._msp(meta))

    def subscript(self, meta, children):
        # The source text, not the tokens: Lark drops anonymous `,` and `+` (`X_{i+1,j}`).
        if not getattr(meta, "empty", True):
            raw = self.text[meta.start_pos : meta.end_pos]
            if raw.startswith("{") and raw.endswith("}"):
                raw = raw[1:-1]
            return re.sub(r"\s+", "", raw)
        if len(children) == 1 and isinstance(children[0], list):
            return _index_text(children[0])
        return _index_text(children)

    def subgroup(self, meta, children):
        return children

    def subscr(self, meta, children):
        base, idx = children[0], children[1]
        span = self._msp(meta)
        base = _ungroup(self._finish(base))
        if isinstance(base, ir.Ones):
            return ir.Ones(idx, span=span)
        if isinstance(base, ir.Norm):
            k = idx.strip("{}")
            return ir.Norm(base.x, k, span=span)
        if isinstance(base, ir.Power) and isinstance(base.base, ir.Norm):  # \|A\|^2_F
            return ir.Power(ir.Norm(base.base.x, idx.strip("{}"), span=base.base.span), base.exp, span=span)
        if isinstance(base, ir.Opaque) and base.text.startswith("field:"):
            return base
        if isinstance(base, ir.Space) or getattr(base, "_transparent", False):
            return base  # \mathbb{R}^n_{+}; \underbrace{…}_{note}
        if isinstance(base, ir.Frob):  # \langle A, B\rangle_F
            return base.at(span)
        if isinstance(base, ir.Transpose) and isinstance(base.x, ir.Sym):  # x^\top_i = (x_i)^\top
            return ir.Transpose(ir.Indexed(base.x, idx, span=span), span=span)
        if isinstance(base, ir.Sym) and base.name == "\\mathcal{M}":
            parts = [p for p in re.split(r",", idx) if p]
            if len(parts) == 2:
                return ir.Space(_canon_size(parts[0]), _canon_size(parts[1]), "R", span=span)
        return ir.Indexed(base, idx, span=span)

    def prime(self, meta, children):
        base = children[0]
        span = self._msp(meta)
        if isinstance(base, _FuncHead):
            return _FuncHead(base.name, base.style, span, base.primes + 1)
        t = ir.Transpose(self._finish(base), span=span)
        object.__setattr__(t, "_prime", True)  # f'(x) may be a derivative, not a transpose
        return t

    # -- atoms
    def _leaf(self, tok: Token) -> Expr:
        t = tok.type
        span = self._tsp(tok)
        s = str(tok)
        if t == "LETTER":
            return ir.Sym(s, span=span)
        if t == "DIGITS":
            return ir.Num(Fraction(s), span=span)
        if t in ("FONTSYM", "TMARK"):
            return self._fontsym(s, span)
        if t == "CMD":
            return self._command(s, span)
        return ir.Opaque(s, span=span)

    def letter(self, meta, children):
        return self._leaf(children[0])

    def number(self, meta, children):
        return self._leaf(children[0])

    def frac_digits(self, meta, children):
        tok = children[0]
        digits = re.findall(r"[0-9]", str(tok))
        return ir.Num(Fraction(int(digits[-2]), int(digits[-1])), span=self._tsp(tok))

    def fontsym(self, meta, children):
        return self._leaf(children[0])

    def _fontsym(self, s: str, span) -> Expr:
        name = canonical_font(s)
        inner = name[name.index("{") + 1 : -1]
        if inner == "1":
            return ir.Ones(None, span=span)
        if inner == "0":
            return ir.Zero(span=span)
        if re.fullmatch(r"[0-9]+", inner):
            return ir.Num(Fraction(inner), span=span)
        return ir.Sym(name, span=span)

    def command(self, meta, children):
        return self._leaf(children[0])

    def _command(self, s: str, span) -> Expr:
        name = s[1:]
        if name in GREEK:
            return ir.Sym(s, span=span)
        if name in ("top", "intercal", "prime", "dagger", "ast", "star"):
            return ir.Sym(s, span=span)
        if name in ("one", "ones"):
            return ir.Ones(None, span=span)
        if all(u[0] != s for u in self.unknown):  # one report per command per line
            self.unknown.append((s, span))
        return ir.Opaque(s, span=span)

    def field(self, meta, children):
        s = str(children[0])
        letter = re.findall(r"[RCS]", s.replace("\\reals", "R").replace("\\Re", "R"))
        return ir.Opaque("field:" + (letter[-1] if letter else "R"), span=self._tsp(children[0]))

    def matrix_env(self, meta, children):
        tok = children[0]
        node = ir.Opaque("matrix", span=self._tsp(tok))
        try:
            grid, env = self._matrix_cells(str(tok), tok.start_pos)
        except (LarkError, RecursionError, ValueError, IndexError, AttributeError, TypeError):
            return node
        if env == "cases":
            return ir.Opaque("cases", span=node.span)
        object.__setattr__(node, "_cells", grid)  # rows of cell expressions (None: empty/unreadable)
        object.__setattr__(node, "_env", env)
        return node

    def _matrix_cells(self, s: str, at: int):
        m = re.match(r"\\begin\s*\{\s*([A-Za-z]+)\*?\s*\}(?:\s*\[[^\]]*\])?(?:\s*\{[^{}]*\})?", s)
        env = m.group(1)
        if env != "array" and env != "cases":  # only array has a column spec
            m = re.match(r"\\begin\s*\{\s*[A-Za-z]+\*?\s*\}(?:\s*\[[^\]]*\])?", s)
        body_end = s.rindex("\\end")
        grid: list[tuple] = []
        for a, b in split_lines(s[m.end() : body_end]):
            a += m.end()
            b += m.end()
            row_text = s[a:b]
            if not row_text.strip() or re.fullmatch(r"\s*(?:\\(?:hline|hdashline|midrule|toprule|bottomrule)\s*)*", row_text):
                continue
            cells = []
            for ca, cb in _split_cells(row_text):
                cells.append(self._parse_fragment(row_text[ca:cb], at + a + ca))
            grid.append(tuple(cells))
        return tuple(grid), env

    def _parse_fragment(self, text: str, a: int) -> Expr | None:
        text = re.sub(r"\\(?:hline|hdashline)(?![A-Za-z])", lambda m: " " * len(m.group(0)), text)
        if not text.strip():
            return None
        sub = None if self.origin is None else (self.origin[0][a:], self.origin[1][a:])
        tr = _ToIR(text, self.base + a if self.origin is None else 0, sub)
        try:
            chains = tr.transform(_parser().parse(text))
        except (LarkError, RecursionError, ValueError, ZeroDivisionError, IndexError, AttributeError, TypeError):
            return None
        self.unknown.extend(tr.unknown)
        if len(chains) != 1 or chains[0].ops:
            return None
        return chains[0].parts[0]

    def _opener(self, meta) -> str:
        if getattr(meta, "empty", True):
            return "("
        c = self.text[meta.start_pos : meta.start_pos + 2]
        return "\\{" if c == "\\{" else c[:1]

    def _delim_span(self, meta):
        """The span of a delimited group, its sizing command included (`\\big(…\\big)`)."""
        if getattr(meta, "empty", True):
            return None
        m = _SIZER_BEFORE.search(self.text, 0, meta.start_pos)
        return self._sp(m.start() if m else meta.start_pos, meta.end_pos)

    def paren(self, meta, children):
        inner = [c for c in children if not isinstance(c, Token)]
        x = self._finish(_ungroup(inner[0]))
        y = x.at(self._delim_span(meta))
        object.__setattr__(y, "_paren", self._opener(meta))  # "(", "[" or "\\{" (truthy)
        return y

    def tuple(self, meta, children):
        items: list[Expr] = []
        for c in children:
            if isinstance(c, list):  # tuple_rest
                items.extend(self._finish(_ungroup(i)) for i in c)
            elif not isinstance(c, Token):
                items.append(self._finish(_ungroup(c)))
        y = ir.Tuple(tuple(items), span=self._delim_span(meta))
        object.__setattr__(y, "_paren", self._opener(meta))
        return y

    def tuple_rest(self, meta, children):
        return [c for c in children if not isinstance(c, Token)]

    def paren_rel(self, meta, children):
        # `p(y = 1 \mid x)`: a relation used as an argument; its sides are read, not compared.
        parts = [self._finish(_ungroup(c)) for c in children if not isinstance(c, (Token, str))]
        y = ir.Opaque("relation", tuple(parts), span=self._msp(meta))
        object.__setattr__(y, "_paren", True)
        return y

    def cond(self, meta, children):
        a, b = self._finish(_ungroup(children[0])), self._finish(_ungroup(children[2]))
        return ir.Opaque("\\mid", (a, b), span=self._msp(meta))

    def sign(self, meta, children):
        return _Raw(str(children[0]), None)

    def star_group(self, meta, children):
        return _Raw("*", None)

    def letter_apply(self, meta, children):
        # `\log p(y)`: the function argument is `p(y)` (scope decides product or application).
        head = self._leaf(children[0])
        arg = self._finish(_ungroup(children[1]))
        return ir.Mul((head, arg), span=self._msp(meta))

    def pdv2(self, meta, children):
        groups = [c for c in children if isinstance(c, _Grouped)]
        f, wrt = self._finish(groups[-2].x), self._finish(groups[-1].x)
        order = [c for c in children if not isinstance(c, (Token, _Grouped))]
        if order:  # \pdv[2]{f}{x}
            return ir.Opaque("hessian", (f, wrt, wrt), span=self._msp(meta))
        return ir.Derivative(f, wrt, span=self._msp(meta))

    def pdv1(self, meta, children):
        groups = [c for c in children if isinstance(c, _Grouped)]
        return _DerivOp(self._finish(groups[-1].x), self._msp(meta))

    def norm_cmd(self, meta, children):
        return ir.Norm(self._finish(_ungroup(children[1])), None, span=self._msp(meta))

    def abs_cmd(self, meta, children):
        return ir.Func("abs", self._finish(_ungroup(children[1])), style="|", span=self._msp(meta))

    def inner_cmd(self, meta, children):
        return ir.Frob(self._finish(_ungroup(children[1])), self._finish(_ungroup(children[2])), span=self._msp(meta))

    def abs(self, meta, children):
        return ir.Func("abs", self._finish(_ungroup(children[1])), style="|", span=self._msp(meta))

    def abs_arg(self, meta, children):
        return ir.Func("abs", self._finish(_ungroup(children[1])), style="|", span=self._msp(meta))

    def norm(self, meta, children):
        return ir.Norm(self._finish(_ungroup(children[1])), None, span=self._msp(meta))

    def inner(self, meta, children):
        return ir.Frob(self._finish(_ungroup(children[1])), self._finish(_ungroup(children[2])), span=self._msp(meta))

    def frac(self, meta, children):
        num, den = self._finish(_ungroup(children[1])), self._finish(_ungroup(children[2]))
        span = self._msp(meta)
        num_raw = _ungroup(children[1])
        bare = isinstance(num_raw, _DiffHead) or (isinstance(num, ir.Opaque) and num.text == "d")
        # `\partial f(X)`, `\partial a^\top Y^{-1} b`: the differential takes the whole numerator
        if isinstance(num, ir.Mul) and num.factors and isinstance(num.factors[0], ir.Differential):
            num = ir.Differential(ir.Mul((num.factors[0].of,) + num.factors[1:], span=num.span), span=num.span)
        if isinstance(den, ir.Differential):
            if bare:
                return _DerivOp(den.of, span)
            if isinstance(num, ir.Differential):
                return ir.Derivative(num.of, den.of, span=span)
        if isinstance(den, ir.Mul) and len(den.factors) == 2 and all(isinstance(f, ir.Differential) for f in den.factors):
            # second derivative \frac{\partial^2 f}{\partial x \partial x^\top}
            f = num.of if isinstance(num, ir.Differential) else ir.Opaque("·")
            return ir.Opaque("hessian", (f, den.factors[0].of, den.factors[1].of), span=span)
        return ir.Div(num, den, span=span)

    def sqrt(self, meta, children):
        return ir.Func("sqrt", self._finish(_ungroup(children[-1])), style="\\sqrt", span=self._msp(meta))

    def _apply_func(self, head: _FuncHead, arg) -> Expr:
        arg = self._finish(_ungroup(arg))
        span = self._join(head, arg)
        name = head.name
        if head.primes:
            return ir.Func(name + "'" * head.primes, arg, style=head.style, span=span)
        if name == "log" and isinstance(arg, ir.Func) and arg.name == "det":
            return ir.Func("logdet", arg.arg, style=head.style + " " + (arg.style or "\\det"), span=span)
        if name in FUNC_NAMES.values() or name in FUNC_NAMES:
            return ir.Func(FUNC_NAMES.get(name, name), arg, style=head.style, span=span)
        return ir.Opaque(head.style, (arg,), span=span)

    def _head(self, tok: Token) -> _FuncHead:
        s = str(tok)
        m = re.search(r"\{\s*([A-Za-z]+)\s*\}", s)
        name = m.group(1) if m else re.sub(r"\s+", "", s)[1:]
        return _FuncHead(name, re.sub(r"\s+", "", s), self._tsp(tok))

    def func(self, meta, children):
        return self._apply_func(self._head(children[0]), children[1])

    def func_pow(self, meta, children):
        inner = self._apply_func(self._head(children[0]), children[2])
        s = children[1]
        mark = _sup_mark(s)
        if mark == "-1":
            return ir.Opaque(self._head(children[0]).style + "^{-1}", (inner,), span=self._msp(meta))
        return ir.Power(inner, _sup_expr(s), span=self._msp(meta))

    def func_bare(self, meta, children):
        tok = children[0]
        if tok.type == "DBAR_FUNC":
            return ir.Opaque(str(tok), span=self._tsp(tok))
        return self._head(tok)

    def differential(self, meta, children):
        return ir.Differential(self._finish(_ungroup(children[1])), span=self._msp(meta))

    def differential_pow(self, meta, children):  # \partial^2 f
        return ir.Differential(self._finish(_ungroup(children[-1])), span=self._msp(meta))

    def diff_bare(self, meta, children):
        return _DiffHead(self._tsp(children[0]))

    def nabla_sub(self, meta, children):
        c = children[0]
        if isinstance(c, list):
            return self._leaf(c[0])
        return _ungroup(c)

    def nabla_limits(self, meta, children):
        return children

    def nabla(self, meta, children):
        wrt: Expr | None = None
        order = 1
        for c in children[1] if len(children) > 1 else []:
            if isinstance(c, (_Raw, _Grouped)):
                src = _src(c).strip("{} ")
                order = int(src) if src.isdigit() else 2
            elif isinstance(c, Expr):
                wrt = self._finish(c)
        return _NablaOp(wrt, order, self._msp(meta))

    def bigop_limits(self, meta, children):
        return children

    def bigop(self, meta, children):
        tok = children[0]
        text = re.sub(r"\s+", "", str(tok))
        sub = None
        for c in children[1] if len(children) > 1 else []:
            if isinstance(c, str):
                sub = c
                text += "_{" + c + "}"
            else:
                text += "^{" + _src(c).strip() + "}"
        var = None
        if "arg" in str(tok):
            m = re.match(r"\\underset\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", str(tok))
            cand = m.group(1) if m else sub
            if cand:
                cand = re.split(r"\\in(?![A-Za-z])|:|,|\\,|\\;|=", re.sub(r"\s+", "", cand))[0]
                if re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+|\\[A-Za-z]+\{\\?[A-Za-z]+\}|\{\\[A-Za-z]+\{\\?[A-Za-z]+\}\}", cand):
                    var = canonical_font(cand.strip("{}")) if "{" in cand else cand
        return _BigOpHead(text, var, self._msp(meta))

    def transparent(self, meta, children):
        x = _ungroup(children[1])
        if isinstance(x, Expr):
            object.__setattr__(x, "_transparent", True)  # \underbrace{…}_{note}: the note is not an index
        return x


@dataclass
class _Prod:
    """A product still being collected (see ``_ToIR.mul``)."""

    factors: list
    span: tuple[int, int] | None
    joined: dict = field(default_factory=dict)  # id(factor) -> the operator before it (\cdot, \times, *)


@dataclass(frozen=True)
class _Raw:
    """A single-token superscript, with its leaf when it has one."""

    text: str
    leaf: Expr | None


class _Grouped:
    """A braced group: the expression and its source text."""

    __slots__ = ("x", "src", "span")

    def __init__(self, x, src, span):
        self.x, self.src, self.span = x, src, span


def _sup_expr(s) -> Expr:
    if isinstance(s, _Grouped):
        return s.x
    if isinstance(s, _Raw) and s.leaf is not None:
        return s.leaf
    if isinstance(s, Expr):
        return s
    return ir.Opaque(_src(s))


def _ungroup(x):
    return x.x if isinstance(x, _Grouped) else x


def _src(s) -> str:
    if isinstance(s, _Grouped):
        return s.src.strip()
    if isinstance(s, _Raw):
        return s.text
    return str(s)


def _paren(x) -> bool:
    return bool(getattr(x, "_paren", False))


def _span_of(x):
    return getattr(x, "span", None)


_TRANSPOSE_SRC = {re.sub(r"\s+", "", t) for t in TRANSPOSE_MARKS} - {"t", "\\tau", "*", "\\ast"}
_T_MARK = r"(?:T|H|\\top|\\intercal|\\mathsf\{[TH]\})"
# Layout that may sit inside a superscript: `^{\!\top}`, `^{\mkern-1.5mu\mathsf{T}}`.
_SUP_NOISE = re.compile(r"\\[,;:! ]|\\m?kern-?[0-9]*\.?[0-9]+(?:mu|em|ex|pt)|\\(?:scriptscriptstyle|scriptstyle|displaystyle|textstyle)(?![A-Za-z])")


def _sup_src(s) -> str:
    src = _SUP_NOISE.sub("", re.sub(r"\s+", "", _src(s)))
    while len(src) > 2 and src[0] == "{" and src[-1] == "}" and matching_brace(src, 0) == len(src) - 1:
        src = src[1:-1]
    # \text{T}, \mathrm{T}, {\sf T}, \rm T: all the transpose mark
    src = re.sub(r"\\(?:text|textrm|textsf|textup|textnormal|mathrm|mathsf|mathtt|mathit|operatorname|rm|sf|mathbf)\{([TH])\}", r"\\mathsf{\1}", src)
    src = re.sub(r"^\\(?:rm|sf)([TH])$", r"\\mathsf{\1}", src)
    return src


def _sup_mark(s) -> str:
    """Classify a superscript: ``T`` (transpose), ``-1``, ``-T``, ``+`` (pseudo-inverse),
    ``name`` (``^{(k)}``, ``^\\star``, ``^{+}``: part of a name), ``nameT`` (``^{(i)\\top}``),
    ``iter`` (``^t``: an iteration label or, in some traditions, a transpose) or ``pow``."""
    src = _sup_src(s)
    if src in _TRANSPOSE_SRC or re.fullmatch(_T_MARK, src):
        return "T"
    if src in ("-1", "{-1}"):
        return "-1"
    if src.startswith("-") and (src[1:] in _TRANSPOSE_SRC or re.fullmatch(_T_MARK, src[1:])):
        return "-T"
    if src == "\\dagger":
        return "+"
    if re.fullmatch(r"\([^()]*\)|\[[^\[\]]*\]|\\star|\\ast|\*|\+|-|\\circ|\\bullet|\\sharp|\\natural|\\flat|\\prime\\prime|"
                    r"\\(?:text|mathrm|textrm|mathsf|operatorname|rm)\{[^{}]*\}", src):
        return "name"
    if re.fullmatch(r"(?:\([^()]*\)|\[[^\[\]]*\])" + _T_MARK, src):
        return "nameT"
    if src in ("t", "{t}"):
        return "iter"
    return "pow"


def _split_cells(row: str) -> list[tuple[int, int]]:
    """Cells of one matrix row: split at top-level ``&``."""
    out: list[tuple[int, int]] = []
    depth = 0
    start = 0
    i = 0
    while i < len(row):
        c = row[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        elif c == "&" and depth == 0:
            out.append((start, i))
            start = i + 1
        i += 1
    out.append((start, len(row)))
    return out


def _split_top(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    last = 0
    i = 0
    pat = re.compile(sep)
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0:
            m = pat.match(text, i)
            if m and m.end() > i:
                parts.append(text[last:i])
                i = m.end()
                last = i
                continue
        i += 1
    parts.append(text[last:])
    return parts


def _canon_size(s: str | None) -> str | None:
    if s is None:
        return None
    s = re.sub(r"\s+", "", s)
    while len(s) >= 2 and s[0] == "{" and s[-1] == "}" and matching_brace(s, 0) == len(s) - 1:
        s = s[1:-1]
    return s or None


# ------------------------------------------------------------------ entry points


def parse_math(text: str, base: int = 0, origin: tuple[list[int], list[int]] | None = None) -> ParsedMath:
    """Parse the content of one math region.

    ``base`` is the document offset of ``text[0]``; when the text is the result
    of a macro expansion, ``origin[k]`` gives the document offset of ``text[k]``
    instead. Never raises.
    """
    if len(text) > MAX_REGION:  # hostile or generated input: answering fast matters more
        end = min(len(text), 1)
        span = (base, base + end) if origin is None else (origin[0][0], origin[1][0])
        return ParsedMath(ir.Math(()), (ParseIssue(span, f"this math region is too long for mcls to read ({len(text)} characters)"),), ())
    clean = sanitize(text)
    statements: list[ir.Chain] = []
    issues: list[ParseIssue] = []
    unknown: list[tuple[str, tuple[int, int]]] = []
    for a, b in split_lines(clean):
        line = clean[a:b]
        if not line.strip() or not line.strip(" \t\r\n&%"):
            continue
        chains, issue, unk = _parse_line(line, a, base, origin)
        unknown.extend(unk)
        if issue is not None:
            issues.append(issue)
            continue
        for ch in chains:
            if getattr(ch, "_cont", False):
                if statements:
                    prev = statements[-1]
                    merged = ir.Chain(prev.parts + ch.parts[1:], prev.ops + ch.ops, span=_cover(prev.span, ch.span))
                    statements[-1] = merged
                else:
                    statements.append(ir.Chain(ch.parts[1:], ch.ops[1:], span=ch.span))
                continue
            statements.append(ch)
    statements = _merge_declarations(statements)
    return ParsedMath(ir.Math(tuple(statements)), tuple(issues), tuple(unknown))


def _cover(a, b):
    if a and b:
        return (min(a[0], b[0]), max(a[1], b[1]))
    return a or b


def _merge_declarations(stmts: list[ir.Chain]) -> list[ir.Chain]:
    """``X, Y \\in \\mathbb{R}^{n}`` parses as ``X`` , ``Y \\in …``: join them."""
    out: list[ir.Chain] = []
    pending: list[Expr] = []
    for ch in stmts:
        if not ch.ops and len(ch.parts) == 1 and isinstance(ch.parts[0], (ir.Sym, ir.Indexed)):
            pending.append(ch.parts[0])
            continue
        if pending and not ch.ops and len(ch.parts) == 1 and _is_dots(ch.parts[0]):
            continue  # x_1, \dots, x_n \in \mathbb{R}^p
        if pending and ch.ops and ch.ops[0] == "\\in" and isinstance(ch.parts[0], (ir.Sym, ir.Indexed)):
            items = tuple(pending) + (ch.parts[0],)
            tup = ir.Tuple(items, span=_cover(items[0].span, items[-1].span))
            ch = ir.Chain((tup,) + ch.parts[1:], ch.ops, span=_cover(tup.span, ch.span))
            pending = []
        else:
            out.extend(ir.Chain((p,), span=p.span) for p in pending)
            pending = []
        out.append(ch)
    out.extend(ir.Chain((p,), span=p.span) for p in pending)
    return out


def _is_dots(x: Expr) -> bool:
    return isinstance(x, ir.Opaque) and not x.args and x.text in ("\\dots", "\\ldots", "\\cdots", "\\vdots", "\\ddots")


_LONE_OPERATOR = re.compile(r"\s*(?:\\(?:odot|otimes|oplus|circ|cdot|times|star|ast|bullet|oslash|ominus|wedge|vee|nabla|partial|top|intercal|dagger)(?![A-Za-z])|[-+*:/|]|\\\||\(\s*\\star\s*\))\s*")


def _parse_line(line: str, line_start: int, base: int, origin):
    sub = None if origin is None else (origin[0][line_start:], origin[1][line_start:])
    tr = _ToIR(line, base + line_start if origin is None else 0, sub)
    if _LONE_OPERATOR.fullmatch(line):  # "where $\odot$ is the Hadamard product": a mention
        a = len(line) - len(line.lstrip())
        return [ir.Chain((ir.Opaque(line.strip(), span=tr._sp(a, len(line.rstrip()))),), span=tr._sp(a, len(line.rstrip())))], None, []
    try:
        tree = _parser().parse(line)
        chains = tr.transform(tree)
        return chains, None, tr.unknown
    except UnexpectedInput as e:
        return [], _issue(e, line, tr), tr.unknown
    except (LarkError, RecursionError, ValueError, ZeroDivisionError, IndexError, AttributeError, TypeError) as e:
        end = len(line.rstrip())
        return [], ParseIssue(tr._sp(0, max(end, 1)), f"mcls cannot read this math ({type(e).__name__})"), tr.unknown


def _issue(e: UnexpectedInput, line: str, tr: _ToIR) -> ParseIssue:
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        end = len(line.rstrip())
        start = max(0, end - 1)
        return ParseIssue(tr._sp(start, max(end, start + 1)), "mcls cannot read this math: it ends early (unclosed group or missing operand?)")
    if isinstance(e, UnexpectedToken):
        tok = e.token
        a = tok.start_pos if tok.start_pos is not None else 0
        b = tok.end_pos if tok.end_pos is not None else a + 1
        return ParseIssue(tr._sp(a, max(b, a + 1)), f"mcls cannot read this math: unexpected '{_show(str(tok))}'")
    if isinstance(e, UnexpectedCharacters):
        a = e.pos_in_stream
        return ParseIssue(tr._sp(a, a + 1), f"mcls cannot read this math: unexpected character '{_show(line[a:a+1])}'")
    return ParseIssue(tr._sp(0, max(1, len(line))), "mcls cannot read this math")


def _show(s: str) -> str:
    return {"\x01": "|", "\x02": "|", "\x03": "\\|", "\x04": "\\|"}.get(s, s[:20])


def parse_expr(text: str) -> Expr:
    """Parse a single expression (CLI/tests). Raises ValueError when it cannot."""
    pm = parse_math(text)
    if pm.issues:
        raise ValueError(pm.issues[0].message)
    if len(pm.math.statements) != 1 or pm.math.statements[0].ops:
        if len(pm.math.statements) == 1:
            return pm.math.statements[0]
        raise ValueError("expected one expression")
    return pm.math.statements[0].parts[0]
