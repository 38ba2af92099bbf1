"""Reliability under faults: a 48-cell grid against a misbehaving API, an interrupt in the
middle of it, and a store writer killed at random points. Speed is the benchmark's business;
these assert outcomes only."""

from __future__ import annotations

import _thread
import collections
import hashlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import nb2
from nb2.emulator import Emulator
from nb2.store import Store

from .conftest import TOKEN

CELLS = 48
FLAGGED = {5, 17, 30, 41}  # moderated: "[flag]" in the prompt
SLOW = {2, 9, 14, 22, 27, 35, 44}  # longer than the sync hold, so they are polled


def _prompts() -> list[str]:
    out = []
    for i in range(CELLS):
        tags = (" [flag]" if i in FLAGGED else "") + (" [slow]" if i in SLOW else "")
        out.append(f"a lighthouse, take {i}{tags}")
    return out


def _faulty(emu: Emulator, slow: float) -> nb2.ReplicateBackend:
    f = emu.faults
    f.latency = 0.05
    f.slow_words = {"[slow]": slow}
    f.throttle_creates = 3  # a 429 burst at the start (another comes mid-run)
    f.retry_after = 0.2
    f.poll_errors = 4  # 503s on polls
    f.drop_connections = 1  # the very first request's socket is closed unanswered
    f.drop_every = 13  # and every 13th request after that: creates, polls, lists, downloads
    f.drop_create_responses = 2  # two creates are made but their answer is lost
    return nb2.ReplicateBackend(
        api_token=TOKEN,
        base_url=emu.base_url,
        wait=1,
        poll_interval=0.05,
        lost_create_grace=0.2,
    )


def _creates_per_input(emu: Emulator) -> collections.Counter[str]:
    return collections.Counter(
        json.dumps(p.input, sort_keys=True) for p in list(emu.predictions.values())
    )


