"""The money figures: how fast a real Ctrl-C reaches the API as a cancel, and what it costs.

Twenty real SIGINTs (``os.kill(os.getpid(), SIGINT)``, as Jupyter sends them) at random moments of
single runs against the emulator (latency 2 s, sync hold 10 s): for each, the time from the signal
to the cancel's arrival at the server, whether a paid image was lost (the prediction succeeded at
the server but its run is not stored as succeeded), and whether anything was created twice.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nb2
from nb2.emulator import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests/sigint.py
from tests.sigint import sigint_at

TOKEN = "r8_" + "b" * 37


def _interrupt_one(s: nb2.Session, prompt: str, delay: float) -> float | None:
    """One run with a SIGINT after ``delay`` s; the signal's time (None if it came too late)."""
    with sigint_at(delay) as sent, contextlib.suppress(KeyboardInterrupt):
        s.generate(prompt)
    return sent[0] if sent else None


def interrupts(quick: bool, n: int = 20, latency: float = 2.0) -> list[Any]:
    from figures import Row  # benchmarks/ is on sys.path when run.py runs

    n = 8 if quick else n
    rng = random.Random(2026)
    lags: list[float] = []
    with Emulator(latency=latency) as emu, tempfile.TemporaryDirectory() as tmp:
        backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emu.base_url, wait=10)
        s = nb2.Session(backend=backend, store=Path(tmp) / "runs")
        s.generate("warm-up")
        finished = dupes = 0
        for i in range(n):
            before = set(emu.created)
            sent = _interrupt_one(s, f"interrupt me {i}", rng.uniform(0.05, latency + 0.3))
            new = [p for p in emu.created if p not in before]
            dupes += max(0, len(new) - 1)  # one run, one prediction
            for pid in new:
                if pid in emu.cancel_times and sent is not None:
                    lags.append(emu.cancel_times[pid] - sent)
                elif pid not in emu.canceled:
                    finished += 1
        time.sleep(latency + 0.5)  # every prediction at its end at the server
        records = {r.get("prediction_id"): r for r in s.store.records()}
        lost = sum(
            1
            for pid in emu.created
            if emu.predictions[pid].status == "succeeded"
            and (records.get(pid) or {}).get("status") != "succeeded"
        )
    worst = max(lags, default=0.0)
    met = bool(lags) and worst < 1.0 and lost == 0 and dupes == 0
    return [
        Row(
            f"8 Ctrl-C (real SIGINT) to cancel at the API, {n} runs at random moments",
            f"max {worst * 1000:.0f} ms, median {statistics.median(lags or [0]) * 1000:.0f} ms "
            f"({len(lags)} canceled, {finished} finished first and stored)",
            "replicate.run: never cancels (the prediction runs on, billed)",
            f"target < 1000 ms each; paid images lost {lost}, duplicate creates {dupes}",
            "yes" if met else "no",
            {"lags_s": lags, "lost": lost, "duplicates": dupes, "finished_first": finished},
        )
    ]
