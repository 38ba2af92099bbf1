"""A big store, fast: succeeded records written as the runner writes them (no backend), each
with its own small image. For the run-index benchmark and the gallery's browser test."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import Image

import nb2

SUBJECTS = ["lighthouse", "serum bottle", "red kite", "mountain hut", "tea cup", "fox",
            "city street", "sailboat", "cactus", "violin", "bakery", "robot", "glacier",
            "bicycle", "library", "koi pond", "desert road", "cathedral", "orchid",
            "harbour"]  # fmt: skip
STYLES = ["at dusk", "in fog", "studio light", "watercolour", "at night", "top-down",
          "cinematic", "soft morning light", "long exposure", "isometric"]  # fmt: skip
RES = ["1K", "2K", "4K"]
RATIOS = ["1:1", "16:9", "3:2", "4:5", "9:16"]
PRICE = {"1K": 0.067, "2K": 0.101, "4K": 0.151}


def fill(root: str | os.PathLike[str], n: int, *, seed: int = 2026, days: float = 60) -> nb2.Store:
    """``n`` succeeded runs over the last ``days`` days in the store at ``root``."""
    store = nb2.Store(root)
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    runs = Path(store.root) / "runs"
    for i in range(n):
        when = now - timedelta(seconds=rng.uniform(0, days * 86400))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        buf = io.BytesIO()
        Image.new("RGB", (24, 16), colour).save(buf, "PNG")
        data = buf.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        path = store.root / "images" / sha[:2] / f"{sha}.png"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        res, ratio = rng.choice(RES), rng.choice(RATIOS)
        search = rng.random() < 0.2
        prompt = f"a {rng.choice(SUBJECTS)} {rng.choice(STYLES)}, variation {i}"
        run_id = f"{when:%Y%m%dT%H%M%S%f}-{i:08x}"
        record = {
            "run_id": run_id, "kind": "generate", "status": "succeeded",
            "session": f"s{i % 7}", "parent": None, "model": "google/nano-banana-2",
            "params": {"model": "google/nano-banana-2", "prompt": prompt, "resolution": res,
                       "aspect_ratio": ratio, "output_format": "png", "google_search": search,
                       "image_search": False, "references": [], "options": {}, "repeat": 0},
            "backend": {"name": "replicate", "offline": False},
            "estimated_cost": PRICE[res],
            "requested_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "completed_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "output": {"sha256": sha, "format": "png", "width": 24, "height": 16,
                       "bytes": len(data), "file": str(path.relative_to(store.root))},
        }  # fmt: skip
        # written without an fsync each: this is test data, made in seconds
        (runs / f"{run_id}.json").write_text(json.dumps(record, indent=1, sort_keys=True))
    return store
