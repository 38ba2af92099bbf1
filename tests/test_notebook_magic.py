"""A notebook using the magic, executed end to end by nbclient in a real kernel."""

import json
import re

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import TOKEN

CELLS = [
    "%load_ext nb2\n%config Nb2Magics.store = 'runs'",
    "style = 'soft studio light'",
    "%%nb2 --resolution 1K --aspect 16:9 -o hero\nA glass serum bottle on white marble, {style}",
    "%%nb2 --edit\nmake the background darker and add subtle fog",
    "%%nb2 --edit --parent 1\nshift the colour grade cooler",
    "%%nb2 --resolution 4K --aspect 1:1\nA 4K poster of a lighthouse",
    "print(hero.size, hero.params.resolution)",
    "%%nb2 --vary resolution=1K,2K --plan\nA rooftop café\n---\nA rooftop café, 35mm film",
    "%%nb2 --vary aspect=1:1,3:2 -o g\nA kite over hills",
    "print(g.counts())",
    "%nb2 history",
    "%%nb2 --resolution 3K\nthis cell fails",
]


def _run(tmp_path, name):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.cells[-1].metadata["tags"] = ["raises-exception"]
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    path = tmp_path / name
    nbformat.write(nb, path)
    return nb, path


def _texts(nb):
    out = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            if o.get("output_type") in ("execute_result", "display_data"):
                out.append(o["data"].get("text/plain", ""))
            elif o.get("output_type") == "stream":
                out.append(o["text"])
            elif o.get("output_type") == "error":
                out.append(f"{o['ename']}: {o['evalue']}")
    return out


def test_notebook_runs_offline_is_light_and_stable(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    nb, path = _run(tmp_path / "a", "a.ipynb")
    nb2_, _ = _run(tmp_path / "b", "b.ipynb")
    for c in nb.cells:
        if c.source.startswith("%%nb2") and "--plan" not in c.source and "fails" not in c.source:
            size = len(json.dumps(c.outputs))
            assert size < 100_000 if "--vary" not in c.source else size < 4 * 100_000, c.source
            assert any("text/html" in o.get("data", {}) for o in c.outputs), c.source
    text = path.read_text()
    assert not re.search(r'src=\\?"https?:', text)  # no remote image in any output
    texts = _texts(nb)
    assert texts == _texts(nb2_)  # text/plain outputs are stable between runs
    joined = "\n".join(texts)
    assert "(1376, 768) 1K" in joined and "{'succeeded': 2}" in joined
    assert "Plan: 4 cells over prompt (2) x resolution (2)" in joined
    assert "ValidationError: resolution: '3K' is not allowed" in joined
    assert "Traceback" not in joined  # errors are one readable line
    assert "<nb2.Result #2 edit 1376x768 png" in joined


@pytest.mark.usefixtures("emulator")
def test_notebook_against_the_emulator_leaks_no_token(tmp_path, emulator, monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    monkeypatch.setenv("REPLICATE_BASE_URL", emulator.base_url)
    _nb, path = _run(tmp_path, "live.ipynb")
    assert len(emulator.created) >= 5 and TOKEN in emulator.tokens_seen
    assert TOKEN not in path.read_text()
    for f in (tmp_path / "runs").rglob("*"):
        if f.is_file():
            assert TOKEN.encode() not in f.read_bytes()
