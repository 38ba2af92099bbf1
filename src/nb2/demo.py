"""``python -m nb2.demo``: generate, edit, branch and upscale offline, then say where it all is."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def main(store: str | None = None) -> None:
    import nb2
    from nb2.backends.offline import OfflineBackend

    root = Path(store or tempfile.mkdtemp(prefix="nb2-demo-"))
    s = nb2.Session(backend=OfflineBackend(), store=root / "nb2-runs")
    r = s.generate(
        "a glass serum bottle on white marble, soft light from the right",
        resolution="2K",
        aspect_ratio="16:9",
    )
    r2 = s.edit("make the background darker and add subtle fog")
    r3 = s.edit("shift the colour grade cooler", parent=r)
    r4 = r3.upscale("4K")
    print(s.history)
    for res in (r, r2, r3, r4):
        print(f"#{res.number} {res.size[0]}x{res.size[1]} -> {res.path}")
    print(f"records: {s.store.root / 'runs'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
