"""IR -> self-contained NumPy source: ``def f(X, A, i, j):\\n    return A @ X``.

Conventions of the generated code:
- it uses only the name ``np`` (``numpy``); run it with ``compile_numpy_function``
  or ``exec`` in a namespace holding ``np``;
- matrices are 2-D arrays and vectors are 2-D *columns* of shape (n, 1), so
  ``x.T @ A @ x`` is a (1, 1) array; scalar arguments may be floats;
- entry indices passed as extra arguments are 0-based (``i, j``); a literal
  index in the LaTeX (``X_{11}``) is 1-based and shifted;
- constants (``\\mathbf{1}_p``, ``I_n``, ``E_{ij}``, ``e_i``, ``0``) are built
  from the arguments' shapes through ``size_of`` (see ``sizes_from_arguments``).

A product multiplies its scalar factors with ``*`` and chains the rest with
``@``. Scalar-ness is known structurally (numbers, traces, determinants, norms,
``A:B``, entries, lowercase Greek names, ``a^\\top … b`` for lowercase vectors);
pass ``is_scalar`` (e.g. from the shape checker) for anything else that is 1×1.
"""

from __future__ import annotations

import inspect
import keyword
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from .. import ir
from ..ir import Expr
from .latex import flat_terms, is_negative, negate, primes, to_latex

SizeOf = Callable[..., "str | None"]  # size_of(node, axis) -> Python expression (axis 0 rows, 1 cols)
ScalarTest = Callable[[Expr], "bool | None"]  # None: use the structural rule

_ADD, _MUL, _UNARY, _POW, _ATOM = range(1, 6)

_FONT_SUFFIX = {"mathbf": "bf", "boldsymbol": "bf", "bm": "bf", "pmb": "bf", "textbf": "bf", "mathcal": "cal",
                "mathscr": "scr", "mathbb": "bb", "mathfrak": "frak", "mathsf": "sf", "mathrm": "rm",
                "mathit": "it", "mathtt": "tt"}
_ACCENTS = {"hat", "widehat", "tilde", "widetilde", "bar", "overline", "dot", "ddot", "vec", "check", "breve", "underline"}
_SCALAR_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "eta", "lambda", "mu", "nu", "rho",
                 "sigma", "tau", "kappa", "xi", "zeta", "omega", "phi", "varphi", "psi", "ell", "theta", "pi"}


# ------------------------------------------------------------------ names


def _name_parts(latex_name: str) -> tuple[str, str | None]:
    """(identifier, font suffix or None)."""
    font: str | None = None
    s = latex_name

    def repl_font(m: re.Match) -> str:
        nonlocal font
        cmd, inner = m.group(1), m.group(2)
        if cmd in _ACCENTS:
            return f"{inner}_{cmd}"
        if font is None:
            font = _FONT_SUFFIX.get(cmd)
        return inner

    prev = None
    while prev != s:  # innermost groups first
        prev = s
        s = re.sub(r"\\([A-Za-z]+)\s*\{([^{}]*)\}", repl_font, s)
    s = re.sub(r"\\([A-Za-z]+)", r"\1", s)  # \Sigma -> Sigma
    s = re.sub(r"[_^]", "_", s)
    s = re.sub(r"\W+", "_", s)
    s = re.sub(r"_+", "_", s).strip("_") or "v"
    if s[0].isdigit():
        s = "v_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s, font


def python_name(latex_name: str) -> str:
    """A Python identifier for a LaTeX name: ``\\mathbf{X}`` -> X, ``\\Sigma`` -> Sigma,
    ``W_{1}`` -> W_1, ``\\hat{x}`` -> x_hat, ``\\lambda`` -> lambda_."""
    return _name_parts(latex_name)[0]


def python_names(latex_names: Iterable[str]) -> dict[str, str]:
    """Clash-free identifiers: ``X`` and ``\\mathbf{X}`` become ``X`` and ``X_bf``."""
    names = list(dict.fromkeys(latex_names))
    parts = {n: _name_parts(n) for n in names}
    out: dict[str, str] = {}
    used: set[str] = set()
    # names without a font claim the plain identifier first
    for n in sorted(names, key=lambda n: parts[n][1] is not None):
        ident, font = parts[n]
        cand = ident if ident not in used else f"{ident}_{font}" if font else ident
        k = 2
        base = cand
        while cand in used:
            cand = f"{base}_{k}"
            k += 1
        used.add(cand)
        out[n] = cand
    return {n: out[n] for n in names}


