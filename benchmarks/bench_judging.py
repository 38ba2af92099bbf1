"""Judging figures: nb2.diff at each resolution, a Bradley-Terry fit, the duel's next pair.

    python benchmarks/bench_judging.py

diff: two 1K / 2K / 4K images (a local patch changed), median of 3 runs, split into the pixel
map (Pillow) and the structural similarity (plain Python over <= 256 px). Duel: the time to pick
the next pair of a 48-image duel after 0, 100 and 300 stored choices, and a full ranking fit.
Prints a table; ``measure()`` returns the figures.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from typing import Any

from PIL import Image, ImageDraw

import nb2
from nb2.judging import bradley_terry as bt
from nb2.judging import diff as diffing
from nb2.judging.duel import Item, Pairwise


class _Run:
    """A stored run as the duel sees one (no image needed to time the choice of pairs)."""

    def __init__(self, store: nb2.Store, run_id: str) -> None:
        self.store, self.number, self.cached = store, 0, False
        self.record = {"run_id": run_id, "params": {"prompt": run_id}}

    @property
    def id(self) -> str:
        return str(self.record["run_id"])


def _median(fn: Any, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side in (1024, 2048, 4096):
        a = Image.linear_gradient("L").resize((side, side)).convert("RGB")
        b = a.copy()
        ImageDraw.Draw(b).ellipse((side // 4, side // 4, side // 2, side // 2), fill=(200, 30, 30))
        out[f"diff {side}px"] = _median(lambda a=a, b=b: nb2.diff(a, b))
        out[f"  ssim part {side}px"] = _median(lambda a=a, b=b: diffing.ssim(a, b))
    with tempfile.TemporaryDirectory() as tmp:
        store = nb2.Store(tmp)
        runs = [_Run(store, f"run-{i:02d}") for i in range(48)]
        duel = Pairwise([Item(r, {"image": r.id}) for r in runs], seed=1)  # type: ignore[arg-type]
        rng = random.Random(2)
        done = 0
        for target in (0, 100, 300):
            while done < target:
                left, right = duel.next_pair()  # type: ignore[misc]
                duel.record(left, right, rng.choice(["left", "right"]))
                done += 1
            out[f"next pair, 48 images, {target} choices"] = _median(duel.next_pair)
        out["ranking fit, 48 images, 300 choices"] = _median(duel.ranking)
        outcomes = [(rng.randrange(48), rng.randrange(48), 1.0) for _ in range(1000)]
        out["bt.fit 48 values, 1000 outcomes"] = _median(lambda: bt.fit(48, outcomes))
    return out


def main() -> None:
    figures = measure()
    width = max(len(k) for k in figures)
    print(f"{'figure':<{width}}  seconds")
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:.3f}")


if __name__ == "__main__":
    main()
