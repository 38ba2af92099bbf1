"""Any Replicate model (issue 16), against the emulator through the official client over loopback:
schemas read once and kept in the store, requests checked against them before any call, list
outputs, chains that replay with zero calls, cross-model grids refused cell by cell."""

import io
import json

import httpx
import pytest
import replicate
from PIL import Image

import nb2
from nb2 import errors
from nb2.backends.offline import OfflineBackend, standins

from .conftest import TOKEN

FLUX, UPSCALER, REMOVER = standins.FLUX, standins.UPSCALER, standins.REMOVER
# The properties of Replicate's OpenAPI description's schemas_model_response (models.get).
_MODEL_RESPONSE = {
    "cover_image_url", "default_example", "description", "github_url", "is_official",
    "latest_version", "license_url", "name", "owner", "paper_url", "run_count", "url",
    "visibility",
}  # fmt: skip


@pytest.fixture
def live(backend, tmp_path):
    return nb2.Session(backend=backend, store=tmp_path / "runs")


def _models_created(emu):
    return [emu.predictions[pid].model for pid in emu.created]


def test_models_get_answers_as_the_api_documents(emulator):
    raw = httpx.get(
        f"{emulator.base_url}/v1/models/{UPSCALER}", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    assert set(raw) == _MODEL_RESPONSE
    assert raw["is_official"] is False and raw["owner"] == "philz1337x"
    # the official client reads it into its own Model/Version objects
    model = replicate.Client(api_token=TOKEN, base_url=emulator.base_url).models.get(UPSCALER)
    inp = model.latest_version.openapi_schema["components"]["schemas"]["Input"]
    assert model.latest_version.id == standins.VERSIONS[UPSCALER]
    assert inp["required"] == ["image"] and inp["properties"]["image"]["format"] == "uri"
    missing = httpx.get(
        f"{emulator.base_url}/v1/models/nobody/nothing",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert missing.status_code == 404


def test_only_official_models_run_without_a_version(emulator):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(png, "PNG")
    import base64

    uri = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    community = httpx.post(
        f"{emulator.base_url}/v1/models/{UPSCALER}/predictions",
        json={"input": {"image": uri}}, headers=headers,
    )  # fmt: skip
    assert community.status_code == 404
    pinned = httpx.post(
        f"{emulator.base_url}/v1/predictions",
        json={"version": f"{UPSCALER}:{standins.VERSIONS[UPSCALER]}", "input": {"image": uri}},
        headers={**headers, "Prefer": "wait=5"},
    )
    assert pinned.status_code == 201 and isinstance(pinned.json()["output"], list)
    assert pinned.json()["version"] == standins.VERSIONS[UPSCALER]
    assert pinned.json()["model"] == UPSCALER
    official = httpx.post(
        f"{emulator.base_url}/v1/models/{FLUX}/predictions",
        json={"input": {"prompt": "x", "num_outputs": 2}}, headers={**headers, "Prefer": "wait=5"},
    )  # fmt: skip
    assert official.status_code == 201 and len(official.json()["output"]) == 2


def test_a_schema_is_fetched_once_then_read_from_the_store(live, backend, emulator, tmp_path):
    live.generate("a red bottle", model=FLUX)
    live.generate("a blue jar", model=FLUX)
    assert emulator.schema_gets == [FLUX]
    path = live.schemas.path(FLUX)
    kept = json.loads(path.read_text())
    assert kept["version"] and kept["fetched_at"] and "num_outputs" in kept["inputs"]
    again = nb2.Session(backend=backend, store=tmp_path / "runs")  # a new kernel, same store
    again.generate("a green can", model=FLUX)
    assert emulator.schema_gets == [FLUX] and again.schemas.fetched == []


def test_requests_are_checked_against_the_schema_before_any_call(live, emulator):
    with pytest.raises(errors.ValidationError) as e:
        live.generate("x", model=FLUX, num_outputs=9)
    assert e.value.field == "num_outputs" and "less than or equal to 4" in str(e.value)
    with pytest.raises(errors.ValidationError) as e:
        live.generate("x", model=FLUX, megapixels="2")
    assert e.value.field == "megapixels" and e.value.allowed == ["1", "0.25"]
    with pytest.raises(errors.ValidationError) as e:
        live.generate("x", model=FLUX, guidance=3.5)
    assert e.value.field == "guidance" and "num_outputs" in e.value.allowed
    with pytest.raises(errors.ValidationError, match="aspect_ratio: '1:8'"):
        live.generate("x", model=FLUX, aspect_ratio="1:8")
    assert emulator.created == [] and emulator.refused == []


def test_a_list_output_is_stored_as_siblings(live, emulator):
    r = live.generate("three bottles", model=FLUX, num_outputs=3, aspect_ratio="16:9")
    assert len(emulator.created) == 1
    sibs = r.siblings
    assert not r.cached and not any(s.cached for s in sibs)  # all fresh from one prediction
    assert len(sibs) == 2 and {s.record["prediction_id"] for s in sibs} == {
        r.record["prediction_id"]
    }
    files = {r.path, *(s.path for s in sibs)}
    assert len(files) == 3 and all(p.is_file() for p in files)
    assert r.size == standins.flux_size("16:9", "1")
    assert sum(s.cost for s in sibs) == 0.0  # one prediction, paid once


def test_a_three_step_chain_is_stored_with_its_lineage_and_replays(live, backend, emulator):
    r = live.generate("a glass serum bottle on white marble", aspect_ratio="4:3")
    up = r.then(UPSCALER, scale_factor=2)
    cut = up.then(REMOVER)
    assert up.parent == r and cut.parent == up
    assert up.size == (r.size[0] * 2, r.size[1] * 2) and cut.size == up.size
    img = cut.image
    assert img.mode == "RGBA" and img.getextrema()[3][0] < 64  # a mask, not a flat alpha
    assert [t.record["kind"] for t in live.history] == ["generate", "chain", "chain"]
    assert cut.record["parent"] == up.id and up.record["parent"] == r.id
    opened = nb2.open(cut.path)
    assert [s.kind for s in opened.chain] == ["generate", "chain", "chain"]
    assert [s.params["model"] for s in opened.chain] == [
        "google/nano-banana-2", UPSCALER, REMOVER,
    ]  # fmt: skip
    made = list(emulator.created)
    assert _models_created(emulator) == ["google/nano-banana-2", UPSCALER, REMOVER]
    gets = list(emulator.schema_gets)
    # a new session replays the whole chain from the store: no create, no schema request
    replay = nb2.Session(backend=backend, store=live.store, cache="replay")
    r2 = replay.generate("a glass serum bottle on white marble", aspect_ratio="4:3")
    cut2 = r2.then(UPSCALER, scale_factor=2).then(REMOVER)
    assert cut2.id == cut.id and cut2.cached
    assert emulator.created == made and emulator.schema_gets == gets


def test_the_emulator_and_offline_stand_ins_agree(live, tmp_path):
    r = live.generate("a jar", model=FLUX, output_format="png", seed=7)
    off = nb2.Session(backend=OfflineBackend(), store=tmp_path / "off")
    o = off.generate("a jar", model=FLUX, output_format="png", seed=7)
    assert r.record["output"]["raw_sha256"] == o.record["output"]["raw_sha256"]


def test_cross_model_grid_refuses_a_cell_for_its_own_model_only(live, emulator):
    models = ["google/nano-banana-2", "google/nano-banana-pro", FLUX]
    g = live.compare(prompt=["a red bottle", "a blue jar"], model=models, num_outputs=2)
    refused = {c.labels["model"] for c in g.cells if c.status == "refused"}
    assert refused == {"nano-banana-2", "nano-banana-pro"}
    # planning read flux-schnell's schema and sent nothing else
    assert emulator.requests == [("GET", f"/v1/models/{FLUX}")]
    plan = g.plan()
    assert plan.new_calls == 2 and len(plan.refused) == 4 and "num_outputs" in repr(plan)
    g.run()
    assert set(_models_created(emulator)) == {FLUX} and len(emulator.created) == 2
    assert emulator.refused == []


def test_shared_fields_map_onto_each_models_names_and_the_plan_says_what_is_left_out(live):
    g = live.compare(
        prompt="a red bottle",
        model=["google/nano-banana-2", FLUX, UPSCALER],
        aspect_ratio="16:9",
        output_format="jpg",
    )
    cells = {c.labels["model"]: c for c in g.cells}
    assert cells["flux-schnell"].params.scalar_input()["output_format"] == "jpg"
    assert cells["flux-schnell"].params.scalar_input()["aspect_ratio"] == "16:9"
    # the upscaler takes no aspect ratio and needs an image: refused for it alone
    assert cells["clarity-upscaler"].status == "refused"
    assert "image" in cells["clarity-upscaler"].error
    text = repr(g.plan())
    assert "clarity-upscaler" in text and "refused" in text


def test_unknown_prices_are_shown_unknown_and_set_price_covers_any_model(live):
    g = live.compare(prompt=["a", "b"], model=["google/nano-banana-2", FLUX])
    plan = g.plan()
    assert plan.cost == pytest.approx(2 * 0.067) and plan.unknown_prices == [FLUX]
    assert "2 call(s) at an unknown price" in repr(plan)
    nb2.models.set_price(FLUX, 0.003)
    plan = g.plan()
    assert plan.unknown_prices == [] and plan.cost == pytest.approx(2 * 0.067 + 2 * 0.003)
    r = live.generate("c", model=FLUX)
    assert r.cost == pytest.approx(0.003) and r.cost_known


def test_a_chain_step_whose_kernel_died_after_the_create_is_recovered(live, backend, emulator):
    """The create reached the server, the kernel died before the id was journaled: recover
    finds the prediction by the step's model and input (its image in a named input)."""
    from nb2.anymodel.chain import then_params
    from nb2.session import runner

    r = live.generate("a jar", output_format="jpg")  # small: it travels as a data URI
    params = then_params(live, r, REMOVER, threshold=0.5)
    record = runner.new_record(params, "chain", r.id, live.name, backend)
    live.store.save(record)  # "running", no prediction id: the kernel died here
    uri = nb2.Reference(r.path).load().data_uri()
    sent = httpx.post(
        f"{emulator.base_url}/v1/predictions",
        json={"version": f"{REMOVER}:{params.schema.version}", "input": params.api_input([uri])},
        headers={"Authorization": f"Bearer {TOKEN}", "Prefer": "wait=5"},
    )
    assert sent.status_code == 201
    report = nb2.recover(live.store, backend=backend)
    got = live.store.get(record["run_id"])
    assert got["status"] == "succeeded" and got["prediction_id"] == sent.json()["id"], report
    assert len(emulator.created) == 2  # found, never sent again
