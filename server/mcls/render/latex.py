"""IR -> LaTeX in the author's style (``Style``).

Parentheses follow the grammar's binding (``grammar/matrix.lark``, loosest
first): ``+ -`` < ``:`` < ``\\otimes`` < ``\\odot \\oslash`` < product <
prefix (``dX``, ``\\det X``) < postfix (``^\\top``, ``^{-1}``, ``_{ij}``) < atom.
The binary operators are left-associative in the parser, so a right operand of
the same level keeps its parentheses and the output re-parses to the same tree
(sums and products are flattened: they are associative).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .. import ir
from ..ir import Expr
from .style import DEFAULT, Style

SUM, FROB, KRON, HAD, PROD, PREFIX, POSTFIX, ATOM = range(1, 9)


@dataclass(frozen=True)
class Out:
    text: str
    prec: int
    tail: str = ""  # "sub" / "sup": ends with a script, so another one needs a group


# ------------------------------------------------------------------ shared with unicode.py


def flat_terms(x: ir.Add) -> list[Expr]:
    out: list[Expr] = []
    for t in x.terms:
        out.extend(flat_terms(t) if isinstance(t, ir.Add) else [t])
    return out


def flat_factors(x: ir.Mul) -> list[Expr]:
    out: list[Expr] = []
    for f in x.factors:
        out.extend(flat_factors(f) if isinstance(f, ir.Mul) else [f])
    return out


def split_coefficient(factors: list[Expr]) -> tuple[Fraction | None, list[Expr]]:
    """A product's one number as its leading coefficient (scalars commute).
    Several numbers stay where they are: folding them is the simplifier's job."""
    nums = [f for f in factors if isinstance(f, ir.Num)]
    if len(nums) != 1:
        return None, list(factors)
    return nums[0].value, [f for f in factors if f is not nums[0]]


def is_negative(x: Expr) -> bool:
    if isinstance(x, ir.Neg):
        return True
    if isinstance(x, ir.Num):
        return x.value < 0
    if isinstance(x, ir.Mul):
        c, _ = split_coefficient(flat_factors(x))
        return c is not None and c < 0
    return False


def negate(x: Expr) -> Expr:
    """The positive form of a negative term (``is_negative(x)``), for ``a - b``."""
    if isinstance(x, ir.Neg):
        return x.x
    if isinstance(x, ir.Num):
        return ir.Num(-x.value)
    if isinstance(x, ir.Mul):
        c, rest = split_coefficient(flat_factors(x))
        if c is not None and c != -1:
            return ir.Mul((ir.Num(-c),) + tuple(rest))
        return rest[0] if len(rest) == 1 else ir.Mul(tuple(rest))
    return ir.Neg(x)


def primes(name: str) -> tuple[str, int]:
    """``sigma''`` -> (``sigma``, 2): derivative functions."""
    base = name.rstrip("'")
    return base, len(name) - len(base)


def is_placeholder(x: Expr) -> bool:
    """The empty operand of ``\\frac{\\partial}{\\partial X}`` or an align continuation."""
    return isinstance(x, ir.Opaque) and x.text in ("·", "&") and not x.args


# ------------------------------------------------------------------ printer

_CMD_END = re.compile(r"\\[A-Za-z]+$")
_SCRIPT_END = re.compile(r"[\^_](?:\\[A-Za-z]+|[A-Za-z0-9])$")
# what may follow a plain `d` for the lexer to read a differential (grammar DIFF)
_D_OPERAND = re.compile(
    r"(?:[A-Za-z]|\(|\\left\s*\(|\\(?:math[a-z]+|bm|boldsymbol|pmb|vec|hat|bar|tilde|[A-Z][A-Za-z]*|alpha|beta|gamma|delta|"
    r"epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu|xi|pi|rho|sigma|tau|upsilon|phi|varphi|"
    r"chi|psi|omega)(?![a-z]))"
)
_REL = {"=:": "\\eqqcolon"}
_SINGLE = re.compile(r"[A-Za-z0-9]|\\[A-Za-z]+")