def test_faulty_grid_stores_every_cell_once(tmp_path: Path) -> None:
    with Emulator() as emu:
        backend = _faulty(emu, slow=1.3)
        s = nb2.Session(backend=backend, store=tmp_path / "runs")
        g = s.compare(prompt=_prompts(), output_format="jpg")

        def burst(grid: Any) -> None:  # a second 429 burst once a third of the cells are done
            if sum(c.status != "running" and c.status != "pending" for c in grid.cells) == 16:
                emu.faults.throttle_creates = 4

        g.run(max_concurrency=8, on_progress=burst)

        # the faults did fire
        assert emu.faults.throttle_creates == 0 and emu.faults.poll_errors == 0
        assert emu.faults.drop_create_responses == 0
        dropped = {(m, p.split("/")[1]) for m, p in emu.dropped}
        assert ("POST", "v1") in dropped and len(emu.dropped) >= 5
        # zero duplicate creates: one prediction per distinct input, one per cell
        per_input = _creates_per_input(emu)
        assert len(per_input) == CELLS and set(per_input.values()) == {1}

    assert g.counts() == {"succeeded": CELLS - len(FLAGGED), "blocked": len(FLAGGED)}
    store = Store(tmp_path / "runs")  # a fresh look at what is on disk
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unreadable record, no image failing its hash
        records = list(store.records())
        for i, cell in enumerate(g.cells):
            if i in FLAGGED:
                assert cell.status == "blocked" and "E005" in (cell.error or "")
                assert store.lookup(cell.params.cache_key) is None
                continue
            record = store.lookup(cell.params.cache_key)
            assert record is not None and record["run_id"] == cell.result.id
            path = store.image_path(record["output"]["sha256"], record["output"]["format"])
            assert path is not None
            data = path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == record["output"]["sha256"]
            with Image.open(path) as img:
                img.load()  # a whole, decodable image
                assert img.size == cell.result.size
    by_status = collections.Counter(r["status"] for r in records)
    assert by_status == {"succeeded": CELLS - len(FLAGGED), "blocked": len(FLAGGED)}
    blocked = {r["params"]["prompt"] for r in records if r["status"] == "blocked"}
    assert blocked == {p for i, p in enumerate(_prompts()) if i in FLAGGED}
    # nothing half-written: no temp file left, every record's image present
    leftovers = [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for r in records:
        if r["status"] == "succeeded":
            assert store.image_path(r["output"]["sha256"], r["output"]["format"]) is not None


def test_interrupt_mid_faulty_grid_cancels_everything_in_flight(tmp_path: Path) -> None:
    with Emulator() as emu:
        backend = _faulty(emu, slow=30.0)  # slow cells would run for half a minute
        s = nb2.Session(backend=backend, store=tmp_path / "runs")
        g = s.compare(prompt=_prompts(), output_format="jpg")
        timer = threading.Timer(2.5, _thread.interrupt_main)
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                g.run(max_concurrency=8)
        finally:
            timer.cancel()
        # nothing is left running at the API: each prediction finished or was canceled there
        assert emu.in_flight() == 0
        canceled = [p.id for p in emu.predictions.values() if p.status == "canceled"]
        assert canceled and set(canceled) <= set(emu.canceled)
        slow_made = [p for p in emu.predictions.values() if "[slow]" in p.input["prompt"]]
        assert slow_made and all(p.status == "canceled" for p in slow_made)
        assert len(emu.created) < CELLS
        assert set(_creates_per_input(emu).values()) == {1}

    counts = g.counts()
    assert counts.get("succeeded", 0) >= 1 and counts.get("canceled", 0) >= 1
    assert counts.get("pending", 0) == 0 and counts.get("running", 0) == 0
    store = Store(tmp_path / "runs")
    records = {r["run_id"]: r for r in store.records()}
    for cell in g.cells:  # what finished is stored; the canceled ones are recorded as such
        if cell.status == "succeeded":
            assert store.lookup(cell.params.cache_key)["run_id"] == cell.result.id
    statuses = collections.Counter(r["status"] for r in records.values())
    assert statuses["canceled"] >= len(canceled)


# -- a store writer killed at random points -------------------------------------------------------
_WRITER = textwrap.dedent("""
    import os, sys
    from nb2.store import Store
    store, start = Store(sys.argv[1]), int(sys.argv[2])
    rng = __import__("random").Random(start)
    print("ready", flush=True)
    for i in range(start, start + 10**6):
        data = os.urandom(rng.randrange(1, 1 << 20))
        sha, _ = store.put_image(data, "png")
        pad = "x" * rng.randrange(1 << 16)
        store.save({"run_id": f"run{i:08d}", "status": "succeeded", "cache_key": f"{i:064x}",
                    "output": {"sha256": sha, "format": "png"}, "pad": pad})
        print(f"run{i:08d}", flush=True)  # only after save() returned: this one is complete
""")


def _lines_until_killed(proc: subprocess.Popen[bytes], after: float) -> list[str]:
    """Read completed lines for ``after`` seconds, SIGKILL the writer, read what is left."""
    out = b""
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    end = time.monotonic() + after
    while (left := end - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    while chunk := os.read(fd, 65536):
        out += chunk
    proc.stdout.close()  # type: ignore[union-attr]
    lines = out.decode().split("\n")
    return [ln for ln in lines[:-1] if ln.startswith("run")]  # a last line without \n: unsure


def test_store_survives_twenty_sigkills(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    rng = random.Random(7)
    completed: list[str] = []
    for round_ in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), str(round_ * 100_000)],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        completed += _lines_until_killed(proc, rng.uniform(0.0, 0.35))
        store = Store(root)  # loads, after every kill
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no half-written record or image is visible
            records = {r["run_id"]: r for r in store.records()}
            for run_id in completed:
                record = records[run_id]
                assert store.lookup(record["cache_key"])["run_id"] == run_id
            for record in records.values():  # the one cut short is whole or absent
                assert store.image_path(record["output"]["sha256"], "png") is not None
    assert len(completed) >= 20  # the kills did land among finished writes