# ------------------------------------------------------------------ sizes


def _size_text_to_python(size: Any, decls: Mapping[str, Sequence[tuple[str, int]]]) -> str | None:
    from ..sizes import parse_size, sp

    expr = parse_size(size) if isinstance(size, str) else size
    if expr is None:
        return None
    sympy = sp()
    expr = sympy.sympify(expr)
    subs = {}
    for s in expr.free_symbols:
        where = decls.get(s.name) or decls.get(s.name.replace(" ", ""))
        if not where:
            return None
        arg, axis = where[0]
        subs[s] = sympy.Symbol(f"{arg}.shape[{axis}]")
    return str(expr.xreplace(subs))


def sizes_from_arguments(decls: Mapping[str, Sequence[tuple[str, int]]],
                         shape_of: Callable[[Expr], Any] | None = None) -> SizeOf:
    """A ``size_of(node, axis)`` reading sizes off the arguments.

    ``decls`` maps a size symbol to the arguments having it as a dimension:
    ``{"n": [("X", 0)], "p": [("X", 1)]}`` makes ``\\mathbf{1}_p`` ->
    ``np.ones((X.shape[1], 1))``. Nodes without a written size (``E_{ij}``,
    ``e_i``, ``0``) need ``shape_of(node)``, returning an object with ``rows``,
    ``cols`` (``mcls.shapes.Shape``) or a (rows, cols) pair of sizes."""

    def size_of(node: Expr, axis: int = 0) -> str | None:
        written = getattr(node, "size", None) if isinstance(node, (ir.Ones, ir.Identity)) else None
        if written:
            if isinstance(node, ir.Ones) and axis == 1:
                return "1"
            return _size_text_to_python(written, decls)
        if shape_of is None:
            return None
        s = shape_of(node)
        if s is None:
            return None
        rows, cols = (s.rows, s.cols) if hasattr(s, "rows") else s
        return _size_text_to_python(rows if axis == 0 else cols, decls)

    return size_of


def size_table(arguments: Sequence[tuple[str, str]], shapes: Mapping[str, tuple[Any, Any]]) -> dict[str, list[tuple[str, int]]]:
    """``decls`` for ``sizes_from_arguments`` from each argument's (rows, cols) sizes
    (text such as ``"n"`` or sympy symbols), keyed by LaTeX name."""
    out: dict[str, list[tuple[str, int]]] = {}
    for py, latex in arguments:
        dims = shapes.get(latex)
        if not dims:
            continue
        for axis, d in enumerate(dims):
            name = d if isinstance(d, str) else getattr(d, "name", None)
            if name and re.fullmatch(r"\\?[A-Za-z]+(?:_\{?\w+\}?)?", name.strip()):
                out.setdefault(name.strip(), []).append((py, axis))
    return out


# ------------------------------------------------------------------ scalar-ness


def _vectorish(x: Expr) -> bool:
    """Lowercase names are vectors by convention (``x``, ``\\mathbf{b}``)."""
    if isinstance(x, (ir.Ones, ir.UnitVec)):
        return True
    if isinstance(x, ir.Sym):
        return re.fullmatch(r"(?:\\(?:mathbf|bm|boldsymbol)\{)?[a-z]\}?(?:_\{?\w+\}?)?", x.name) is not None
    return False