def cat(a: str, b: str) -> str:
    """Concatenate, with a space where TeX would merge a command name with a letter."""
    if a and b and _CMD_END.search(a) and b[0].isalpha():
        return a + " " + b
    return a + b


def sym_tail(name: str) -> str:
    if re.search(r"\^(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\\[A-Za-z]+|.)$", name):
        return "sup"
    if re.search(r"_(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\\[A-Za-z]+|.)$", name):
        return "sub"
    return ""


def index_text(*idx: str | None) -> str:
    parts = [i for i in idx if i is not None]
    if all(len(p) == 1 for p in parts):
        return "".join(parts)
    return ",".join(parts)


def script(s: str) -> str:
    """``_x`` style argument: braces unless one token."""
    return s if _SINGLE.fullmatch(s) else "{" + s + "}"


class PrecedencePrinter:
    """The walk both printers share (this one and ``unicode.UnicodePrinter``): one ``p_<Node>``
    method per IR node returning ``Out``; operands get parentheses by binding level. The
    printers differ in leaves, operator spelling and ``paren``."""

    UNKNOWN = "?"

    def __init__(self, style: Style):
        self.style = style

    def paren(self, s: str) -> str:
        return f"({s})"

    def at(self, x: Expr, prec: int) -> str:
        o = self.go(x)
        return o.text if o.prec >= prec else self.paren(o.text)

    def base(self, x: Expr, for_sub: bool = False) -> str:
        """Operand of a postfix script: an atom not already ending in a script of that kind."""
        o = self.go(x)
        ok = o.prec >= ATOM and o.tail == "" if for_sub else o.prec >= POSTFIX and o.tail != "sup"
        return o.text if ok else self.paren(o.text)

    def go(self, x: Expr) -> Out:
        m = getattr(self, "p_" + type(x).__name__, None)
        return m(x) if m is not None else Out(self.UNKNOWN, ATOM)

    def p_Add(self, x: ir.Add) -> Out:
        terms = flat_terms(x)
        if not terms:
            return Out("0", ATOM)
        text = self.at(terms[0], SUM)
        for t in terms[1:]:
            if is_negative(t):
                text += " - " + self.at(negate(t), FROB)
            else:
                text += " + " + self.at(t, FROB)
        return Out(text, SUM if len(terms) > 1 else self.go(terms[0]).prec)

    def p_Neg(self, x: ir.Neg) -> Out:
        return Out("-" + self.at(x.x, FROB), SUM)

    def binary(self, a: Expr, b: Expr, op: str, level: int) -> Out:
        return Out(f"{self.at(a, level)} {op} {self.at(b, level + 1)}", level)

    def p_Frob(self, x: ir.Frob) -> Out:
        return self.binary(x.a, x.b, ":", FROB)


