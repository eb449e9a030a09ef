"""The author's notation, so inserted math reads like the rest of the paper.

``detect_style`` counts each candidate form in the document's math (after
expanding the document's own macros, so ``\\trace{X}`` defined as
``\\operatorname{Tr}\\LR{X}`` counts as ``\\operatorname{Tr}`` and ``\\left(``);
the most frequent form wins, defaults otherwise.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

# Default command of each Func name (``mcls.ir.Func.name``) that the Style does not cover.
FUNC_COMMANDS = {
    "exp": "\\exp", "log": "\\log", "tanh": "\\tanh", "sin": "\\sin", "cos": "\\cos",
    "sigma": "\\sigma", "sqrt": "\\sqrt", "relu": "\\operatorname{relu}",
    "softplus": "\\operatorname{softplus}", "abs": "|",
}


@dataclass(frozen=True)
class Style:
    transpose: str = "\\top"  # \top | T | \intercal | \mathsf{T} | \mathrm{T} | \prime | '
    trace: str = "\\operatorname{tr}"
    det: str = "\\det"
    diag: str = "\\operatorname{diag}"  # matrix -> vector
    Diag: str = "\\operatorname{Diag}"  # vector -> diagonal matrix
    vec: str = "\\operatorname{vec}"
    hadamard: str = "\\odot"  # \odot | \circ
    differential: str = "d"  # d | \mathrm{d} | \partial
    ones: str = "\\mathbf{1}"  # \mathbf{1} | \mathbb{1} | \bm{1} | \boldsymbol{1}
    identity: str = "I"  # I | \mathbf{I} | \mathbb{I} | \bm{I}
    left_right: bool = False  # \left( ... \right) around groups

    def command(self, func_name: str) -> str:
        """LaTeX command for a ``Func`` name (``tr`` -> ``\\operatorname{tr}``)."""
        if func_name == "tr":
            return self.trace
        if func_name in ("det", "diag", "Diag", "vec"):
            return getattr(self, func_name)
        if func_name == "logdet":
            return "\\log" + self.det
        return FUNC_COMMANDS.get(func_name, f"\\operatorname{{{func_name}}}")


DEFAULT = Style()

# ------------------------------------------------------------------ detection

_MARK = r"(\\top(?![A-Za-z])|\\intercal(?![A-Za-z])|\\mathsf\s*\{\s*T\s*\}|\\mathsf\s+T|\\mathrm\s*\{\s*T\s*\}|\\prime(?![A-Za-z])|T)"
_T_BRACED = re.compile(r"\^\s*\{\s*-?\s*" + _MARK + r"\s*\}")
_T_BARE = re.compile(r"\^\s*" + _MARK)
# X' but not \sigma'(z) or f'(x)
_T_PRIME = re.compile(r"(?<![\\A-Za-z])(?:[A-Z]|\\mathbf\{[A-Za-z]\}|[)\]]|[a-eijk-z])'(?!')(?!\s*\()")
_WRAPPED = r"(\\operatorname\*?|\\mathrm|\\text|\\textrm|\\mathsf|\\rm)\s*\{\s*(NAME)\s*\}"
_BARE = r"\\(NAME)(?![A-Za-z])"
_DIFF = re.compile(
    r"(\\(?:mathrm|text|operatorname|mathit)\s*\{\s*d\s*\}|\\(?:mathrm|rm)\s+d(?![A-Za-z]))"
    r"|(?<![A-Za-z\\{])(d)(?=\s*(?:[A-Za-z]|\\(?:math[a-z]+|bm|boldsymbol|[A-Z][A-Za-z]*|alpha|beta|gamma|delta|epsilon|"
    r"theta|lambda|mu|sigma|tau|phi|psi|omega)(?![a-z])|\())"
    r"|(?<![{\s])\s*(\\partial)(?![A-Za-z])(?!\s*[}^])"
)
_ONES = re.compile(r"\\(mathbf|mathbb|bm|boldsymbol)\s*\{?\s*1(?![0-9])\s*\}?")
_IDENT = re.compile(r"\\(mathbf|mathbb|bm|boldsymbol)\s*\{\s*I\s*\}|(?<![A-Za-z\\{])I(?![A-Za-z]|\s*\})")
_HAD = re.compile(r"\\(odot|circ)(?![A-Za-z])")
_LEFT = re.compile(r"\\left\s*[(\[]")
_PLAIN_OPEN = re.compile(r"(?<!\\left)(?<!\\bigl)(?<!\\Bigl)(?<!\\big)(?<!\\Big)\(")


def _canon_mark(raw: str) -> str:
    m = re.sub(r"\s+", "", raw)
    if m.startswith("\\mathsf"):
        return "\\mathsf{T}"
    if m.startswith("\\mathrm"):
        return "\\mathrm{T}"
    return m


def _func_forms(text: str, names: str) -> Counter:
    c: Counter = Counter()
    for m in re.finditer(_WRAPPED.replace("NAME", names), text):
        cmd = m.group(1).replace("*", "")
        c[f"{cmd}{{{m.group(2)}}}"] += 1
    for m in re.finditer(_BARE.replace("NAME", names), text):
        c["\\" + m.group(1)] += 1
    return c


def _best(c: Counter, default: str) -> str:
    if not c:
        return default
    top = max(c.values())
    # ties keep the default when it is among them (stable across edits)
    if c.get(default) == top:
        return default
    return next(k for k, v in c.most_common() if v == top)


def _like(wrapper_of: str, name: str, default: str) -> str:
    """``\\mathrm{Tr}`` -> ``\\mathrm{diag}``: unseen operators follow the seen wrapper."""
    m = re.match(r"(\\[A-Za-z]+)\{[A-Za-z]+\}$", wrapper_of)
    return f"{m.group(1)}{{{name}}}" if m else default


def _math_text(text: str, language: str) -> str:
    """The document's math with its macros expanded; the whole text if it has no delimiters."""
    try:
        from ..document.macros import collect_macros, expand
        from ..document.regions import find_regions
    except ImportError:  # render used standalone
        return text
    macros = collect_macros(text) if "\\def" in text or "command" in text or "\\Declare" in text else {}
    if re.search(r"\$|\\\[|\\\(|\\begin\s*\{", text):
        parts = [r.text for r in find_regions(text, language)]
    else:
        parts = [text]
    if macros:
        parts = [expand(p, 0, macros).text for p in parts]
    return "\n".join(parts)


