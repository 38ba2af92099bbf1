"""A second real client against the emulator: the npm ``replicate`` package (1.4.0) run by node
(tests/npm/client_check.mjs), over http and over https delivery. In CI (``CI=true``) a missing
node or node_modules/replicate is a failure, elsewhere a skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from nb2.emulator import Emulator

from .conftest import TOKEN

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "npm" / "client_check.mjs"
PACKAGE = ROOT / "node_modules" / "replicate" / "package.json"


def _node() -> str:
    node = shutil.which("node")
    missing = (
        "node is not on PATH"
        if node is None
        else "node_modules/replicate is missing (run `npm install`)"
        if not PACKAGE.exists()
        else None
    )
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the npm client check: {missing}")
        pytest.skip(missing)
    assert node is not None
    return node


def _run(emu: Emulator, image: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "NB2_EMU_API": f"{emu.base_url}/v1",  # the npm client's baseUrl includes /v1
        "NB2_EMU_IMAGE": str(image),
        "REPLICATE_API_TOKEN": TOKEN,
    }
    if emu.cafile:
        env["NODE_EXTRA_CA_CERTS"] = str(emu.cafile)
    proc = subprocess.run(
        [_node(), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_npm_client_runs_creates_cancels_uploads_and_fans_out(scheme: str, tmp_path: Path):
    _node()
    image = tmp_path / "ref.png"
    Image.new("RGB", (48, 32), (200, 90, 10)).save(image)
    with Emulator(latency=0.1, delivery_scheme=scheme, slow_words={"[slow]": 30.0}) as emu:
        out = _run(emu, image)

        # run(): an https output becomes a FileOutput, an http one stays a string
        kind = "FileOutput" if scheme == "https" else "string"
        run = out["run"]
        assert run["kind"] == kind and run["jpeg"] and run["size"] > 1000
        assert run["url"].startswith(f"{emu.delivery_url}/")
        # its Buffer image went through the Files API and the model read it
        uploads = [p for m, p in emu.requests if (m, p) == ("POST", "/v1/files")]
        assert len(uploads) == 2  # that one, and files.create below
        assert emu.predictions[run["id"]].input["image_input"][0].startswith(emu.base_url)
        assert emu.predictions[run["id"]].status == "succeeded"

        # predictions.create with wait: "processing" with the output, then "succeeded"
        created = out["created"]
        assert created["status"] == "processing" and created["output"]
        assert created["hasStartedAt"] is False and created["after"] == "succeeded"
        assert created["web"] == f"https://replicate.com/p/{created['id']}"

        cancel = out["cancel"]
        assert cancel["createdAs"] == "starting" and cancel["status"] == "canceled"
        assert emu.canceled == [cancel["id"]] and emu.predictions[cancel["id"]].status == "canceled"

        f = out["file"]
        assert f["getIsJson"] and f["deleted"] is True and f["metadata"] == {"purpose": "check"}
        assert f["size"] == image.stat().st_size and emu.files.deleted == [f["id"]]

        fan = out["fan"]
        assert len(fan["ids"]) == len(set(fan["ids"])) == 8
        assert all(o["kind"] == kind and o["jpeg"] for o in fan["outputs"])
        assert len({o["url"] for o in fan["outputs"]}) == 8
        # every create the script made, and no other: 1 run + 1 held + 1 canceled + 8
        assert len(emu.created) == 11 and set(fan["ids"]) <= set(emu.created)
        assert all(
            emu.predictions[i].status == "succeeded"
            for i in [run["id"], created["id"], *fan["ids"]]
        )
        assert emu.tokens_seen == {TOKEN}
