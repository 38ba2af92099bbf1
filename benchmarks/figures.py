"""The measurements behind ``benchmarks/run.py``: nb2 against the official client by hand.

Every figure runs against nb2's emulator on loopback; the baseline is the ``replicate`` client
used the way its README shows (``replicate.run`` / create, poll, download), pointed at the same
emulator with the same fake token. Each function returns rows for the table.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import replicate

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.emulator import Emulator
from nb2.request.params import Params

TOKEN = "r8_bench" + "0" * 32  # fake, recognisable; the emulator accepts any token
MODEL = "google/nano-banana-2"
PROMPT = "a glass serum bottle on white marble, soft light from the right"


@dataclass
class Row:
    figure: str
    nb2: str
    baseline: str
    ratio: str  # ratio / target, as text
    met: str  # yes | no | - (no target)
    raw: dict[str, Any]


def _median(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _client(emu: Emulator) -> replicate.Client:
    return replicate.Client(api_token=TOKEN, base_url=emu.base_url)


def _by_hand(client: replicate.Client, prompt: str) -> bytes:
    """The baseline: ``replicate.run`` then fetch the URL (nb2 downloads and stores too)."""
    url = client.run(MODEL, input={"prompt": prompt, "output_format": "jpg"})
    return httpx.get(str(url)).content


def _grid_prompts(n: int) -> list[str]:
    return [f"{PROMPT}, variant {i}" for i in range(n)]


# -- 1 and 4: grid fan-out, then replay ----------------------------------------------------------
def grid(quick: bool, cells: int = 48, conc: int = 8, latency: float = 1.0) -> list[Row]:
    ideal = math.ceil(cells / conc) * latency
    rows = []
    with Emulator(latency=latency) as emu, tempfile.TemporaryDirectory() as tmp:
        backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emu.base_url)
        store = Path(tmp) / "runs"
        s = nb2.Session(backend=backend, store=store)
        s.generate("warm-up", output_format="jpg")  # imports and first connection off the clock
        g = s.compare(prompt=_grid_prompts(cells), output_format="jpg")
        t0 = time.perf_counter()
        g.run(max_concurrency=conc)
        nb2_wall = time.perf_counter() - t0
        ok = g.counts() == {"succeeded": cells}

        client = _client(emu)
        _by_hand(client, "warm-up by hand")
        n_loop = conc if quick else cells
        t0 = time.perf_counter()
        for p in _grid_prompts(n_loop):
            _by_hand(client, "loop " + p)
        loop_wall = (time.perf_counter() - t0) * cells / n_loop
        t0 = time.perf_counter()
        with ThreadPoolExecutor(conc) as pool:
            list(pool.map(lambda p: _by_hand(client, "threads " + p), _grid_prompts(cells)))
        threads_wall = time.perf_counter() - t0

        ratio = ideal / nb2_wall
        loop_note = f" (extrapolated from {n_loop})" if n_loop != cells else ""
        rows.append(
            Row(
                f"1 grid {cells} cells, latency {latency:g}s, x{conc}: wall",
                f"{nb2_wall:.2f} s" + ("" if ok else f" {g.counts()}"),
                f"loop {loop_wall:.1f} s{loop_note}; {conc} threads {threads_wall:.2f} s",
                f"ideal {ideal:.0f} s / nb2 = {ratio:.3f} (target >= 0.95); "
                f"vs loop x{loop_wall / nb2_wall:.1f}, vs threads x{threads_wall / nb2_wall:.2f}",
                "yes" if ratio >= 0.95 and ok else "no",
                {
                    "cells": cells,
                    "ideal_s": ideal,
                    "nb2_s": nb2_wall,
                    "loop_s": loop_wall,
                    "loop_extrapolated_from": n_loop,
                    "threads_s": threads_wall,
                    "ideal_over_nb2": ratio,
                    "all_succeeded": ok,
                },
            )
        )

        creates = len(emu.created)
        replay = nb2.Session(backend=backend, store=store, cache="replay")
        t0 = time.perf_counter()
        g2 = replay.compare(prompt=_grid_prompts(cells), output_format="jpg")
        g2.run(max_concurrency=conc)
        replay_wall = time.perf_counter() - t0
        calls = len(emu.created) - creates
        ok2 = g2.counts() == {"cached": cells}
        met = replay_wall < 2.0 and calls == 0 and ok2
        rows.append(
            Row(
                f"4 replay of the {cells}-cell grid from the store",
                f"{replay_wall:.2f} s, {calls} API calls" + ("" if ok2 else f" {g2.counts()}"),
                f"by hand: {threads_wall:.1f} s and {cells} paid calls again",
                "target < 2 s and 0 calls",
                "yes" if met else "no",
                {"replay_s": replay_wall, "api_calls": calls, "all_cached": ok2},
            )
        )
    return rows


# -- 2: overhead per image at zero latency --------------------------------------------------------
def overhead(quick: bool) -> list[Row]:
    n = 8 if quick else 20
    with Emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emu.base_url)
        s = nb2.Session(backend=backend, store=Path(tmp) / "runs", cache="off")
        client = _client(emu)

        def bare() -> bytes:
            pred = client.models.predictions.create(
                model=MODEL, input={"prompt": PROMPT, "output_format": "jpg"}, wait=10
            )
            while pred.status not in ("succeeded", "failed", "canceled"):
                time.sleep(0.05)
                pred.reload()
            return httpx.get(str(pred.output)).content

        s.generate("warm-up", output_format="jpg")
        bare()
        nb2_s = _median(lambda: s.generate(PROMPT, output_format="jpg"), n)
        bare_s = _median(bare, n)
    extra = (nb2_s - bare_s) * 1000
    return [
        Row(
            f"2 one image at latency 0 (median of {n})",
            f"{nb2_s * 1000:.0f} ms incl. store",
            f"{bare_s * 1000:.0f} ms create/poll/download",
            f"nb2/baseline {nb2_s / bare_s:.2f} ({extra:+.0f} ms per image)",
            "-",
            {"nb2_s": nb2_s, "bare_s": bare_s, "runs": n},
        )
    ]


# -- 3: notebook weight ---------------------------------------------------------------------------
def notebook_weight(quick: bool) -> list[Row]:
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import Image

    fmt = InteractiveShell.instance().display_formatter

    def size(obj: Any) -> int:
        data, meta = fmt.format(obj)
        out = nbformat.v4.new_output("display_data", data=data, metadata=meta)
        return len(json.dumps(out, indent=1))  # nbformat writes indent=1

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        s = nb2.Session(backend=OfflineBackend(), store=Path(tmp) / "runs")
        for res in ("1K", "4K"):
            r = s.generate(PROMPT, resolution=res, aspect_ratio="16:9")  # png, the default
            ours, theirs = size(r), size(Image(filename=str(r.path)))
            rows.append(
                Row(
                    f"3 notebook bytes per result, {res} png",
                    f"{ours / 1024:.0f} KB",
                    f"IPython Image {theirs / 1024:.0f} KB",
                    f"x{theirs / ours:.0f} lighter (target <= 100 KB)",
                    "yes" if ours <= 100 * 1024 else "no",
                    {"nb2_bytes": ours, "ipython_image_bytes": theirs, "resolution": res},
                )
            )
    return rows


# -- 5: %load_ext nb2 in a fresh interpreter -------------------------------------------------------
_LOAD_EXT = textwrap.dedent("""
    import time
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    t0 = time.perf_counter()
    shell.run_line_magic("load_ext", "nb2")
    print(time.perf_counter() - t0)