def detect_style(text: str, language: str = "latex") -> Style:
    """Read the notation a document uses (most frequent form wins).
    ``language`` (``latex`` | ``markdown``) tells where its math is; text without
    math delimiters is read as math."""
    return style_of_math(_math_text(text, language))


def style_of_math(math: str) -> Style:
    """``detect_style`` of a document's math, already found and macro-expanded."""
    d = DEFAULT

    marks: Counter = Counter()
    for rx in (_T_BRACED, _T_BARE):
        for m in rx.finditer(math):
            marks[_canon_mark(m.group(1))] += 1
    marks["'"] += len(_T_PRIME.findall(math))
    marks = Counter({k: v for k, v in marks.items() if v})

    trace = _best(_func_forms(math, "tr|Tr|trace|Trace"), "")
    det = _best(_func_forms(math, "det"), d.det)
    diag = _best(_func_forms(math, "diag"), "")
    Diag = _best(_func_forms(math, "Diag"), "")
    vec_forms = _func_forms(math, "vec")
    vec_forms.pop("\\vec", None)  # \vec is the arrow accent
    vec = _best(vec_forms, "")
    wrapper = trace or diag or Diag or vec or d.trace

    diff: Counter = Counter()
    for m in _DIFF.finditer(math):
        diff["\\mathrm{d}" if m.group(1) else "d" if m.group(2) else "\\partial"] += 1

    ones: Counter = Counter(f"\\{m.group(1)}{{1}}" for m in _ONES.finditer(math))
    ident: Counter = Counter(f"\\{m.group(1)}{{I}}" if m.group(1) else "I" for m in _IDENT.finditer(math))
    had: Counter = Counter("\\" + m.group(1) for m in _HAD.finditer(math))
    left = len(_LEFT.findall(math))
    plain = len(_PLAIN_OPEN.findall(math))

    return Style(
        transpose=_best(marks, d.transpose),
        trace=trace or _like(wrapper, "tr", d.trace),
        det=det,
        diag=diag or _like(wrapper, "diag", d.diag),
        Diag=Diag or _like(diag or wrapper, "Diag", d.Diag),
        vec=vec or _like(wrapper, "vec", d.vec),
        hadamard=_best(had, d.hadamard),
        differential=_best(diff, d.differential),
        ones=_best(ones, d.ones),
        identity=_best(ident, d.identity),
        left_right=left > plain,
    )