def structural_scalar(x: Expr, ask: ScalarTest | None = None) -> bool:
    if ask is not None:
        r = ask(x)
        if r is not None:
            return r

    def rec(e: Expr) -> bool:
        return structural_scalar(e, ask)

    if isinstance(x, (ir.Num, ir.Entry, ir.Frob, ir.Norm)):
        return True
    if isinstance(x, ir.Sym):
        m = re.fullmatch(r"\\([a-z]+)(?:_\{?\w+\}?)?", x.name)
        return m is not None and m.group(1) in _SCALAR_GREEK
    if isinstance(x, ir.Func):
        name = primes(x.name)[0]
        if name in ("tr", "det", "logdet"):
            return True
        return name not in ("diag", "Diag", "vec") and rec(x.arg)
    if isinstance(x, (ir.Neg, ir.Transpose, ir.Inverse)):
        return rec(x.x)
    if isinstance(x, ir.Power):
        return rec(x.base)
    if isinstance(x, ir.Div):
        return rec(x.num)
    if isinstance(x, ir.Add):
        return all(rec(t) for t in x.terms)
    if isinstance(x, ir.Mul):
        fs = x.factors
        if all(rec(f) for f in fs):
            return True
        return isinstance(fs[0], ir.Transpose) and _vectorish(fs[0].x) and _vectorish(fs[-1])
    return False


# ------------------------------------------------------------------ code generation


@dataclass(frozen=True)
class _P:
    text: str
    prec: int


