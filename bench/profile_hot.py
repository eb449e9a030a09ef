"""Where the keystroke and hover time goes, in process (no stdio).

    python bench/profile_hot.py [--regions 2000] [--keystrokes 20] [--cprofile keystroke|hover|open] [--top 25]

Replays what the server does after a one-character didChange on the generated
paper, stage by stage, with the server's own classes and functions:

  apply_change   pygls applies the incremental edit to its TextDocument (mcls's
                 _LspTextDocument, whose ``lines`` re-splits the whole text)
  position_map   PositionMap(text) for the new version (LineIndex)
  analysis       mcls.lsp.server._check -> analysis.check_document_cached
  to_diagnostic  Problem -> lsprotocol Diagnostic, for every problem
  serialize      cattrs unstructure + json.dumps of the publishDiagnostics message

and for hover: analysis.hover on the warm document. ``--cprofile`` prints the
top functions by cumulative time for one of the stages.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_paper import generate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--regions", type=int, default=2000)
    ap.add_argument("--keystrokes", type=int, default=20)
    ap.add_argument("--hovers", type=int, default=100)
    ap.add_argument("--cprofile", choices=["keystroke", "hover", "open"])
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)

    from lsprotocol import types
    from pygls.protocol import default_converter

    from mcls import analysis
    from mcls.document.regions import find_regions
    from mcls.lsp.convert import PositionMap, to_diagnostic
    from mcls.lsp.server import _check, _LspTextDocument

    text, _ = generate(args.regions)
    rng = random.Random(1)
    converter = default_converter()
    uri = "file:///paper.tex"

    prof = cProfile.Profile() if args.cprofile else None

    t0 = time.perf_counter()
    if prof and args.cprofile == "open":
        prof.enable()
    _check(text, "latex", "/paper.tex")
    if prof and args.cprofile == "open":
        prof.disable()
    print(f"open (cold analysis, in process): {1000 * (time.perf_counter() - t0):.0f} ms")

    doc = _LspTextDocument(uri, text, version=1, language_id="latex")
    stages: dict[str, list[float]] = {k: [] for k in ("apply_change", "position_map", "analysis", "to_diagnostic", "serialize", "total")}
    for k in range(args.keystrokes):
        cur = doc.source
        # One character inside a random display equation (not a declaration), as run.py does.
        r = rng.choice([r for r in find_regions(cur, "latex") if r.display and "\\in" not in r.text])
        offset = rng.randrange(r.start, r.end)
        pm_old = PositionMap(cur)
        pos = pm_old.position(offset)
        change = types.TextDocumentContentChangePartial(range=types.Range(start=pos, end=pos), text="x")

        t_all = time.perf_counter()
        if prof and args.cprofile == "keystroke":
            prof.enable()
        t = time.perf_counter()
        doc.apply_change(change)
        doc.version = k + 2
        stages["apply_change"].append(time.perf_counter() - t)
        new = doc.source
        t = time.perf_counter()
        pm = PositionMap(new)
        stages["position_map"].append(time.perf_counter() - t)
        t = time.perf_counter()
        problems = _check(new, "latex", "/paper.tex")
        stages["analysis"].append(time.perf_counter() - t)
        t = time.perf_counter()
        diags = [to_diagnostic(p, pm, uri) for p in problems]
        stages["to_diagnostic"].append(time.perf_counter() - t)
        t = time.perf_counter()
        msg = converter.unstructure(types.PublishDiagnosticsNotification(
            params=types.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=k + 2)))
        json.dumps(msg)
        stages["serialize"].append(time.perf_counter() - t)
        if prof and args.cprofile == "keystroke":
            prof.disable()
        stages["total"].append(time.perf_counter() - t_all)

    print(f"\nkeystroke stages over {args.keystrokes} edits (median / max, ms); {len(problems)} problems:")
    for name, xs in stages.items():
        print(f"  {name:<14} {1000 * statistics.median(xs):8.2f} {1000 * max(xs):8.2f}")

    # Hover on the warm document.
    cur = doc.source
    regs = find_regions(cur, "latex")
    times = []
    analysis.hover(cur, "latex", regs[0].start, None, "/paper.tex")  # imports
    for _ in range(args.hovers):
        r = rng.choice(regs)
        off = rng.randrange(r.start, max(r.start + 1, r.end))
        if prof and args.cprofile == "hover":
            prof.enable()
        t = time.perf_counter()
        analysis.hover(cur, "latex", off, None, "/paper.tex")
        times.append(time.perf_counter() - t)
        if prof and args.cprofile == "hover":
            prof.disable()
    times.sort()
    print(f"\nhover (in process) over {args.hovers}: p50 {1000 * times[len(times) // 2]:.2f} ms, "
          f"p95 {1000 * times[int(len(times) * 0.95) - 1]:.2f} ms, max {1000 * times[-1]:.2f} ms")

    if prof:
        out = io.StringIO()
        st = pstats.Stats(prof, stream=out).sort_stats("cumulative")
        st.print_stats(args.top)
        print(f"\ncProfile ({args.cprofile}), by cumulative time:")
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(f"\ncProfile ({args.cprofile}), by own time:")
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
