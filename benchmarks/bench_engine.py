"""Engine figures: offline render time per resolution, and one emulator-backed generate.

    python benchmarks/bench_engine.py

Prints a table (median of N runs) and writes benchmarks/results/engine.json.
"""

from __future__ import annotations

import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.emulator import Emulator
from nb2.params import Params

PROMPT = "a glass serum bottle on white marble, soft light from the right"


def median_time(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    rows = []
    backend = OfflineBackend()
    for res in ("1K", "2K", "4K"):
        for fmt in ("jpg", "png"):
            p = Params(PROMPT, resolution=res, aspect_ratio="16:9", output_format=fmt)
            rows.append(
                (f"offline render {res} 16:9 {fmt}", median_time(lambda p=p: backend.run(p), 5))
            )
    with Emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        b = nb2.ReplicateBackend(api_token="bench", base_url=emu.base_url)
        s = nb2.Session(backend=b, store=Path(tmp) / "runs", cache="off")
        s.generate("warm-up")
        rows.append(
            (
                "emulator generate 1K jpg (latency 0, incl. store)",
                median_time(lambda: s.generate(PROMPT), 10),
            )
        )
        so = nb2.Session(backend=backend, store=Path(tmp) / "off", cache="off")
        rows.append(
            ("offline generate 1K jpg (incl. store)", median_time(lambda: so.generate(PROMPT), 10))
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  median ms")
    for name, sec in rows:
        print(f"{name:<{width}}  {sec * 1000:9.1f}")
    print(
        f"machine: {platform.machine()}, {platform.python_version()}, "
        f"{__import__('os').cpu_count()} cores"
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "engine.json").write_text(json.dumps({n: s for n, s in rows}, indent=1))


if __name__ == "__main__":
    main()