class _Gen:
    def __init__(self, names: Mapping[str, str], size_of: SizeOf | None, is_scalar: ScalarTest | None):
        self.names = names
        self.size_of = size_of
        self.ask = is_scalar
        self.size_arity = len(inspect.signature(size_of).parameters) if size_of else 0

    def scalar(self, x: Expr) -> bool:
        return structural_scalar(x, self.ask)

    def at(self, x: Expr, prec: int) -> str:
        p = self.go(x)
        return p.text if p.prec >= prec else f"({p.text})"

    def go(self, x: Expr) -> _P:
        m = getattr(self, "g_" + type(x).__name__, None)
        if m is None:
            raise ValueError(f"cannot compute {to_latex(x)} numerically ({type(x).__name__})")
        return m(x)

    def dim(self, x: Expr, axis: int) -> str:
        d = None
        if self.size_of is not None:
            d = self.size_of(x, axis) if self.size_arity != 1 else self.size_of(x)
        if d is None:
            raise ValueError(f"size of {to_latex(x)} unknown: pass size_of (see sizes_from_arguments)")
        return d

    def index(self, t: str) -> str:
        t = t.strip().strip("{}")
        if t.isdigit():
            return str(int(t) - 1)
        toks = re.findall(r"\\[A-Za-z]+|[A-Za-z]\w*|\d+|[-+*]", t)
        return "".join(python_name(k) if k[0].isalpha() or k[0] == "\\" else k for k in toks) or t

    # -- leaves
    def g_Sym(self, x: ir.Sym) -> _P:
        if x.name not in self.names:
            raise ValueError(f"{x.name} is not among the arguments")
        return _P(self.names[x.name], _ATOM)

    def g_Num(self, x: ir.Num) -> _P:
        v = x.value
        if v.denominator == 1:
            return _P(str(v.numerator), _ATOM if v >= 0 else _UNARY)
        return _P(f"({v.numerator} / {v.denominator})", _ATOM)

    def g_Entry(self, x: ir.Entry) -> _P:
        j = self.index(x.j) if x.j is not None else "0"
        return _P(f"{self.at(x.of, _ATOM)}[{self.index(x.i)}, {j}]", _ATOM)

    def g_Basis(self, x: ir.Basis) -> _P:
        if x.i == x.j:  # E_kk is square: either side's size will do
            try:
                r = self.dim(x, 0)
            except ValueError:
                r = self.dim(x, 1)
            c = r
        else:
            r, c = self.dim(x, 0), self.dim(x, 1)
        return _P(f"np.outer(np.eye({r})[{self.index(x.i)}], np.eye({c})[{self.index(x.j)}])", _ATOM)

    def g_UnitVec(self, x: ir.UnitVec) -> _P:
        return _P(f"np.eye({self.dim(x, 0)})[:, [{self.index(x.i)}]]", _ATOM)

    def g_Ones(self, x: ir.Ones) -> _P:
        return _P(f"np.ones(({self.dim(x, 0)}, 1))", _ATOM)

    def g_Identity(self, x: ir.Identity) -> _P:
        return _P(f"np.eye({self.dim(x, 0)})", _ATOM)

    def g_Zero(self, x: ir.Zero) -> _P:
        try:
            return _P(f"np.zeros(({self.dim(x, 0)}, {self.dim(x, 1)}))", _ATOM)
        except ValueError:
            return _P("0", _ATOM)  # broadcasts in sums

    def g_Opaque(self, x: ir.Opaque) -> _P:
        if x.text == "pinv" and len(x.args) == 1:
            return _P(f"np.linalg.pinv({self.go(x.args[0]).text})", _ATOM)
        raise ValueError(f"cannot compute {to_latex(x)} numerically")

    def g_Chain(self, x: ir.Chain) -> _P:
        if len(x.parts) == 1:
            return self.go(x.parts[0])
        raise ValueError("cannot compute a relation numerically; pass one side")

    # -- operators
    def g_Add(self, x: ir.Add) -> _P:
        terms = flat_terms(x)
        text = self.at(terms[0], _ADD)
        for t in terms[1:]:
            if is_negative(t):
                text += " - " + self.at(negate(t), _MUL)
            else:
                text += " + " + self.at(t, _MUL)
        return _P(text, _ADD)

    def g_Neg(self, x: ir.Neg) -> _P:
        return _P("-" + self.at(x.x, _UNARY), _UNARY)

    def g_Mul(self, x: ir.Mul) -> _P:
        scal = [f for f in x.factors if self.scalar(f)]
        arr = [f for f in x.factors if not self.scalar(f)]
        parts = [self.at(f, _MUL + 1) for f in scal]
        text = " * ".join(parts)
        if arr:
            chain = " @ ".join(self.at(f, _MUL + 1) for f in arr)
            text = f"{text} * {chain}" if text else chain
        return _P(text, _MUL)

    def g_Div(self, x: ir.Div) -> _P:
        return _P(f"{self.at(x.num, _MUL)} / {self.at(x.den, _MUL + 1)}", _MUL)

    def g_Hadamard(self, x: ir.Hadamard) -> _P:
        return _P(f"{self.at(x.a, _MUL)} * {self.at(x.b, _MUL + 1)}", _MUL)

    def g_HadamardDiv(self, x: ir.HadamardDiv) -> _P:
        return _P(f"{self.at(x.a, _MUL)} / {self.at(x.b, _MUL + 1)}", _MUL)

    def g_Kron(self, x: ir.Kron) -> _P:
        return _P(f"np.kron({self.go(x.a).text}, {self.go(x.b).text})", _ATOM)

    def g_Frob(self, x: ir.Frob) -> _P:
        return _P(f"np.sum({self.at(x.a, _MUL)} * {self.at(x.b, _MUL + 1)})", _ATOM)

    def g_Transpose(self, x: ir.Transpose) -> _P:
        if self.scalar(x.x):
            return self.go(x.x)
        return _P(self.at(x.x, _ATOM) + ".T", _ATOM)

    def g_Inverse(self, x: ir.Inverse) -> _P:
        if self.scalar(x.x):
            return _P(f"1 / {self.at(x.x, _MUL + 1)}", _MUL)
        return _P(f"np.linalg.inv({self.go(x.x).text})", _ATOM)

    def g_Power(self, x: ir.Power) -> _P:
        if self.scalar(x.base):
            return _P(f"{self.at(x.base, _ATOM)} ** {self.at(x.exp, _UNARY)}", _POW)
        if isinstance(x.exp, ir.Num) and x.exp.value.denominator == 1:
            return _P(f"np.linalg.matrix_power({self.go(x.base).text}, {x.exp.value.numerator})", _ATOM)
        raise ValueError(f"matrix power {to_latex(x)} needs an integer exponent")

    def g_Norm(self, x: ir.Norm) -> _P:
        arg = self.go(x.x).text
        if self.scalar(x.x):
            return _P(f"np.abs({arg})", _ATOM)
        kind = x.kind
        if kind in (None, "F"):
            return _P(f"np.linalg.norm({arg})", _ATOM)
        ords = {"2": "2", "1": "1", "inf": "np.inf", "\\infty": "np.inf", "*": "'nuc'", "nuc": "'nuc'"}
        if kind not in ords:
            raise ValueError(f"unknown norm {to_latex(x)}")
        return _P(f"np.linalg.norm({arg}, {ords[kind]})", _ATOM)

    def g_Func(self, x: ir.Func) -> _P:
        name, k = primes(x.name)
        a = self.go(x.arg).text
        z = self.at(x.arg, _UNARY)  # operand inside arithmetic
        if k == 0:
            if name == "tr":
                return self.go(x.arg) if self.scalar(x.arg) else _P(f"np.trace({a})", _ATOM)
            if name == "det":
                return self.go(x.arg) if self.scalar(x.arg) else _P(f"np.linalg.det({a})", _ATOM)
            if name == "logdet":
                return _P(f"np.log(np.abs({a}))", _ATOM) if self.scalar(x.arg) else _P(f"np.linalg.slogdet({a})[1]", _ATOM)
            if name == "diag":
                if _vectorish(x.arg):
                    return _P(f"np.diagflat({a})", _ATOM)
                return _P(f"np.diag({a}).reshape(-1, 1)", _ATOM)
            if name == "Diag":
                return _P(f"np.diagflat({a})", _ATOM)
            if name == "vec":
                return _P(f"{self.at(x.arg, _ATOM)}.reshape(-1, 1, order='F')", _ATOM)
            simple = {"exp": "np.exp", "log": "np.log", "tanh": "np.tanh", "sin": "np.sin", "cos": "np.cos",
                      "sqrt": "np.sqrt", "abs": "np.abs"}
            if name in simple:
                return _P(f"{simple[name]}({a})", _ATOM)
            if name == "sigma":
                return _P(f"1 / (1 + np.exp(-{z}))", _MUL)
            if name == "relu":
                return _P(f"np.maximum({a}, 0)", _ATOM)
            if name == "softplus":
                return _P(f"np.logaddexp(0, {a})", _ATOM)
        if k == 1:
            d1 = {
                "sigma": (f"np.exp(-{z}) / (1 + np.exp(-{z})) ** 2", _MUL),
                "tanh": (f"1 - np.tanh({a}) ** 2", _ADD),
                "exp": (f"np.exp({a})", _ATOM),
                "log": (f"1 / {z}", _MUL),
                "sin": (f"np.cos({a})", _ATOM),
                "cos": (f"-np.sin({a})", _UNARY),
                "sqrt": (f"0.5 / np.sqrt({a})", _MUL),
                "relu": (f"({a} > 0) * 1.0", _MUL),
                "softplus": (f"1 / (1 + np.exp(-{z}))", _MUL),
                "abs": (f"np.sign({a})", _ATOM),
            }
            if name in d1:
                return _P(*d1[name])
        raise ValueError(f"no NumPy form for {to_latex(x)}")


