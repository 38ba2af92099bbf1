"""Re-run the tutorials in place, as nbval will: offline, each with a fresh store.

python notebooks/refresh.py [NAME.ipynb ...]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent


def refresh(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    env_before = dict(os.environ)
    os.environ["NB2_STORE"] = tempfile.mkdtemp(prefix="nb2-tutorial-")
    for name in ("REPLICATE_API_TOKEN", "NB2_CACHE"):
        os.environ.pop(name, None)
    t0 = time.perf_counter()
    try:
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    nbformat.write(nb, path)
    return time.perf_counter() - t0


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.name for p in HERE.glob("[0-9][0-9]-*.ipynb"))
    for name in names:
        path = HERE / name
        seconds = refresh(path)
        print(f"{name:40} {seconds:5.1f} s  {path.stat().st_size / 1024:7.1f} KiB")
