"""nb2 against the official client by hand, side by side, in one run.

    python benchmarks/run.py           # the full figures (about three minutes)
    python benchmarks/run.py --quick   # fewer repeats; the plain loop is extrapolated

The store at scale (a 10,000-run store: index rebuild, find, resume, the gallery's page) comes
from outlives.py; judging (diff, the duel) has its own script, bench_judging.py.
Prints a table (figure, nb2, baseline, ratio/target, met) and writes
benchmarks/results/run.json (run-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # figures.py sits next to this file

import figures
import money
import outlives


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()}"


def table(rows: list[figures.Row]) -> str:
    head = ("figure", "nb2", "baseline (client by hand)", "ratio / target", "met")
    cells = [head] + [(r.figure, r.nb2, r.baseline, r.ratio, r.met) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, extrapolate the loop")
    args = ap.parse_args(argv)
    rows: list[figures.Row] = []
    t0 = time.perf_counter()
    for fig in [*figures.FIGURES, money.interrupts, outlives.figures]:
        print(f"... {fig.__name__}", file=sys.stderr, flush=True)
        rows += fig(args.quick)
    took = time.perf_counter() - t0
    print(table(rows))
    print(f"\nmachine: {machine()}; {took:.0f} s; {'--quick' if args.quick else 'full'} run")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    path = out / ("run-quick.json" if args.quick else "run.json")
    path.write_text(
        json.dumps(
            {
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": machine(),
                "quick": args.quick,
                "seconds": took,
                "rows": figures.as_json(rows),
            },
            indent=1,
        )
    )
    print(f"written: {path}")
    missed = [r.figure for r in rows if r.met == "no"]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
