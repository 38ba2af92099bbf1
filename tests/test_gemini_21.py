"""Nano Banana 2.1, today's Gemini model, and a model table that cannot go stale silently: a
fresh backend generates with 2.1 at 2.1's prices; a shut-down id, a 404 from the API and a
tier the model lacks are each a named error with nothing spent; ``nb2.models.check()`` shows
the drift between nb2's table and what the API lists. All over the official SDK against the
Gemini emulator."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nb2
from nb2 import errors, models
from nb2.emulator import GeminiEmulator
from nb2.request.params import Params

KEY = "AIza-test-key-21"
NB21, FLASH, FLASH_25 = "gemini-nano-banana-2.1", "gemini-3.1-flash-image", "gemini-2.5-flash-image"


@pytest.fixture
def gemu() -> Iterator[GeminiEmulator]:
    emu = GeminiEmulator().start()
    yield emu
    emu.stop()


def session(emu: GeminiEmulator, root: Path, **kw: Any) -> nb2.Session:
    return nb2.Session(backend=nb2.GeminiBackend(api_key=KEY, base_url=emu.base_url),
                       store=root, **kw)  # fmt: skip


def sent(emu: GeminiEmulator) -> list[str]:
    """Every request that reached the server, by path (model calls, batches, files, lists)."""
    return [path for _, path in emu.requests]


def test_a_fresh_backend_generates_with_2_1_at_its_prices(gemu, tmp_path: Path) -> None:
    s = session(gemu, tmp_path / "runs")
    r = s.generate("a lighthouse at dusk")
    assert r.params.model == NB21 and r.size == (1024, 1024)
    assert sent(gemu)[-1].endswith(f"/models/{NB21}:generateContent")
    usage = r.record["usage"]
    tokens = {d["modality"]: d["tokenCount"] for d in usage["candidatesTokensDetails"]}
    assert tokens["IMAGE"] == 1120
    text = usage["candidatesTokenCount"] - tokens["IMAGE"] + usage["thoughtsTokenCount"]
    # 2.1's rates: $1.50 in, $7.50 text and thoughts, $30 image, per million tokens
    exact = (usage["promptTokenCount"] * 1.50 + text * 7.50 + tokens["IMAGE"] * 30.0) / 1e6
    assert r.cost == pytest.approx(exact, abs=1e-6) and r.record["cost"] == r.cost
    assert r.record["estimated_cost"] == pytest.approx(0.0336)  # 1120 x $30/M
    plan = s.compare(prompt=["a fox", "a hare"], resolution=["1K", "2K"]).plan()
    assert plan.cost == pytest.approx(2 * 0.0336 + 2 * 0.0504)
    assert models.token_cost(NB21, usage, batch=True) == pytest.approx(exact / 2, abs=1e-6)


def test_2_1_thinks_at_medium_by_default_and_knows_its_levels() -> None:
    assert Params("a fox", model=NB21).options["thinking"] == "medium"
    assert Params("a fox", model=NB21, options={"thinking": "high"}).options["thinking"] == "high"
    with pytest.raises(errors.ValidationError) as err:
        Params("a fox", model=FLASH, options={"thinking": "medium"})  # 3.1 has two levels
    assert err.value.field == "thinking" and err.value.allowed == ["minimal", "high"]


def test_512_on_2_1_is_named_before_any_call_and_points_to_a_model_that_has_it(
    gemu, tmp_path: Path
) -> None:
    s = session(gemu, tmp_path / "runs")
    with pytest.raises(errors.ValidationError) as err:
        s.generate("a red fox", resolution="512")
    assert err.value.field == "resolution" and err.value.value == "512"
    assert err.value.allowed == ["1K", "2K", "4K"] and FLASH in str(err.value)
    assert "deprecated" in str(err.value)  # the model that has it is said to be on its way out
    assert sent(gemu) == [] and not list((tmp_path / "runs").glob("runs/*.json"))


def test_the_emulator_answers_400_for_512_on_2_1(gemu) -> None:
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types

    c = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=gemu.base_url))
    cfg = types.GenerateContentConfig(image_config=types.ImageConfig(image_size="512"))
    with pytest.raises(genai_errors.ClientError) as err:
        c.models.generate_content(model=NB21, contents="a cat", config=cfg)
    assert err.value.code == 400 and "512" in err.value.message
    assert gemu.generate_calls == 0


@pytest.mark.parametrize("model", [FLASH_25, "gemini-3.1-flash-image-preview"])
def test_a_shut_down_id_is_named_with_its_replacement_and_nothing_is_sent(
    gemu, tmp_path: Path, model: str
) -> None:
    s = session(gemu, tmp_path / "runs")
    with pytest.raises(errors.ModelUnavailableError) as err:
        s.generate("a red fox", model=model)
    assert err.value.field == "model" and err.value.replacement == NB21
    assert "shut down" in str(err.value) and NB21 in str(err.value)
    with pytest.raises(errors.ModelUnavailableError):  # nor as one batch
        s.compare(prompt=["a", "b"], model=[model]).run(batch=True)
    assert sent(gemu) == []
    assert not list((tmp_path / "runs").glob("batches/*"))


def test_a_404_for_the_model_is_named_not_retried_and_costs_nothing(gemu, tmp_path: Path) -> None:
    gemu.faults.retired = (*gemu.faults.retired, FLASH)  # the reported shutdown of 2026-10-29
    s = session(gemu, tmp_path / "runs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.ModelDeprecationWarning)
        with pytest.raises(errors.ModelUnavailableError) as err:
            s.generate("a red fox", model=FLASH)
    assert err.value.replacement == NB21 and "404" in str(err.value)
    assert "not tried again" in str(err.value)
    assert sum(p.endswith(":generateContent") for p in sent(gemu)) == 1  # once, never again
    stats = nb2.store_stats(s.store.root)
    assert stats.spend == 0.0 and stats.by_status == {"failed": 1}
    records = [r.record for r in nb2.find(store=s.store.root, status="failed")]
    assert [rec["model"] for rec in records] == [FLASH]


def test_a_deprecated_model_warns_once_naming_its_replacement(gemu, tmp_path: Path) -> None:
    models._warned.discard(FLASH)
    s = session(gemu, tmp_path / "runs")
    with pytest.warns(errors.ModelDeprecationWarning, match=NB21):
        r = s.generate("a red fox", model=FLASH, resolution="512")
    assert r.size == (512, 512)  # still served: 3.1 Flash's own 512 tier
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.ModelDeprecationWarning)
        s.generate("a blue fox", model=FLASH)  # once a process


def test_stored_runs_of_a_shut_down_model_still_replay(gemu, tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "runs"
    with monkeypatch.context() as before:  # a run made before its shutdown
        gemu.faults.retired = ()
        before.setattr(models, "check_served", lambda model: None)
        first = session(gemu, root).generate("a red fox", model=FLASH_25)
    gemu.faults.retired = (FLASH_25,)
    again = session(gemu, root, cache="replay").generate("a red fox", model=FLASH_25)
    assert again.cached and again.id == first.id


def test_check_shows_the_drift_the_emulator_is_set_up_to_show(gemu) -> None:
    gemu.faults.retired = (*gemu.faults.retired, FLASH)
    gemu.faults.extra_models = ("gemini-nano-banana-2.2-preview",)
    found = models.check(nb2.GeminiBackend(api_key=KEY, base_url=gemu.base_url))
    assert sent(gemu)[-1].split("?")[0].endswith("/models")
    assert NB21 in found.live and FLASH not in found.live
    rows = {r["model"]: r for r in found.rows}
    assert rows[NB21]["live"] == "served" and rows[FLASH]["live"] == "not listed"
    assert rows["gemini-nano-banana-2.2-preview"]["state"] == "not in nb2's table"
    assert any(d.startswith(f"{FLASH}: nb2 says deprecated") for d in found.drift)
    assert any(
        d.startswith("gemini-nano-banana-2.2-preview: the API serves it") for d in found.drift
    )
    assert not any(d.startswith(NB21) for d in found.drift)
    assert "drift: " in repr(found) and KEY not in repr(found)


def test_check_without_a_key_shows_the_table_and_its_dates(monkeypatch) -> None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    found = nb2.models.check()
    assert found.live is None and found.drift == []
    rows = {r["model"]: r for r in found.rows}
    assert rows[NB21]["state"] == "GA" and rows[NB21]["since"] == "2026-10-06"
    assert rows[NB21]["tiers"] == "1K/2K/4K" and rows[NB21]["usd_1k"] == pytest.approx(0.0336)
    assert rows[FLASH]["state"] == "deprecated" and rows[FLASH]["replacement"] == NB21
    assert rows[FLASH_25]["state"] == "shut down" and rows[NB21]["live"] == "not asked"
    assert found.read_on in repr(found)


def test_percent_nb2_models_asks_the_api_with_a_key(gemu, monkeypatch, tmp_path: Path) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from nb2.notebook.magic import Nb2Magics

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemu.base_url)
    gemu.faults.extra_models = ("gemini-nano-banana-2.2-preview",)
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store = str(tmp_path / "runs")
    shell.register_magics(magics)
    found = shell.run_line_magic("nb2", "models")
    assert found.live is not None and "gemini-nano-banana-2.2-preview" in found.live
    assert any("2.2-preview" in d for d in found.drift)
