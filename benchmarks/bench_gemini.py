"""Gemini API figures: nb2 against the google-genai SDK by hand, and a grid as one batch.

    python benchmarks/bench_gemini.py           # 30 single images each way, a 48-cell batch
    python benchmarks/bench_gemini.py --quick   # 8 each way, a 16-cell batch

Everything runs against the Gemini emulator on loopback (in this process, so its rendering
shares the CPU with the client). (a) One image at zero latency: nb2's ``Session.generate``
(validation, the record journaled before sending, the image and the model's turn stored, the
record with usage and exact cost) against the SDK's ``generate_content`` and the image written
to disk by hand; medians, interleaved. (b) A grid as one Batch API job, the emulator's job
taking ``--batch-latency`` seconds: the time to submit (g.run() called to the job's name
journaled on every run, split into its phases by wrapping the backend's batch calls), the time
to collect (the job's end at the emulator to the last stored cell, split into noticing the end,
which waits for nb2's next look at the job, and the download and storing), and the price: the
plan live and as a batch, and the stored cells' exact cost from their tokens. Prints a table and
writes benchmarks/results/gemini.json (gemini-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # run.py sits next to this file

import nb2
from nb2.emulator import GeminiEmulator
from nb2.models import token_cost
from run import machine

KEY = "emulator-key"  # the emulator takes any key; never a real one here
RESOLUTION = "1K"


def single(n: int) -> dict[str, Any]:
    """Median seconds of one 1K image, nb2 against the SDK by hand, at zero latency."""
    from google import genai
    from google.genai import types

    with tempfile.TemporaryDirectory() as tmp, GeminiEmulator() as emu:
        s = nb2.Session(backend=nb2.GeminiBackend(api_key=KEY, base_url=emu.base_url),
                        store=Path(tmp) / "runs", cache="off")  # fmt: skip
        client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=emu.base_url))
        config = types.GenerateContentConfig(  # what nb2 asks for, so both get the same answer
            response_modalities=["TEXT", "IMAGE"],
            candidate_count=1,
            image_config=types.ImageConfig(aspect_ratio="1:1", image_size=RESOLUTION),
            thinking_config=types.ThinkingConfig(thinking_level="MINIMAL"),
        )
        out = Path(tmp) / "by-hand"
        out.mkdir()

        def by_hand(prompt: str, i: int) -> None:
            answer = client.models.generate_content(
                model="gemini-3.1-flash-image", contents=prompt, config=config
            )
            for part in answer.candidates[0].content.parts:
                if part.inline_data is not None and not part.thought:
                    (out / f"{i}.jpg").write_bytes(part.inline_data.data)

        def with_nb2(prompt: str, i: int) -> None:
            s.generate(prompt, resolution=RESOLUTION, aspect_ratio="1:1")

        times: dict[str, list[float]] = {"nb2": [], "sdk": []}
        for i in range(-1, n):  # the first of each warms up (imports, connections): not counted
            for name, fn in (("nb2", with_nb2), ("sdk", by_hand)):
                prompt = f"a lighthouse on a cliff at dawn, variant {i}, {name}"
                t0 = time.perf_counter()
                fn(prompt, i)
                if i >= 0:
                    times[name].append(time.perf_counter() - t0)
        nb2_s, sdk_s = statistics.median(times["nb2"]), statistics.median(times["sdk"])
        return {"n": n, "resolution": RESOLUTION, "nb2_ms": nb2_s * 1000, "sdk_ms": sdk_s * 1000,
                "overhead_ms": (nb2_s - sdk_s) * 1000,
                "nb2_max_ms": max(times["nb2"]) * 1000,
                "sdk_max_ms": max(times["sdk"]) * 1000}  # fmt: skip


class Clock:
    """The moments of a batch run, on the emulator's clock (time.monotonic)."""

    def __init__(self, backend: nb2.GeminiBackend, store: nb2.Store) -> None:
        self.marks: dict[str, float] = {}
        self.saves: list[float] = []
        submit, state, results, save = (backend.batch_submit, backend.batch_state,
                                        backend.batch_results, store.save)  # fmt: skip

        def timed_submit(*a: Any, **kw: Any) -> str:
            self.marks["submit_called"] = time.monotonic()
            job = submit(*a, **kw)
            self.marks["submit_returned"] = time.monotonic()
            return job

        def timed_state(job: str) -> dict[str, Any]:
            got = state(job)
            self.marks.setdefault("first_state", time.monotonic())
            if got["state"] in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"):
                self.marks.setdefault("end_seen", time.monotonic())
            return got

        def timed_results(file: str) -> dict[str, Any]:
            got = results(file)
            self.marks["downloaded"] = time.monotonic()
            return got

        def timed_save(record: dict[str, Any]) -> Any:
            done = save(record)
            self.saves.append(time.monotonic())
            return done

        backend.batch_submit, backend.batch_state = timed_submit, timed_state  # type: ignore[method-assign]
        backend.batch_results, store.save = timed_results, timed_save  # type: ignore[method-assign]


