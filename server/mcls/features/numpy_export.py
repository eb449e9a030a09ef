"""NumPy code for a derivation: the function's arguments in order, constants
built from the arguments' shapes (shared by the code action and ``mcls grad``)."""

from __future__ import annotations

from .. import ir
from ..scope import Scope
from . import derive


def arguments(dv: derive.Derivation, scope: Scope) -> list[tuple[str, str]]:
    """(python name, LaTeX name) of every symbol of f, in order of appearance: the declared
    ones and those whose shape mcls inferred from their use (all are inputs of the code)."""
    from ..render.numpy_code import python_names

    names = derive.free_symbols(dv.f)
    if dv.wrt.name not in names:
        names.insert(0, dv.wrt.name)
    py = python_names(names)
    return [(py[n], n) for n in names]


def numpy_source(dv: derive.Derivation, scope: Scope, name: str | None = None) -> str:
    from ..calculus import shapes_for
    from ..render.numpy_code import size_table, sizes_from_arguments, to_numpy_function

    args = arguments(dv, scope)
    # The result has the shape of f (component) or of X (gradient): say so, so that
    # context-sized constants in it (`e_i`, `E_ij`) get their sizes.
    like = dv.f if (dv.index is not None or dv.kind != "scalar") else dv.wrt
    st = shapes_for(dv.result, scope, dv.f, dv.wrt, same=[(dv.result, like)])
    dims = {latex: (str(scope.decls[latex].rows), str(scope.decls[latex].cols)) for _, latex in args if latex in scope.decls}
    size_of = sizes_from_arguments(size_table(args, dims), st.get)

    def is_scalar(x: ir.Expr):
        s = st.get(x)
        return None if s is None else (s.rows == 1 and s.cols == 1)

    # Free indices (`k` of `y_k = e_k^T …`) become 0-based parameters after the arguments.
    extra: list[str] = []
    if dv.index is not None:
        extra += [e for e in dv.index if e]
    for node in list(dv.f.walk()) + list(dv.result.walk()):
        idx = ()
        if isinstance(node, ir.Basis):
            idx = (node.i, node.j)
        elif isinstance(node, ir.UnitVec):
            idx = (node.i,)
        elif isinstance(node, ir.Entry):
            idx = (node.i, node.j)
        for e in idx:
            if e and e.isidentifier() and e not in extra:
                extra.append(e)
    fn = name or ("gradient" if dv.kind == "scalar" and dv.index is None else "component")
    return to_numpy_function(dv.result, fn, args, extra=extra, size_of=size_of, is_scalar=is_scalar)