class LatexPrinter(PrecedencePrinter):
    UNKNOWN = "\\text{?}"

    def paren(self, s: str) -> str:
        return f"\\left({s}\\right)" if self.style.left_right else f"({s})"

    def num(self, v: Fraction) -> str:
        a = abs(v)
        s = str(a.numerator) if a.denominator == 1 else f"\\frac{{{a.numerator}}}{{{a.denominator}}}"
        return "-" + s if v < 0 else s

    def mark(self) -> str:
        m = self.style.transpose
        if m == "'":
            return "'"
        return "^" + script(m)

    # -- leaves
    def p_Sym(self, x: ir.Sym) -> Out:
        return Out(x.name, ATOM, sym_tail(x.name))

    def p_Num(self, x: ir.Num) -> Out:
        return Out(self.num(x.value), SUM if x.value < 0 else ATOM)

    def p_Indexed(self, x: ir.Indexed) -> Out:
        return Out(f"{self.base(x.base, True)}_{{{x.index}}}", POSTFIX, "sub")

    def p_Entry(self, x: ir.Entry) -> Out:
        return Out(f"{self.base(x.of, True)}_{{{index_text(x.i, x.j)}}}", POSTFIX, "sub")

    def p_Basis(self, x: ir.Basis) -> Out:
        return Out(f"E_{{{index_text(x.i, x.j)}}}", ATOM, "sub")

    def p_UnitVec(self, x: ir.UnitVec) -> Out:
        return Out(f"e_{{{x.i}}}", ATOM, "sub")

    def p_Ones(self, x: ir.Ones) -> Out:
        if x.size:
            return Out(f"{self.style.ones}_{{{x.size}}}", ATOM, "sub")
        return Out(self.style.ones, ATOM)

    def p_Identity(self, x: ir.Identity) -> Out:
        if x.size:
            return Out(f"{self.style.identity}_{{{x.size}}}", ATOM, "sub")
        return Out(self.style.identity, ATOM)

    def p_Zero(self, x: ir.Zero) -> Out:
        return Out("0", ATOM)

    def p_Differential(self, x: ir.Differential) -> Out:
        pre = self.style.differential
        o = self.go(x.of)
        arg = o.text if o.prec >= POSTFIX else self.paren(o.text)
        if pre == "d" and not _D_OPERAND.match(arg):
            arg = self.paren(o.text)
        if pre == "\\partial":
            return Out(f"{pre} {arg}", PREFIX)
        return Out(cat(pre, arg), PREFIX)

    def p_Opaque(self, x: ir.Opaque) -> Out:
        t = x.text
        if t.startswith("field:"):
            return Out(f"\\mathbb{{{t[6:]}}}", ATOM)
        if t == "pinv" and len(x.args) == 1:
            return Out(self.base(x.args[0]) + "^{\\dagger}", POSTFIX, "sup")
        if is_placeholder(x):
            return Out("", ATOM)
        if not x.args:
            return Out(t, ATOM)
        cmd = t if t.startswith("\\") else f"\\operatorname{{{t}}}"
        return Out(cmd + self.paren(", ".join(self.go(a).text for a in x.args)), ATOM)

    # -- sums and binary operators
    def p_Kron(self, x: ir.Kron) -> Out:
        return self.binary(x.a, x.b, "\\otimes", KRON)

    def p_Hadamard(self, x: ir.Hadamard) -> Out:
        return self.binary(x.a, x.b, self.style.hadamard, HAD)

    def p_HadamardDiv(self, x: ir.HadamardDiv) -> Out:
        return self.binary(x.a, x.b, "\\oslash", HAD)

    # -- products
    def factor(self, f: Expr, last: bool) -> str:
        if isinstance(f, ir.Sym) and f.name in ("d", "\\sigma") and not last:
            return "{" + f.name + "}"  # else `d X` reads as a differential, `\sigma(` as a function
        o = self.p_Func(f, bare_ok=last) if isinstance(f, ir.Func) else self.go(f)
        return o.text if o.prec >= PREFIX else self.paren(o.text)

    def p_Mul(self, x: ir.Mul) -> Out:
        c, rest = split_coefficient(flat_factors(x))
        if not rest:
            return self.p_Num(ir.Num(c if c is not None else Fraction(1)))
        if len(rest) == 1 and c in (None, 1):
            return self.go(rest[0])
        text = ""
        prev: Expr | None = None
        for k, f in enumerate(rest):
            s = self.factor(f, k == len(rest) - 1)
            if prev is None:
                text = s
            elif isinstance(f, ir.Differential) or isinstance(prev, ir.Differential) or _SCRIPT_END.search(text):
                text += " " + s
            elif text[-1].isdigit() and s[0].isdigit():
                text += " \\cdot " + s
            else:
                text = cat(text, s)
            prev = f
        if c is None or c == 1:
            return Out(text, PROD)
        if c == -1:
            return Out("-" + text, SUM)
        return Out(f"{self.num(c)} {text}", SUM if c < 0 else PROD)

    def p_Div(self, x: ir.Div) -> Out:
        return Out(f"\\frac{{{self.go(x.num).text}}}{{{self.go(x.den).text}}}", ATOM)

    # -- postfix
    def p_Transpose(self, x: ir.Transpose) -> Out:
        m = self.mark()
        return Out(self.base(x.x) + m, POSTFIX, "" if m == "'" else "sup")

    def p_Inverse(self, x: ir.Inverse) -> Out:
        if isinstance(x.x, ir.Transpose):
            m = self.style.transpose
            if m in ("'", "\\prime"):
                return Out(self.base(x.x.x) + "'^{-1}", POSTFIX, "sup")
            return Out(self.base(x.x.x) + f"^{{-{m}}}", POSTFIX, "sup")
        return Out(self.base(x.x) + "^{-1}", POSTFIX, "sup")

    def p_Power(self, x: ir.Power) -> Out:
        return Out(f"{self.base(x.base)}^{{{self.go(x.exp).text}}}", POSTFIX, "sup")

    # -- functions
    def p_Func(self, x: ir.Func, bare_ok: bool = True) -> Out:
        name, k = primes(x.name)
        cmd = re.sub(r"\s+", "", x.style) if x.style else self.style.command(name)
        arg = self.go(x.arg)
        if k:
            if cmd in ("|", "\\sqrt"):  # no prime form for these; keep the name
                cmd = f"\\operatorname{{{name}}}"
            return Out(cmd + "'" * k + self.paren(arg.text), PREFIX)
        if name == "abs":
            return Out(f"\\lvert {arg.text}\\rvert", ATOM)
        if name == "sqrt" and cmd == "\\sqrt":
            return Out(f"\\sqrt{{{arg.text}}}", ATOM)
        if name in ("det", "logdet") and bare_ok and isinstance(x.arg, ir.Sym):
            return Out(cat(cmd, arg.text), PREFIX)
        return Out(cmd + self.paren(arg.text), ATOM)

    def p_Norm(self, x: ir.Norm) -> Out:
        body = f"\\|{self.go(x.x).text}\\|"
        if not x.kind:
            return Out(body, ATOM)
        kind = "\\infty" if x.kind in ("inf", "\\infty") else x.kind
        return Out(f"{body}_{script(kind)}", ATOM, "sub")

    def p_Derivative(self, x: ir.Derivative) -> Out:
        def part(e: Expr) -> str:
            if is_placeholder(e):
                return ""
            o = self.go(e)
            return " " + (o.text if o.prec >= POSTFIX else self.paren(o.text))

        return Out(f"\\frac{{\\partial{part(x.f)}}}{{\\partial{part(x.wrt)}}}", ATOM)

    # -- statements
    def p_Chain(self, x: ir.Chain) -> Out:
        text = self.go(x.parts[0]).text if x.parts else ""
        for op, part in zip(x.ops, x.parts[1:]):
            text = f"{text} {_REL.get(op, op)} {self.go(part).text}".strip()
        return Out(text, 0 if x.ops else (self.go(x.parts[0]).prec if x.parts else ATOM))

    def p_Tuple(self, x: ir.Tuple) -> Out:
        return Out(", ".join(self.go(i).text for i in x.items), 0)

    def p_Space(self, x: ir.Space) -> Out:
        f = f"\\mathbb{{{x.field_}}}"
        if x.rows is None:
            return Out(f, ATOM)
        dims = x.rows if x.cols is None else f"{x.rows}\\times {x.cols}"
        return Out(f"{f}^{{{dims}}}", POSTFIX, "sup")

    def p_Math(self, x: ir.Math) -> Out:
        return Out(" \\\\ ".join(self.go(s).text for s in x.statements), 0)


def to_latex(expr: Expr, style: Style | None = None) -> str:
    """LaTeX for ``expr`` in ``style`` (default: ``\\top``, ``\\operatorname{tr}``, ``\\odot``, ``d``)."""
    return LatexPrinter(style or DEFAULT).go(expr).text