def batch(cells: int, latency: float) -> dict[str, Any]:
    """A ``cells``-cell grid (prompts x 512/1K) as one Batch API job, its phases and price."""
    prompts = [f"a rooftop café in Lisbon at golden hour, variant {i}" for i in range(cells // 2)]
    with tempfile.TemporaryDirectory() as tmp, GeminiEmulator(batch_latency=latency) as emu:
        backend = nb2.GeminiBackend(api_key=KEY, base_url=emu.base_url)
        s = nb2.Session(backend=backend, store=Path(tmp) / "runs")
        g = s.compare(prompt=prompts, resolution=["512", "1K"], aspect_ratio="4:3")
        live_plan, batch_plan = g.plan(), g.plan(batch=True)
        clock = Clock(backend, s.store)
        t0 = time.monotonic()
        g.run(batch=True)
        t_end = time.monotonic()
        (job,) = emu.batches.values()
        job_end = job.end(emu.clock())
        m = clock.marks
        last_save = max(clock.saves)
        results = [c.result for c in g.cells if c.result is not None]
        exact = sum(r.record["cost"] for r in results)
        same_live = sum(token_cost(r.params.model, r.record["usage"]) for r in results)
        return {
            "cells": len(g.cells),
            "succeeded": g.counts().get("succeeded", 0),
            "batch_latency_s": latency,
            "submit_s": m["first_state"] - t0,
            "journal_pending_s": m["submit_called"] - t0,
            "upload_and_create_s": m["submit_returned"] - m["submit_called"],
            "journal_job_s": m["first_state"] - m["submit_returned"],
            "job_s": job_end - job.created,
            "collect_s": last_save - job_end,
            "notice_s": m["end_seen"] - job_end,
            "download_s": m["downloaded"] - m["end_seen"],
            "store_s": last_save - m["downloaded"],
            "run_s": t_end - t0,
            "plan_live_usd": live_plan.cost,
            "plan_batch_usd": batch_plan.cost,
            "exact_batch_usd": exact,
            "same_tokens_live_usd": same_live,
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="8 images each way, a 16-cell batch")
    ap.add_argument("--batch-latency", type=float, default=2.0)
    a = ap.parse_args(argv)
    n, cells = (8, 16) if a.quick else (30, 48)
    t0 = time.perf_counter()
    one = single(n)
    b = batch(cells, a.batch_latency)
    rows = [
        (f"one {RESOLUTION} image, nb2 Session.generate (median of {n})",
         f"{one['nb2_ms']:.0f} ms"),
        ("  the SDK's generate_content + the image to disk", f"{one['sdk_ms']:.0f} ms"),
        ("  nb2's overhead (store, journal, record)", f"{one['overhead_ms']:+.0f} ms"),
        (f"batch of {b['cells']} cells: submit (run() to job name journaled)",
         f"{b['submit_s']:.2f} s"),
        ("  journal the pending runs", f"{b['journal_pending_s']:.2f} s"),
        ("  upload the requests file + create the job", f"{b['upload_and_create_s']:.2f} s"),
        ("  journal the job's name on every run", f"{b['journal_job_s']:.2f} s"),
        (f"  the job at the emulator (batch_latency {b['batch_latency_s']:.1f} s)",
         f"{b['job_s']:.2f} s"),
        ("collect (the job's end to the last stored cell)", f"{b['collect_s']:.2f} s"),
        ("  noticing the end (nb2 looks every 2 s)", f"{b['notice_s']:.2f} s"),
        ("  download the responses file", f"{b['download_s']:.2f} s"),
        ("  store every cell", f"{b['store_s']:.2f} s"),
        ("cells succeeded", f"{b['succeeded']} of {b['cells']}"),
        ("price: g.plan().cost (live)", f"${b['plan_live_usd']:.4f}"),
        ("price: g.plan(batch=True).cost", f"${b['plan_batch_usd']:.4f}"),
        ("price: the stored cells' exact cost", f"${b['exact_batch_usd']:.4f}"),
        ("  the same tokens, live", f"${b['same_tokens_live_usd']:.4f}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows) + 2
    print(f"{'figure':<{width}}{'value':>12}")
    for name, value in rows:
        print(f"{name:<{width}}{value:>12}")
    took = time.perf_counter() - t0
    print(f"\nmachine: {machine()}; {took:.0f} s; {'--quick' if a.quick else 'full'} run")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    path = out / ("gemini-quick.json" if a.quick else "gemini.json")
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path.write_text(json.dumps({"when": when, "machine": machine(), "quick": a.quick,
                                "seconds": took, "single": one, "batch": b}, indent=1))  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
