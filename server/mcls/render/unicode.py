"""IR -> plain Unicode text for terminals and hovers: ``∂M/∂Xᵢⱼ = A Eᵢⱼ Xᵀ Aᵀ + …``.

Not meant to be parsed back; parentheses follow the same binding as the LaTeX
printer. Scripts use Unicode sub/superscript characters when every character
has one, else ``_{…}`` / ``^(…)``.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .. import ir
from ..ir import Expr
from .latex import (ATOM, HAD, KRON, POSTFIX, PREFIX, PROD, SUM, Out, PrecedencePrinter, flat_factors, index_text,
                    is_placeholder, primes, split_coefficient)
from .style import DEFAULT, Style

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ", "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ",
    "upsilon": "υ", "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ",
    "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "ell": "ℓ", "hbar": "ħ", "nabla": "∇", "partial": "∂",
    "infty": "∞", "top": "⊤", "intercal": "⊺", "prime": "′", "dagger": "†", "ast": "∗", "star": "⋆",
    "cdot": "·", "times": "×", "imath": "ı", "jmath": "ȷ",
}
SUB = dict(zip("0123456789+-=()aehijklmnoprstuvxβγρφχ", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ"))
SUP = dict(zip("0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWαβγδεθιφχ×⊤′*",
               "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᶥᵠᵡˣᵀ′*"))
VULGAR = {(1, 2): "½", (1, 3): "⅓", (2, 3): "⅔", (1, 4): "¼", (3, 4): "¾", (1, 5): "⅕", (2, 5): "⅖",
          (3, 5): "⅗", (4, 5): "⅘", (1, 6): "⅙", (5, 6): "⅚", (1, 7): "⅐", (1, 8): "⅛", (3, 8): "⅜",
          (5, 8): "⅝", (7, 8): "⅞", (1, 9): "⅑", (1, 10): "⅒"}
REL = {"\\in": "∈", ":=": "≔", "=:": "≕", "\\approx": "≈", "\\ne": "≠", "\\le": "≤", "\\ge": "≥",
       "\\succ": "≻", "\\succeq": "⪰", "\\prec": "≺", "\\preceq": "⪯", "\\sim": "∼", "\\propto": "∝"}
ACCENTS = {"hat": "\u0302", "widehat": "\u0302", "tilde": "\u0303", "widetilde": "\u0303", "bar": "\u0304",
           "overline": "\u0305", "dot": "\u0307", "ddot": "\u0308", "vec": "\u20d7", "check": "\u030c",
           "breve": "\u0306", "underline": "\u0332"}
BOLD_FONTS = {"mathbf", "boldsymbol", "bm", "pmb", "textbf", "bf"}
PLAIN_FONTS = {"mathrm", "mathit", "mathsf", "text", "textrm", "operatorname", "mathtt", "rm", "tt", "textit"}
FUNC_NAMES = {"sigma": "σ", "logdet": "log det", "abs": "abs"}
_DOUBLE_SPECIAL = {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"}
_SCRIPT_SPECIAL = {"B": "ℬ", "E": "ℰ", "F": "ℱ", "H": "ℋ", "I": "ℐ", "L": "ℒ", "M": "ℳ", "R": "ℛ",
                   "e": "ℯ", "g": "ℊ", "o": "ℴ"}
_BOLD_GREEK_EXTRA = {"∂": "𝛛", "ϵ": "𝛜", "ϑ": "𝛝", "ϰ": "𝛞", "ϕ": "𝛟", "ϱ": "𝛠", "ϖ": "𝛡", "∇": "𝛁"}


# ------------------------------------------------------------------ characters


def _bold(c: str) -> str:
    o = ord(c)
    if "A" <= c <= "Z":
        return chr(0x1D400 + o - 65)
    if "a" <= c <= "z":
        return chr(0x1D41A + o - 97)
    if "0" <= c <= "9":
        return chr(0x1D7CE + o - 48)
    if 0x391 <= o <= 0x3A9:
        return chr(0x1D6A8 + o - 0x391)
    if 0x3B1 <= o <= 0x3C9:
        return chr(0x1D6C2 + o - 0x3B1)
    return _BOLD_GREEK_EXTRA.get(c, c)


def _double(c: str) -> str:
    if c in _DOUBLE_SPECIAL:
        return _DOUBLE_SPECIAL[c]
    if "A" <= c <= "Z":
        return chr(0x1D538 + ord(c) - 65)
    if "a" <= c <= "z":
        return chr(0x1D552 + ord(c) - 97)
    if "0" <= c <= "9":
        return chr(0x1D7D8 + ord(c) - 48)
    return c


def _script(c: str) -> str:
    if c in _SCRIPT_SPECIAL:
        return _SCRIPT_SPECIAL[c]
    if "A" <= c <= "Z":
        return chr(0x1D49C + ord(c) - 65)
    if "a" <= c <= "z":
        return chr(0x1D4B6 + ord(c) - 97)
    return c


def sub(s: str) -> str:
    if s and all(c in SUB for c in s):
        return "".join(SUB[c] for c in s)
    return "_" + s if len(s) == 1 else "_{" + s + "}"


def sup(s: str) -> str:
    if s and all(c in SUP for c in s):
        return "".join(SUP[c] for c in s)
    return "^" + s if len(s) == 1 else "^(" + s + ")"


def _read_arg(s: str, i: int) -> tuple[str, int]:
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth = 0
        for j in range(i, len(s)):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                return s[i + 1 : j], j + 1
        return s[i + 1 :], len(s)
    m = re.match(r"\\[A-Za-z]+", s[i:])
    if m:
        return m.group(0), i + m.end()
    return s[i], i + 1


def uname(s: str) -> str:
    """LaTeX name -> Unicode: ``\\mathbf{X}`` -> 𝐗, ``\\Sigma`` -> Σ, ``W_{1}`` -> W₁."""
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+)|\\(.)", s[i:])
            assert m is not None
            i += m.end()
            cmd = m.group(1)
            if cmd is None:  # \, \{ \|
                out.append({"|": "‖", "{": "{", "}": "}"}.get(m.group(2), ""))
                continue
            if cmd in BOLD_FONTS or cmd in PLAIN_FONTS or cmd in ACCENTS or cmd in ("mathbb", "mathcal", "mathscr"):
                arg, i = _read_arg(s, i)
                inner = uname(arg)
                if cmd in BOLD_FONTS:
                    inner = "".join(_bold(ch) for ch in inner)
                elif cmd == "mathbb":
                    inner = "".join(_double(ch) for ch in inner)
                elif cmd in ("mathcal", "mathscr"):
                    inner = "".join(_script(ch) for ch in inner)
                elif cmd in ACCENTS:
                    inner = inner + ACCENTS[cmd]
                out.append(inner)
            else:
                out.append(GREEK.get(cmd, cmd))
        elif c in "_^":
            arg, i = _read_arg(s, i + 1)
            inner = uname(arg)
            out.append(sub(inner) if c == "_" else sup(inner))
        elif c in "{}":
            i += 1
        elif c == "~":
            out.append(" ")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _func_name(cmd: str) -> str:
    """``\\operatorname{Tr}`` -> Tr, ``\\sigma`` -> σ, ``\\log \\det`` -> log det."""
    words = re.findall(r"\\(?:operatorname\*?|mathrm|text|textrm|mathsf|rm|mathop)\s*\{\s*([A-Za-z]+)\s*\}|\\([A-Za-z]+)", cmd)
    names = [a or GREEK.get(b, b) for a, b in words]
    return " ".join(names) if names else cmd


# ------------------------------------------------------------------ printer


class UnicodePrinter(PrecedencePrinter):
    def num(self, v: Fraction) -> str:
        a = abs(v)
        if a.denominator == 1:
            s = str(a.numerator)
        else:
            s = VULGAR.get((a.numerator, a.denominator)) or sup(str(a.numerator)) + "⁄" + "".join(SUB[c] for c in str(a.denominator))
        return "-" + s if v < 0 else s

    def tmark(self) -> str:
        return "′" if self.style.transpose in ("'", "\\prime") else "ᵀ"

    # -- leaves
    def p_Sym(self, x: ir.Sym) -> Out:
        t = uname(x.name)
        return Out(t, ATOM, "sup" if "^" in x.name else "")

    def p_Num(self, x: ir.Num) -> Out:
        return Out(self.num(x.value), SUM if x.value < 0 else ATOM)

    def p_Indexed(self, x: ir.Indexed) -> Out:
        return Out(self.base(x.base, True) + sub(uname(x.index)), POSTFIX, "sub")

    def p_Entry(self, x: ir.Entry) -> Out:
        return Out(self.base(x.of, True) + sub(uname(index_text(x.i, x.j))), POSTFIX, "sub")

    def p_Basis(self, x: ir.Basis) -> Out:
        return Out("E" + sub(uname(index_text(x.i, x.j))), ATOM, "sub")

    def p_UnitVec(self, x: ir.UnitVec) -> Out:
        return Out("e" + sub(uname(x.i)), ATOM, "sub")

    def p_Ones(self, x: ir.Ones) -> Out:
        one = "𝟙" if "mathbb" in self.style.ones else "𝟏"
        return Out(one + sub(uname(x.size)), ATOM, "sub") if x.size else Out(one, ATOM)

    def p_Identity(self, x: ir.Identity) -> Out:
        i = uname(self.style.identity)
        return Out(i + sub(uname(x.size)), ATOM, "sub") if x.size else Out(i, ATOM)

    def p_Zero(self, x: ir.Zero) -> Out:
        return Out("0", ATOM)

    def p_Differential(self, x: ir.Differential) -> Out:
        pre = "∂" if self.style.differential == "\\partial" else "d"
        o = self.go(x.of)
        return Out(pre + (o.text if o.prec >= POSTFIX else self.paren(o.text)), PREFIX)

    def p_Opaque(self, x: ir.Opaque) -> Out:
        t = x.text
        if t.startswith("field:"):
            return Out(_double(t[6:]), ATOM)
        if t == "pinv" and len(x.args) == 1:
            return Out(self.base(x.args[0]) + "⁺", POSTFIX, "sup")
        if is_placeholder(x):
            return Out("", ATOM)
        name = _func_name(t) if t.startswith("\\") else t
        if not x.args:
            return Out(name, ATOM)
        return Out(name + self.paren(", ".join(self.go(a).text for a in x.args)), ATOM)

    # -- sums and binary operators
    def p_Kron(self, x: ir.Kron) -> Out:
        return self.binary(x.a, x.b, "⊗", KRON)

    def p_Hadamard(self, x: ir.Hadamard) -> Out:
        return self.binary(x.a, x.b, "∘" if self.style.hadamard == "\\circ" else "⊙", HAD)

    def p_HadamardDiv(self, x: ir.HadamardDiv) -> Out:
        return self.binary(x.a, x.b, "⊘", HAD)

    # -- products
    def p_Mul(self, x: ir.Mul) -> Out:
        c, rest = split_coefficient(flat_factors(x))
        if not rest:
            return self.p_Num(ir.Num(c if c is not None else Fraction(1)))
        if len(rest) == 1 and c in (None, 1):
            return self.go(rest[0])
        parts: list[str] = []
        for k, f in enumerate(rest):
            o = self.p_Func(f, bare_ok=k == len(rest) - 1) if isinstance(f, ir.Func) else self.go(f)
            parts.append(o.text if o.prec > PROD else self.paren(o.text))
        # `AXB`, `Ax` when every factor is one letter; else spaced: `A Eᵢⱼ Xᵀ`
        sep = "" if all(len(p) == 1 and p.isalpha() for p in parts) else " "
        text = sep.join(parts)
        if c is None or c == 1:
            return Out(text, PROD)
        if c == -1:
            return Out("-" + text, SUM)
        return Out(f"{self.num(c)} {text}", SUM if c < 0 else PROD)

    def p_Div(self, x: ir.Div) -> Out:
        if isinstance(x.num, ir.Num) and isinstance(x.den, ir.Num) and x.den.value != 0:
            return self.p_Num(ir.Num(x.num.value / x.den.value))
        return Out(f"{self.at(x.num, POSTFIX)}/{self.at(x.den, POSTFIX)}", PROD)

    # -- postfix
    def p_Transpose(self, x: ir.Transpose) -> Out:
        return Out(self.base(x.x) + self.tmark(), POSTFIX, "sup")

    def p_Inverse(self, x: ir.Inverse) -> Out:
        if isinstance(x.x, ir.Transpose):
            return Out(self.base(x.x.x) + "⁻" + self.tmark(), POSTFIX, "sup")
        return Out(self.base(x.x) + "⁻¹", POSTFIX, "sup")

    def p_Power(self, x: ir.Power) -> Out:
        return Out(self.base(x.base) + sup(self.go(x.exp).text), POSTFIX, "sup")

    # -- functions
    def p_Func(self, x: ir.Func, bare_ok: bool = True) -> Out:
        name, k = primes(x.name)
        arg = self.go(x.arg)
        if name == "abs" and not k:
            return Out(f"|{arg.text}|", ATOM)
        if name == "sqrt" and not k:
            return Out("√" + (arg.text if arg.prec >= POSTFIX else self.paren(arg.text)), PREFIX)
        if x.style and x.style not in ("|", "\\sqrt"):
            shown = _func_name(x.style)
        elif name in ("tr", "det", "diag", "Diag", "vec"):
            shown = _func_name(self.style.command(name))
        elif name == "logdet":
            shown = "log " + _func_name(self.style.det)
        else:
            shown = FUNC_NAMES.get(name, name)
        shown += "′" * k
        if name in ("det", "logdet") and not k and bare_ok and isinstance(x.arg, ir.Sym):
            return Out(f"{shown} {arg.text}", PREFIX)
        return Out(shown + self.paren(arg.text), ATOM)

    def p_Norm(self, x: ir.Norm) -> Out:
        body = f"‖{self.go(x.x).text}‖"
        if not x.kind:
            return Out(body, ATOM)
        kind = "∞" if x.kind in ("inf", "\\infty") else uname(x.kind)
        return Out(body + sub(kind), ATOM, "sub")

    def p_Derivative(self, x: ir.Derivative) -> Out:
        def part(e: Expr) -> str:
            return "" if is_placeholder(e) else self.at(e, POSTFIX)

        return Out(f"∂{part(x.f)}/∂{part(x.wrt)}", PROD)

    # -- statements
    def p_Chain(self, x: ir.Chain) -> Out:
        text = self.go(x.parts[0]).text if x.parts else ""
        for op, part in zip(x.ops, x.parts[1:]):
            text = f"{text} {REL.get(op, op)} {self.go(part).text}".strip()
        return Out(text, 0 if x.ops else (self.go(x.parts[0]).prec if x.parts else ATOM))

    def p_Tuple(self, x: ir.Tuple) -> Out:
        return Out(", ".join(self.go(i).text for i in x.items), 0)

    def p_Space(self, x: ir.Space) -> Out:
        f = _double(x.field_)
        if x.rows is None:
            return Out(f, ATOM)
        dims = uname(x.rows) if x.cols is None else f"{uname(x.rows)}×{uname(x.cols)}"
        return Out(f + sup(dims), POSTFIX, "sup")

    def p_Math(self, x: ir.Math) -> Out:
        return Out("; ".join(self.go(s).text for s in x.statements), 0)


def to_unicode(expr: Expr, style: Style | None = None) -> str:
    """Readable one-line Unicode for ``expr`` (hovers, terminal output)."""
    return UnicodePrinter(style or DEFAULT).go(expr).text
