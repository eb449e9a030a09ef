from fractions import Fraction

import pytest

from mcls import ir
from mcls.parse import parse_expr, parse_math


def one(src: str) -> ir.Expr:
    return parse_expr(src)


@pytest.mark.parametrize(
    "src",
    [r"X^\top", "X^T", r"X^{\mathsf T}", r"X^{\mathsf{T}}", "X'", r"X^\intercal", r"X^{\top}"],
)
def test_transpose_spellings(src):
    assert one(src) == ir.Transpose(ir.Sym("X"))


def test_juxtaposition_is_product_and_spans_are_exact():
    src = r"M = AXX^\top A^\top"
    ch = one(src)
    assert ch.ops == ("=",)
    rhs = ch.parts[1]
    assert rhs == ir.Mul((ir.Sym("A"), ir.Sym("X"), ir.Transpose(ir.Sym("X")), ir.Transpose(ir.Sym("A"))))
    assert src[slice(*rhs.span)] == r"AXX^\top A^\top"
    assert src[slice(*rhs.factors[2].span)] == r"X^\top"


def test_inverse_and_inverse_transpose():
    assert one("X^{-1}") == ir.Inverse(ir.Sym("X"))
    assert one(r"X^{-\top}") == ir.Inverse(ir.Transpose(ir.Sym("X")))


def test_fonts_are_part_of_the_name():
    e = one(r"\mathbf{x}^\top x")
    assert e.factors[0] == ir.Transpose(ir.Sym(r"\mathbf{x}"))
    assert e.factors[1] == ir.Sym("x")
    assert one(r"\mathbf X") == ir.Sym(r"\mathbf{X}")


def test_hadamard_ones_and_sizes():
    e = one(r"(\mathbf{X} \odot \mathbf{A}) \mathbf{1}_p")
    assert e == ir.Mul((ir.Hadamard(ir.Sym(r"\mathbf{X}"), ir.Sym(r"\mathbf{A}")), ir.Ones("p")))
    assert one(r"X \circ A") == ir.Hadamard(ir.Sym("X"), ir.Sym("A"))


def test_partial_fraction_and_nabla():
    d = one(r"\frac{\partial M}{\partial X_{ij}}")
    assert d == ir.Derivative(ir.Sym("M"), ir.Indexed(ir.Sym("X"), "ij"))
    d2 = one(r"\frac{\partial}{\partial X} \operatorname{tr}(AX)")
    assert isinstance(d2, ir.Derivative) and d2.wrt == ir.Sym("X")
    assert d2.f == ir.Func("tr", ir.Mul((ir.Sym("A"), ir.Sym("X"))))
    assert one(r"\nabla_X f") == ir.Derivative(ir.Sym("f"), ir.Sym("X"))


def test_functions_and_norms():
    assert one(r"\log\det X") == ir.Func("logdet", ir.Sym("X"))
    assert one(r"\mathrm{Tr}(X)") == ir.Func("tr", ir.Sym("X"))
    assert one(r"\|X\|_F^2") == ir.Power(ir.Norm(ir.Sym("X"), "F"), ir.Num(Fraction(2)))
    assert one(r"\left\| Ax - b \right\|_2") == ir.Norm(
        ir.Add((ir.Mul((ir.Sym("A"), ir.Sym("x"))), ir.Neg(ir.Sym("b")))), "2"
    )
    assert one(r"\sigma(Z)") == ir.Func("sigma", ir.Sym("Z"))


def test_differentials():
    assert one("dX") == ir.Differential(ir.Sym("X"))
    assert one(r"\mathrm{d}X") == ir.Differential(ir.Sym("X"))
    e = one(r"d(X^{-1})")
    assert e == ir.Differential(ir.Inverse(ir.Sym("X")))
    # `d` inside sizes is a size, not a differential
    ch = one(r"x \in \mathbb{R}^{d \times d}")
    assert ch.parts[1] == ir.Space("d", "d")


def test_declaration_lists():
    ch = one(r"X, Y \in \mathbb{R}^{n\times p}")
    assert ch.ops == ("\\in",)
    assert ch.parts[0] == ir.Tuple((ir.Sym("X"), ir.Sym("Y")))
    assert ch.parts[1] == ir.Space("n", "p")


def test_align_rows_continue_the_chain():
    pm = parse_math("f &= a \\\\ &= b \\\\ g &= c")
    sts = pm.math.statements
    assert len(sts) == 2
    assert sts[0].ops == ("=", "=") and sts[1].ops == ("=",)


@pytest.mark.parametrize("bad", [r"X^{", r"\left( X", "A +", r"\frac{A}", "}", "$", "\x00\x01junk"])
def test_bad_input_gives_an_issue_not_an_exception(bad):
    pm = parse_math(bad)
    assert pm.issues or pm.math.statements is not None
    for issue in pm.issues:
        assert 0 <= issue.span[0] <= issue.span[1] <= max(len(bad), 1)


def test_unknown_commands_are_opaque_and_reported():
    pm = parse_math(r"\foo X")
    assert pm.unknown and pm.unknown[0][0] == r"\foo"


def test_deep_nesting_does_not_crash():
    src = "(" * 500 + "X" + ")" * 500
    pm = parse_math(src)
    assert pm.issues or pm.math.statements


def test_decorated_relations():
    """`\\stackrel`/`\\overset` over a relation: a definition mark makes a definition, a
    label is a step of the base relation, a question mark stays a question."""
    from mcls.parse import parse_math

    def ops(src: str) -> tuple[str, ...]:
        pm = parse_math(src)
        assert not pm.issues, pm.issues
        return pm.math.statements[0].ops

    assert ops(r"f \stackrel{\text{def}}{=} x") == (":=",)
    assert ops(r"f \stackrel{\mathrm{def}}{=} x") == (":=",)
    assert ops(r"g \overset{\Delta}{=} x") == (":=",)
    assert ops(r"a \overset{(a)}{=} b \overset{\text{(b)}}{=} c") == ("=", "=")
    assert ops(r"a \stackrel{(i)}{\le} b") == ("\\le",)
    assert ops(r"a \stackrel{?}{=} b") == ("\\stackrel{?}{=}",)
