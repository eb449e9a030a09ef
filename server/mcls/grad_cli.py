"""``mcls grad EXPR --wrt V [--where DECL]… [--assume NAME=KIND]… [--json]``.

A stable contract (tests and other tools rely on it): the same derivation the
hover shows, as text for people or one JSON object. Exit 1 when the expression
does not parse, is ill-shaped or is not differentiable w.r.t. V.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from . import ir
from .parse import parse_math
from .scope import Scope, declarations_in, resolve, symbol_name
from .sizes import size_text

KINDS = {"symmetric", "spd", "invertible", "orthogonal", "diagonal", "constant", "psd"}


class GradError(ValueError):
    pass


def _one_statement(latex: str, what: str) -> ir.Chain:
    pm = parse_math(latex)
    if pm.issues:
        raise GradError(f"cannot read {what} {latex!r}: {pm.issues[0].message}")
    if len(pm.math.statements) != 1:
        raise GradError(f"expected one {what}, got {len(pm.math.statements)}: {latex!r}")
    return pm.math.statements[0]


def build_scope(where: list[str], assume: list[str]) -> Scope:
    scope = Scope()
    for w in where:
        pm = parse_math(w)
        if pm.issues:
            raise GradError(f"cannot read --where {w!r}: {pm.issues[0].message}")
        found = [d for st in pm.math.statements for d in declarations_in(st)]
        if not found:
            raise GradError(f"--where {w!r} declares nothing (write e.g. 'X \\in \\mathbb{{R}}^{{n\\times m}}')")
        for d in found:
            scope.declare(d)
    for a in assume:
        name, _, kind = a.partition("=")
        kind = kind.strip().lower()
        if not name or kind not in KINDS:
            raise GradError(f"--assume {a!r}: expected NAME=KIND with KIND one of {', '.join(sorted(KINDS))}")
        st = _one_statement(name.strip(), "--assume name")
        nm = symbol_name(st.parts[0])
        scope.assumptions.setdefault(nm or name.strip(), set()).add(kind)
    return scope


def compute(expr: str, wrt: str, where: list[str], assume: list[str], layout: str = "denominator") -> dict[str, Any]:
    from .calculus import NotDifferentiable, isolated, jacobian, shapes_for
    from .features import derive
    from .features.numpy_export import arguments, numpy_source
    from .render.latex import to_latex
    from .render.unicode import to_unicode
    from .shapes import ShapeChecker

    scope = build_scope(where, assume)
    stmt = resolve(_one_statement(expr, "expression"), scope)
    name, f = derive.split_statement(stmt)
    chk = ShapeChecker(isolated(scope), expr)
    chk.check(stmt)
    if chk.res.problems:
        p = chk.res.problems[0]
        raise GradError(f"{p.code}: {p.message}")
    v = resolve(_one_statement(wrt, "--wrt variable").parts[0], scope)
    index = None
    if isinstance(v, ir.Entry) and isinstance(v.of, ir.Sym):
        index = (v.i, v.j)
        v = v.of
    vname = symbol_name(v) if isinstance(v, (ir.Sym, ir.Indexed)) else None
    if vname is None:
        raise GradError(f"--wrt {wrt!r} is not a symbol")
    if vname not in scope.decls:
        raise GradError(f"{wrt} is not declared: add --where '{wrt} \\in \\mathbb{{R}}^{{…}}'")
    try:
        dv = derive.derive(stmt, vname, scope, index=index, layout=layout)
    except derive.DeriveError as e:
        raise GradError(str(e)) from e
    if not dv.verified.ok:
        raise GradError(f"the derivative could not be verified numerically ({dv.verified.reason}); mcls does not report unverified results")

    args = arguments(dv, scope)
    out: dict[str, Any] = {
        "kind": dv.kind,
        "arguments": [
            {"name": py, "latex": latex, "shape": [size_text(scope.decls[latex].rows), size_text(scope.decls[latex].cols)]}
            for py, latex in args
        ],
        "differential": {"latex": to_latex(ir.Chain((ir.Differential(dv.name) if isinstance(dv.name, ir.Sym) else ir.Differential(dv.f), dv.differential), ("=",)))},
    }
    part = {"latex": derive.result_latex(dv), "unicode": derive.result_unicode(dv)}
    try:
        part["numpy"] = numpy_source(dv, scope)
    except (ValueError, KeyError) as e:
        part["numpy"] = None
        part["numpy_error"] = str(e)
    out["gradient" if dv.kind == "scalar" and dv.index is None else "component"] = part
    if dv.kind != "scalar" and index is None:
        try:
            st = shapes_for(f, scope)
            J = jacobian(f, dv.wrt, st)
            from . import verify

            vj = verify.verify_jacobian(f, dv.wrt, J, scope)
            if vj.ok:
                out["jacobian"] = {"latex": to_latex(J)}
                try:
                    from .render.numpy_code import compile_numpy_function  # noqa: F401
                    from .features.numpy_export import numpy_source as _ns

                    out["jacobian"]["numpy"] = _ns(derive.Derivation("scalar", dv.name, f, dv.wrt, dv.differential, J, J, None, dv.verified), scope, name="jacobian")
                except (ValueError, KeyError):
                    out["jacobian"]["numpy"] = None
        except (NotDifferentiable, ValueError, KeyError):
            pass
    out["verified"] = {"ok": dv.verified.ok, "max_rel_error": dv.verified.max_rel_error, "trials": dv.verified.trials}
    out["layout"] = layout
    del to_unicode
    return out


def run(args: Any) -> int:
    try:
        res = compute(args.expr, args.wrt, list(args.where or []), list(args.assume or []), getattr(args, "layout", None) or "denominator")
    except GradError as e:
        print(f"mcls grad: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - a one-line message, never a traceback
        print(f"mcls grad: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps(res, ensure_ascii=False, indent=2))
        return 0
    main = res.get("gradient") or res.get("component")
    print(main["unicode"])
    print(main["latex"])
    print("d: " + res["differential"]["latex"])
    if "jacobian" in res:
        print("Jacobian ∂vec F/∂(vec X)ᵀ: " + res["jacobian"]["latex"])
    v = res["verified"]
    print(f"✓ verified numerically (max rel. error {v['max_rel_error']:.1e}, {v['trials']} trials); {res['layout']} layout")
    return 0
