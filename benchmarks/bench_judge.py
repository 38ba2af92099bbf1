"""The judge's throughput and cost per image: a 48-cell grid judged over the Gemini API's
emulator (the official SDK, loopback HTTP), each call taking ``--latency`` seconds as a vision
model's answer would, at 1, 8 and 16 calls at once; at 8 with the model decomposing the three
prompts first (``questions="model"``: three more calls, before their images are asked); and the
offline stand-in judge.

    python benchmarks/bench_judge.py               # latency 1.5 s
    python benchmarks/bench_judge.py --latency 3

The latency is a knob, not a measured figure of Google's API (none was reachable here).
Prints a table: judge, questions, at once, wall time, images per second, cost per image (the
decompositions included).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nb2
from nb2.emulator import GeminiEmulator

RATIOS = ["1:1", "16:9", "3:2", "9:16", "2:3", "4:3", "3:4", "21:9"]
PROMPTS = ["a red fox on a log", "two green apples in a bowl", "a boat at night"]


def grid(s: nb2.Session) -> object:
    return s.compare(prompt=PROMPTS, resolution=["1K", "2K"], aspect_ratio=RATIOS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=1.5)
    args = ap.parse_args()
    rows = []
    with GeminiEmulator() as emu:
        b = nb2.GeminiBackend(api_key="AIza-bench-0123456789", base_url=emu.base_url)
        for width, questions in ((1, "rules"), (8, "rules"), (16, "rules"), (8, "model")):
            root = Path(tempfile.mkdtemp()) / "runs"
            g = grid(nb2.Session(backend=b, store=root))
            g.run()
            emu.faults.latency = args.latency
            judge = nb2.Judge("gemini-3.8-flash", backend=b, questions=questions)
            t0 = time.perf_counter()
            report = nb2.Session(backend=b, store=root).judge(
                [(c.labels, c.result) for c in g.cells], judge, max_concurrency=width
            )
            wall = time.perf_counter() - t0
            cost = (report.cost or 0.0) / len(report)
            rows.append(("gemini-3.8-flash", questions, width, wall, len(report) / wall, cost))
            emu.faults.latency = 0.0
    s = nb2.Session(store=Path(tempfile.mkdtemp()) / "runs")
    g = grid(s)
    g.run()
    t0 = time.perf_counter()
    report = g.judge()
    wall = time.perf_counter() - t0
    rows.append(("offline", "rules", 1, wall, len(report) / wall, 0.0))
    print(f"48-cell grid, emulator latency {args.latency} s per judge call")
    print(f"{'judge':18} {'questions':9} {'at once':>7} {'wall s':>8} {'images/s':>9} "
          f"{'$/image':>9}")  # fmt: skip
    for name, questions, width, wall, rate, cost in rows:
        print(f"{name:18} {questions:9} {width:7d} {wall:8.2f} {rate:9.2f} {cost:9.5f}")


if __name__ == "__main__":
    main()