""")


def load_ext(quick: bool) -> list[Row]:
    n = 3 if quick else 7
    times = []
    for _ in range(n):
        out = subprocess.run(
            [sys.executable, "-c", _LOAD_EXT], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    med = statistics.median(times)
    return [
        Row(
            f"5 %load_ext nb2, fresh IPython shell (median of {n})",
            f"{med * 1000:.0f} ms",
            "-",
            "target < 300 ms",
            "yes" if med < 0.3 else "no",
            {"median_s": med, "all_s": times},
        )
    ]


# -- 6: offline render ------------------------------------------------------------------------
def render(quick: bool) -> list[Row]:
    backend = OfflineBackend()
    n = 3 if quick else 5
    rows = []
    for res in ("1K", "2K", "4K"):
        for fmt in ("jpg", "png"):
            p = Params(PROMPT, resolution=res, aspect_ratio="16:9", output_format=fmt)
            backend.run(p)
            sec = _median(lambda p=p: backend.run(p), n)
            w, h = p.pixel_size()
            rows.append(
                Row(
                    f"6 offline render {res} 16:9 {fmt} ({w}x{h})",
                    f"{sec * 1000:.0f} ms",
                    "-",
                    "-",
                    "-",
                    {"seconds": sec, "resolution": res, "format": fmt},
                )
            )
    return rows


# -- 7: memory over a long edit chain --------------------------------------------------------
# A new user's session as typed: one 4K image, then 20 edits, in a fresh interpreter, with no
# warm-up edit (the first edit is where the kernel grew) and no gc.collect() anywhere.
_MEMORY = textwrap.dedent("""
    import json, sys, tempfile
    import nb2

    def rss_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    with tempfile.TemporaryDirectory() as tmp:
        s = nb2.Session(backend=nb2.OfflineBackend(), store=tmp)
        s.generate("a lighthouse", resolution="4K")
        before = rss_kb()
        peak = before
        for i in range(int(sys.argv[1])):
            s.edit(f"make it warmer {i}")
            peak = max(peak, rss_kb())
        after = rss_kb()
    print(json.dumps({"before_kb": before, "after_kb": after, "peak_kb": peak}))
""")
MEMORY_EDITS = 20
MEMORY_TARGET_MB = 50


def memory(quick: bool) -> list[Row]:
    n = MEMORY_EDITS  # the figure is 20 edits in both modes (about 12 s)
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(n)], capture_output=True, text=True, check=True
    )
    m = json.loads(out.stdout.strip().splitlines()[-1])
    growth = (m["after_kb"] - m["before_kb"]) / 1024
    peak = (m["peak_kb"] - m["before_kb"]) / 1024
    return [
        Row(
            f"7 RSS growth over {n} 4K edits, no gc.collect() (offline)",
            f"{growth:.0f} MB (peak +{peak:.0f} MB)",
            "-",
            f"target <= {MEMORY_TARGET_MB} MB",
            "yes" if growth <= MEMORY_TARGET_MB else "no",
            {**m, "edits": n, "growth_mb": growth, "peak_growth_mb": peak},
        )
    ]


FIGURES: list[Callable[[bool], list[Row]]] = [
    grid,
    overhead,
    notebook_weight,
    load_ext,
    render,
    memory,
]


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