def to_numpy_function(expr: Expr, name: str, arguments: Sequence[tuple[str, str]], extra: Sequence[str] = (),
                      size_of: SizeOf | None = None, is_scalar: ScalarTest | None = None) -> str:
    """Python source ``def name(<arguments>, <extra>):\\n    return …`` computing ``expr``.

    ``arguments`` pairs a Python identifier with the LaTeX name of the symbol
    it carries (``[("X", "\\\\mathbf{X}"), ("A", "A")]``); ``extra`` are further
    parameters, such as 0-based entry indices ``i``, ``j``. ``size_of(node, axis)``
    gives a Python expression for a constant's dimension. Raises ValueError for
    what has no numeric meaning here (differentials, unknown symbols, opaque text).
    """
    params = [py for py, _ in arguments] + list(extra)
    for p in [name] + params:
        if not p.isidentifier() or keyword.iskeyword(p):
            raise ValueError(f"not a Python identifier: {p!r}")
    if len(set(params)) != len(params):
        raise ValueError("parameter names repeat")
    gen = _Gen({latex: py for py, latex in arguments}, size_of, is_scalar)
    body = gen.go(expr).text
    return f"def {name}({', '.join(params)}):\n    return {body}\n"


def compile_numpy_function(source: str, name: str | None = None) -> Callable[..., Any]:
    """Execute generated source with ``np`` bound; return the function."""
    import numpy

    ns: dict[str, Any] = {"np": numpy}
    exec(compile(source, "<mcls numpy>", "exec"), ns)  # noqa: S102 - our own generated code
    if name is None:
        m = re.match(r"def (\w+)", source)
        if m is None:
            raise ValueError("no function in source")
        name = m.group(1)
    return ns[name]
