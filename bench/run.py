"""mcls benchmarks: the budgets of DESIGN.md, measured end to end.

    python bench/run.py [--quick] [--regions 2000] [--seed 0] [--json bench/results.json]

Prints a table and writes bench/results.json. Every figure is the median of
repeated runs; where it helps, it is also given as a ratio to a baseline
measured in the same run (machines are noisy, ratios less so):

  initialize           spawn `python -m mcls serve`, send initialize, first response
                       (baseline: `python -c "import pygls.lsp.server"`, the floor
                       of any pygls server's startup)
  open -> diagnostics  didOpen of the generated paper -> its publishDiagnostics
  hover p50 / p95      200 hovers at random math positions of the warm paper,
                       request -> response over stdio (baseline: an unknown
                       request answered by pygls with MethodNotFound, the
                       protocol's own round trip)
  keystroke            incremental didChange of one character inside one equation
                       region -> publishDiagnostics for that version (the server's
                       debounce is part of it and shown as the baseline)
  keystroke (decl)     the same inside a declaration, which changes the scope
                       (informational: every region's shapes are re-checked)
  mcls check (cold)    subprocess wall time of `python -m mcls check paper.tex`
                       (baseline: `python -c pass`)
  server peak RSS      VmHWM of the server after opening the paper and hovering

If bench/calculus_vs_sympy.py exists it is run too (see README.md for its hook).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from gen_paper import generate  # noqa: E402
from lspclient import Session, percentile, tex_positions  # noqa: E402
from provenance import git_commit  # noqa: E402

TARGETS = {
    "initialize": 0.5,
    "hover_p95": 0.050,
    "keystroke": 0.050,
    "check_cold": 2.0,
    "peak_rss_mb": 300.0,
}


# ---------------------------------------------------------------- helpers


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def wall(cmd: list[str], runs: int, cwd: Path | None = None) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - t0)
    return out


def math_offsets(text: str, language: str = "latex"):
    """(regions, kinds): content spans of every region, and which are declarations."""
    from mcls.document.regions import find_regions

    regions = find_regions(text, language)
    return regions


# ---------------------------------------------------------------- measurements


async def measure_initialize(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        s = Session()
        t0 = time.perf_counter()
        await s.start()
        await s.initialize()
        times.append(time.perf_counter() - t0)
        await s.close()
    return times


async def measure_session(text: str, path: Path, hovers: int, keystrokes: int, seed: int) -> dict:
    """One server: open the paper, hover, type. Returns raw timings."""
    rng = random.Random(seed)
    regions = math_offsets(text)
    position = tex_positions(text)
    uri = path.as_uri()

    s = Session()
    await s.start()
    await s.initialize()
    rss_before = s.rss_kb()

    fut = s.diagnostics_future(uri, 1)
    t0 = time.perf_counter()
    s.open(uri, text)
    t1 = await s.wait_diagnostics(fut)
    open_time = t1 - t0
    n_diags = len(next(p for _, p in s.published if p.uri == uri and p.version == 1).diagnostics)

    # Protocol round trip without analysis (baseline for hover).
    for _ in range(5):
        await s.ping()
    pings = []
    for _ in range(50):
        t0 = time.perf_counter()
        await s.ping()
        pings.append(time.perf_counter() - t0)

    # Hovers at random positions inside math content.
    picks = []
    for _ in range(hovers + 10):
        r = rng.choice(regions)
        if r.end <= r.start:
            continue
        picks.append(position(rng.randrange(r.start, r.end)))
    warm, picks = picks[:10], picks[10 : 10 + hovers]
    for line, col in warm:  # first hovers import the feature modules
        await s.hover(uri, line, col)
    hover_times, answered = [], 0
    for line, col in picks:
        t0 = time.perf_counter()
        result = await s.hover(uri, line, col)
        hover_times.append(time.perf_counter() - t0)
        answered += result is not None

    # Keystrokes: one character inserted inside an equation region (not a
    # declaration), each waited for; then the same inside declarations.
    version = 1
    cur = text
    key_times: list[float] = []
    decl_times: list[float] = []

    def is_decl(r) -> bool:
        return "\\in" in r.text and "mathbb" in r.text

    eq_regions = [i for i, r in enumerate(regions) if r.display and not is_decl(r)]
    decl_regions = [i for i, r in enumerate(regions) if is_decl(r)]
    # Offsets stay right because each edit is applied to our copy and the
    # region is found again by index (a space or a letter never adds or
    # removes a region).
    def region_span(i: int, doc: str):
        from mcls.document.regions import find_regions

        return find_regions(doc, "latex")[i]

    async def keystroke(i: int, sink: list[float]) -> None:
        nonlocal version, cur
        r = region_span(i, cur)
        # A position just after a top-level symbol letter, inside the content.
        offset = rng.randrange(r.start, max(r.start + 1, r.end))
        ch = rng.choice(" x")
        line, col = tex_positions(cur)(offset)
        version += 1
        cur = cur[:offset] + ch + cur[offset:]
        fut = s.diagnostics_future(uri, version)
        t0 = time.perf_counter()
        s.change(uri, version, line, col, ch)
        t1 = await s.wait_diagnostics(fut)
        sink.append(t1 - t0)

    for i in rng.sample(eq_regions, min(keystrokes, len(eq_regions))):
        await keystroke(i, key_times)
    for i in rng.sample(decl_regions, min(max(3, keystrokes // 3), len(decl_regions))):
        await keystroke(i, decl_times)

    peak = s.peak_rss_kb()
    code = await s.close()
    return {
        "open": open_time,
        "diagnostics": n_diags,
        "ping": pings,
        "hover": hover_times,
        "hover_answered": answered,
        "keystroke": key_times,
        "keystroke_decl": decl_times,
        "rss_idle_kb": rss_before,
        "peak_rss_kb": peak,
        "exit_code": code,
        "stderr_tail": bytes(s.stderr[-2000:]).decode("utf-8", "replace"),
    }


def run_calculus_hook(quick: bool) -> dict | None:
    """bench/calculus_vs_sympy.py, if present: ``run(quick) -> list[dict]`` rows
    (each at least {"name", "value", "unit"}), else run as a script."""
    hook = HERE / "calculus_vs_sympy.py"
    if not hook.exists():
        return None
    spec = importlib.util.spec_from_file_location("calculus_vs_sympy", hook)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
        if hasattr(mod, "run"):
            return {"rows": mod.run(quick=quick)}
        args = [sys.executable, str(hook)] + (["--quick"] if quick else [])
        p = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=1800)
        return {"rows": [], "stdout": p.stdout, "returncode": p.returncode}
    except Exception as exc:  # a broken hook must not lose the other results
        return {"rows": [], "error": f"{type(exc).__name__}: {exc}"}


# ---------------------------------------------------------------- main


def fmt_time(x: float) -> str:
    if x != x:
        return "-"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="mcls benchmarks (see bench/README.md)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (about 30 s instead of a few minutes)")
    ap.add_argument("--regions", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hovers", type=int, default=200)
    ap.add_argument("--json", default=str(HERE / "results.json"), help="where to write the results")
    args = ap.parse_args(argv)

    reps = {
        "startup": 5 if args.quick else 15,
        "initialize": 3 if args.quick else 9,
        "check": 3 if args.quick else 7,
        "sessions": 1 if args.quick else 3,
        "keystrokes": 10 if args.quick else 30,
    }
    text, n_regions = generate(args.regions, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="mcls-bench-"))
    paper = tmp / "paper.tex"
    paper.write_text(text, encoding="utf-8")
    print(f"paper: {n_regions} regions, {len(text):,} characters, {text.count(chr(10)) + 1:,} lines ({paper})", file=sys.stderr)

    py = sys.executable
    print("baselines ...", file=sys.stderr)
    base_python = wall([py, "-c", "pass"], reps["startup"])
    base_pygls = wall([py, "-c", "import pygls.lsp.server, lsprotocol.types"], reps["startup"])

    print("initialize ...", file=sys.stderr)
    init = asyncio.run(measure_initialize(reps["initialize"]))

    print("mcls check (cold) ...", file=sys.stderr)
    check = wall([py, "-m", "mcls", "check", str(paper)], reps["check"], cwd=tmp)

    sessions = []
    for k in range(reps["sessions"]):
        print(f"session {k + 1}/{reps['sessions']}: open, {args.hovers} hovers, keystrokes ...", file=sys.stderr)
        sessions.append(asyncio.run(measure_session(text, paper, args.hovers, reps["keystrokes"], args.seed + k)))

    def per_session(key, fn):
        return median([fn(s[key]) for s in sessions if s[key]])

    rows = []

    def row(name, value, unit, target=None, baseline=None, baseline_name=None, note=""):
        ok = None if target is None or value != value else value <= target
        ratio = value / baseline if baseline and value == value else None
        rows.append({
            "name": name, "value": value, "unit": unit, "target": target, "ok": ok,
            "ratio": ratio, "baseline": baseline, "baseline_name": baseline_name, "note": note,
        })

    from mcls.lsp.server import DEBOUNCE_SECONDS

    b_py, b_pygls = median(base_python), median(base_pygls)
    ping = per_session("ping", median)
    row("baseline: python -c pass", b_py, "s")
    row("baseline: import pygls.lsp.server", b_pygls, "s")
    row("baseline: protocol round trip (MethodNotFound)", ping, "s")
    row("initialize -> first response", median(init), "s", TARGETS["initialize"], b_pygls, "pygls import")
    row("didOpen paper -> publishDiagnostics", per_session("open", lambda x: x), "s",
        note=f"{sessions[0]['diagnostics']} diagnostics")
    answered = sum(s["hover_answered"] for s in sessions)
    total = sum(len(s["hover"]) for s in sessions)
    hover_note = f"{answered}/{total} hovers answered"
    row("hover p50 (warm paper)", per_session("hover", lambda x: percentile(x, 50)), "s", None, ping, "round trip", hover_note)
    row("hover p95 (warm paper)", per_session("hover", lambda x: percentile(x, 95)), "s", TARGETS["hover_p95"], ping, "round trip", hover_note)
    row("keystroke -> diagnostics (median)", per_session("keystroke", median), "s", TARGETS["keystroke"],
        DEBOUNCE_SECONDS, "debounce")
    row("keystroke -> diagnostics (p95)", per_session("keystroke", lambda x: percentile(x, 95)), "s", None,
        DEBOUNCE_SECONDS, "debounce")
    row("keystroke in a declaration (median)", per_session("keystroke_decl", median), "s", None,
        DEBOUNCE_SECONDS, "debounce", "scope changes: all regions re-checked")
    row("mcls check paper.tex (cold)", median(check), "s", TARGETS["check_cold"], b_py, "python -c pass")
    peak = median([s["peak_rss_kb"] for s in sessions if s["peak_rss_kb"]]) / 1024 if any(s["peak_rss_kb"] for s in sessions) else float("nan")
    idle = median([s["rss_idle_kb"] for s in sessions if s["rss_idle_kb"]]) / 1024 if any(s["rss_idle_kb"] for s in sessions) else None
    row("server peak RSS (paper open)", peak, "MB", TARGETS["peak_rss_mb"], idle, "RSS after initialize")

    calculus = run_calculus_hook(args.quick)
    if calculus:
        for r in calculus.get("rows", []):
            rows.append({"target": None, "ok": None, "ratio": None, "baseline": None, "baseline_name": None, "note": "", **r,
                         "name": f"calculus: {r.get('name', '?')}"})

    print_table(rows)
    if answered == 0:
        print("\nwarning: the server answered no hover; the hover figures measure an empty round trip.", file=sys.stderr)
    bad_exit = [s["exit_code"] for s in sessions if s["exit_code"] not in (0, None)]
    if bad_exit:
        print(f"\nwarning: server exit codes {bad_exit}; stderr tail:\n{sessions[0]['stderr_tail']}", file=sys.stderr)

    result = {
        "meta": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "quick": args.quick,
            "regions": n_regions,
            "characters": len(text),
            "seed": args.seed,
            "repetitions": reps,
            "hovers_per_session": args.hovers,
        },
        "rows": rows,
        "raw": {
            "python_startup": base_python,
            "pygls_import": base_pygls,
            "initialize": init,
            "check_cold": check,
            "sessions": [{k: v for k, v in s.items() if k != "stderr_tail"} for s in sessions],
        },
        "calculus": calculus,
    }
    Path(args.json).write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


def print_table(rows: list[dict]) -> None:
    w = max(len(r["name"]) for r in rows)
    head = f"{'metric':<{w}}  {'value':>10}  {'target':>9}  {'ok':>4}  {'ratio':>20}  note"
    print(head)
    print("-" * len(head))
    for r in rows:
        unit = r.get("unit", "")
        v = r["value"]
        if unit == "s":
            vs, ts = fmt_time(v), (fmt_time(r["target"]) if r["target"] is not None else "")
        else:
            vs = f"{v:.1f} {unit}" if isinstance(v, (int, float)) else str(v)
            ts = f"{r['target']:.0f} {unit}" if r["target"] is not None else ""
        ok = "" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        ratio = f"{r['ratio']:.1f}x {r['baseline_name']}" if r.get("ratio") else ""
        print(f"{r['name']:<{w}}  {vs:>10}  {ts:>9}  {ok:>4}  {ratio:>20}  {r.get('note', '')}")


if __name__ == "__main__":
    raise SystemExit(main())
