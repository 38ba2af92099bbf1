"""Re-run the tutorials in place, as nbval will: offline, each with a fresh store.

    python notebooks/refresh.py [NAME.ipynb ...]

Cells tagged ``needs-token`` are not run (nbval skips them without a token) and keep no output.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent
NEEDS_TOKEN = "needs-token"


def execute(nb: Any, store: str) -> None:
    """Run ``nb`` in place offline against ``store``, leaving ``needs-token`` cells unrun."""
    env_before = dict(os.environ)
    os.environ["NB2_STORE"] = store
    os.environ["NB2_PROGRESS"] = "0"  # as under nbval, which does not apply display updates
    for name in ("REPLICATE_API_TOKEN", "NB2_CACHE"):
        os.environ.pop(name, None)
    live = [c for c in nb.cells if NEEDS_TOKEN in c.metadata.get("tags", [])]
    sources = [c.source for c in live]
    for cell in live:
        cell.source = ""
    try:
        NotebookClient(
            nb,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(HERE)}},
            store_widget_state=False,  # widget state is thumbnails as base64: weight, no use
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
        for cell, source in zip(live, sources, strict=True):
            cell.source, cell.outputs, cell.execution_count = source, [], None


def refresh(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    execute(nb, tempfile.mkdtemp(prefix="nb2-tutorial-"))
    nbformat.write(nb, path)
    return time.perf_counter() - t0


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.name for p in HERE.glob("[0-9][0-9]-*.ipynb"))
    for name in names:
        path = HERE / name
        seconds = refresh(path)
        print(f"{name:40} {seconds:5.1f} s  {path.stat().st_size / 1024:7.1f} KiB")
