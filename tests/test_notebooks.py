"""The tutorials' images, which nbval does not compare: re-run each notebook as nbval does
(offline, a fresh store) and check every image it shows against the committed one."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from PIL import Image

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TUTORIALS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
DATA_URI = re.compile(r"data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)")
MAX_BYTES = 1_000_000


def _load_refresh() -> Any:
    spec = importlib.util.spec_from_file_location("nb2_refresh", NOTEBOOKS / "refresh.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


refresh = _load_refresh()


def images(nb: Any) -> list[list[tuple[tuple[int, int], str]]]:
    """Per code cell: each image shown (PNG/JPEG outputs and the thumbnails inside HTML), as
    (pixel size, hash of the decoded pixels), so an encoder's byte-level change is not a diff
    but any change to what the reader sees is."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            out.append([])
            continue
        found = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            blobs = [data[k] for k in ("image/png", "image/jpeg") if k in data]
            blobs += DATA_URI.findall(data.get("text/html", ""))
            for blob in blobs:
                img = Image.open(io.BytesIO(base64.b64decode(blob)))
                found.append((img.size, hashlib.sha256(img.convert("RGB").tobytes()).hexdigest()))
        out.append(found)
    return out


def test_the_tutorials_are_all_here() -> None:
    names = [p.name.split("-", 1)[0] for p in TUTORIALS]
    expected = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13"]
    assert names == expected, [p.name for p in TUTORIALS]


# a key or token given in a cell's source (dummy ones: the tutorials use emulators)
SECRET_ARG = re.compile(r"""\bapi_(?:key|token)=["']([^"']+)["']""")


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_no_key_or_signature_in_the_outputs(path: Path) -> None:
    """What a reader sees on GitHub: no thought signature (not even the field's name, which
    a dumped request body would show) and none of the keys the cells pass."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    keys = {k for c in code for k in SECRET_ARG.findall(c.source)}
    for i, cell in enumerate(code, 1):
        shown = "\n".join(str(o) for o in cell.get("outputs", []))
        assert "thoughtSignature" not in shown, f"{path.name}, code cell {i}"
        assert "thought_signature" not in shown, f"{path.name}, code cell {i}"
        for key in keys:
            assert key not in shown, f"{path.name}, code cell {i} shows a key"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_images_match_the_committed_ones(path: Path, tmp_path: Path) -> None:
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes"
    committed = nbformat.read(path, as_version=4)
    expected = images(committed)
    assert any(expected), f"{path.name} shows no image"
    rerun = nbformat.read(path, as_version=4)
    refresh.execute(rerun, str(tmp_path / "store"))  # exactly as the committed outputs were made
    got = images(rerun)
    for i, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have == want, f"{path.name}, code cell {i + 1}: images differ"
