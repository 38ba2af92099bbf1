"""Grid figures: fan-out against the emulator, replay from the store, metadata overhead.

    python benchmarks/bench_grid.py [--cells 48] [--concurrency 8] [--latency 1.0]

A grid of N cells at concurrency K against the emulator (loopback, through the official client,
``latency`` seconds per prediction) should take about ceil(N/K) x latency; the same grid replayed
from the store (cache="replay") should make no API call. Prints a table; ``measure()`` returns
the figures for other scripts (benchmarks/run.py may import it).
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.emulator import Emulator
from nb2.request.params import Params
from nb2.store import codec as metadata

FAKE_TOKEN = "r8_" + "0" * 37  # the emulator takes any token; never a real one here


def measure(cells: int = 48, concurrency: int = 8, latency: float = 1.0) -> dict[str, Any]:
    prompts = [f"a rooftop café in Lisbon at golden hour, variant {i}" for i in range(cells)]
    with tempfile.TemporaryDirectory() as tmp, Emulator(latency=latency) as emu:
        backend = nb2.ReplicateBackend(api_token=FAKE_TOKEN, base_url=emu.base_url)
        store = Path(tmp) / "runs"
        live = nb2.Session(backend=backend, store=store)
        grid = live.compare(prompt=prompts, resolution="1K")
        t0 = time.perf_counter()
        grid.run(max_concurrency=concurrency)
        wall = time.perf_counter() - t0
        made = len(emu.created)
        requests_before = len(emu.requests)
        # a new session (and a new Store object: hashes are verified again, as after a restart)
        replay = nb2.Session(backend=backend, store=store, cache="replay")
        again = replay.compare(prompt=prompts, resolution="1K")
        t0 = time.perf_counter()
        again.run(max_concurrency=concurrency)
        replay_wall = time.perf_counter() - t0
        return {
            "cells": cells,
            "concurrency": concurrency,
            "latency_s": latency,
            "ideal_s": math.ceil(cells / concurrency) * latency,
            "wall_s": wall,
            "succeeded": grid.counts().get("succeeded", 0),
            "predictions_created": made,
            "in_flight_max": emu.in_flight_max,
            "replay_s": replay_wall,
            "replay_cached": again.counts().get("cached", 0),
            "replay_api_requests": len(emu.requests) - requests_before,
            "replay_predictions_created": len(emu.created) - made,
            "metadata": metadata_overhead(),
        }


def metadata_overhead(n: int = 20) -> list[dict[str, Any]]:
    """Time and bytes that writing the metadata adds to one image (build + splice)."""
    rows = []
    for res, fmt in (("1K", "png"), ("1K", "jpg"), ("4K", "png"), ("4K", "jpg")):
        p = Params("a glass serum bottle on white marble", resolution=res, output_format=fmt)
        data = OfflineBackend().run(p).data
        record = {
            "run_id": "20260101T000000000000-00000000",
            "nb2_version": nb2.__version__,
            "kind": "generate",
            "params": p.to_dict(),
            "model": p.model,
            "backend": {"name": "offline", "offline": True},
        }
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            out = metadata.embed(data, metadata.build(record))
            times.append(time.perf_counter() - t0)
        rows.append(
            {
                "image": f"{res} {fmt}",
                "bytes": len(data),
                "added_bytes": len(out) - len(data),
                "ms": statistics.median(times) * 1000,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=48)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--latency", type=float, default=1.0)
    a = ap.parse_args()
    r = measure(a.cells, a.concurrency, a.latency)
    n, k = r["cells"], r["concurrency"]
    print(f"grid of {n} cells at concurrency {k}, emulator latency {r['latency_s']:.1f} s")
    print(f"{'figure':<44}{'value':>14}")
    rows = [
        ("fan-out wall time", f"{r['wall_s']:.2f} s"),
        (f"ideal (ceil({n}/{k}) x latency)", f"{r['ideal_s']:.2f} s"),
        ("wall / ideal", f"{r['wall_s'] / r['ideal_s']:.2f}x"),
        ("cells succeeded", str(r["succeeded"])),
        ("predictions created", str(r["predictions_created"])),
        ("most in flight at the emulator", str(r["in_flight_max"])),
        ("replay from the store (cache='replay')", f"{r['replay_s']:.3f} s"),
        ("replay: cells from the store", str(r["replay_cached"])),
        ("replay: API requests", str(r["replay_api_requests"])),
        ("replay: predictions created", str(r["replay_predictions_created"])),
    ]
    for name, value in rows:
        print(f"{name:<44}{value:>14}")
    print(f"\n{'metadata per image':<20}{'image bytes':>14}{'added bytes':>14}{'time':>12}")
    for m in r["metadata"]:
        print(f"{m['image']:<20}{m['bytes']:>14}{m['added_bytes']:>14}{m['ms']:>10.2f}ms")


if __name__ == "__main__":
    main()
