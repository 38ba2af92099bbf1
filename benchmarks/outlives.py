"""The store at scale: a 10,000-run store (records written as the runner writes them), then
the index rebuild, find by text, opening a Session, resuming a 200-turn session, and the
gallery's first page as the kernel makes it (the browser's figure is in the browser test).

    python benchmarks/outlives.py           # prints the table
    python benchmarks/outlives.py --quick   # fewer repeats

``outlives.figures(quick)`` returns the rows for ``benchmarks/run.py``'s table.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nb2
from nb2.store.index import NAME, Index

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests/
from tests.storefill import fill

RUNS = 10_000
TURNS = 200


def _times(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _row(figure: str, seconds: list[float], target: float, note: str = "") -> Any:
    from figures import Row  # benchmarks/ is on sys.path when run.py runs

    med, worst = statistics.median(seconds), max(seconds)
    return Row(
        figure,
        f"median {_ms(med)}, max {_ms(worst)} ({len(seconds)} runs)",
        note or "-",
        f"target < {target * 1000:.0f} ms" if target else "-",
        ("yes" if med < target else "no") if target else "-",
        {"seconds": seconds, "target_s": target},
    )


def _ms(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 0.01 else f"{s * 1000:.0f} ms"


def figures(quick: bool = False, runs: int = RUNS) -> list[Any]:
    n = 3 if quick else 10
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = fill(Path(tmp) / "runs", runs)
        made = time.perf_counter() - t0
        # 1. the index rebuilt from the records (the first find on a store without one)
        rebuilds = []
        for _ in range(1 if quick else 3):
            Index.of(store).close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{store.root / NAME}{suffix}").unlink(missing_ok=True)
            t0 = time.perf_counter()
            Index.of(store).refresh()
            rebuilds.append(time.perf_counter() - t0)
        rows.append(_row(f"index rebuild from {runs:,} JSON records", rebuilds, 10.0,
                         f"store made in {made:.0f} s (records written, no backend)"))  # fmt: skip
        # 2. find by text (a few dozen matches; a broad word too)
        narrow = nb2.find("lighthouse dusk", store=store)
        rows.append(_row(
            f"nb2.find('lighthouse dusk') on {runs:,} runs ({len(narrow)} found)",
            _times(lambda: nb2.find("lighthouse dusk", store=store), n * 3), 0.050,
        ))  # fmt: skip
        broad = nb2.find("lighthouse", store=store, since="30d", resolution="2K")
        rows.append(_row(
            f"nb2.find('lighthouse', since='30d', resolution='2K') ({len(broad)} found)",
            _times(lambda: nb2.find("lighthouse", store=store, since="30d", resolution="2K"),
                   n * 3), 0.050,
        ))  # fmt: skip

        # ... and right after a new run is written: the index re-reads what changed
        def after_a_write() -> None:
            fill(store.root, 1, seed=len(after))  # one more record, as another kernel would
            t0 = time.perf_counter()
            nb2.find("lighthouse dusk", store=store)
            after.append(time.perf_counter() - t0)

        after: list[float] = []
        for _ in range(n):
            after_a_write()
        rows.append(_row("nb2.find right after another run is written (the index catches up)",
                         after, 0.0, "stats every record file once: ~10 us each"))  # fmt: skip
        # 3. a Session opened on the big store by its path (no saved tree under this name)
        backend = nb2.OfflineBackend()
        names = iter(range(10**6))
        rows.append(_row(
            f"nb2.Session() opened on {runs:,} runs",
            _times(lambda: nb2.Session(store=str(store.root), name=f"new{next(names)}"), n * 3),
            0.100,
        ))  # fmt: skip
        # 4. a 200-turn session resumed (its runs read back from the records)
        long = nb2.Session(backend, store=store, name="long")
        for r in nb2.find(store=store, limit=TURNS):
            long.adopt(r)
        assert len(long.history) == TURNS
        rows.append(_row(
            f"resume a {TURNS}-turn session",
            _times(lambda: nb2.Session(backend, store=store, name="long"), n * 3), 0.200,
        ))  # fmt: skip
        # 5. the gallery's first page, as the kernel makes it (query, count, 48 thumbnails)
        rows += _gallery(store, n)
        Index.of(store).close()
        shutil.rmtree(store.root / "thumbs", ignore_errors=True)
    return rows


def _gallery(store: nb2.Store, n: int) -> list[Any]:
    try:
        from nb2.notebook.gallery import Gallery
    except ImportError:  # no widgets in this environment
        return []
    shutil.rmtree(store.root / "thumbs", ignore_errors=True)
    cold = _times(lambda: Gallery(store=store).close(), 1)
    warm = _times(lambda: Gallery(store=store).close(), n)
    return [
        _row("gallery first page, kernel side, thumbnails cold (made and kept)", cold, 1.0),
        _row("gallery first page, kernel side, thumbnails kept", warm, 1.0,
             "the browser's figure: tests/test_browser_gallery.py"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).parent))  # figures.py: the Row and the table
    from run import table

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=RUNS)
    args = ap.parse_args(argv)
    rows = figures(args.quick, args.runs)
    print(table(rows))
    return 1 if any(r.met == "no" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
