"""The Gemini API's models in the registry, checked against the reference's own numbers
(tests/reference.py, copied by hand from shared/reference/gemini-api.md), and the request a
session builds for them: named errors before any call, defaults that apply only where the
model has the field, and which backend serves which model."""

from __future__ import annotations

from pathlib import Path

import pytest

import nb2
from nb2 import models
from nb2.errors import ValidationError
from nb2.request.params import Params

from . import reference

FLASH, PRO, FLASH_25 = "gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-2.5-flash-image"


@pytest.mark.parametrize("ratio", sorted(reference.GEMINI_512))
def test_the_512_tier_has_googles_sizes(ratio: str) -> None:
    p = Params("a fox", model=FLASH, resolution="512", aspect_ratio=ratio)
    assert p.pixel_size() == reference.GEMINI_512[ratio]


@pytest.mark.parametrize("ratio", sorted(reference.GEMINI_1K))
def test_googles_table_not_replicates_measured_one(ratio: str) -> None:
    assert (
        Params("a fox", model=FLASH, aspect_ratio=ratio).pixel_size()
        == (reference.GEMINI_1K[ratio])
    )
    assert Params("a fox", model=FLASH, resolution="4K", aspect_ratio=ratio).pixel_size() == (
        tuple(4 * n for n in reference.GEMINI_1K[ratio])
    )


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (PRO, "resolution", "512"),  # 512 is 3.1 Flash's alone
        (FLASH, "resolution", "1k"),  # uppercase K only
        (FLASH_25, "resolution", "1K"),  # 2.5 has one size
        (PRO, "aspect_ratio", "1:8"),  # the extreme ratios are 3.1 Flash's
        (FLASH_25, "google_search", True),
        (PRO, "image_search", True),
        (FLASH, "output_format", "png"),  # the API answers in its own format
    ],
)
def test_what_a_model_lacks_is_a_named_error(model: str, field: str, value: object) -> None:
    assert not reference.accepts(model, field, value)
    with pytest.raises(ValidationError) as err:
        Params("a fox", model=model, **{field: value})
    assert err.value.field == field and repr(value) in str(err.value)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"thinking": "low"}, "thinking"), ({"seed": "7"}, "seed"), ({"seed": True}, "seed")],
)
def test_thinking_and_seed_are_checked(options: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Params("a fox", model=FLASH, options=options)
    assert err.value.field == field
    with pytest.raises(ValidationError):
        Params("a fox", model=PRO, options={"thinking": "high"})  # Pro has no level


def test_thinking_and_seed_change_the_request() -> None:
    base = Params("a fox", model=FLASH)
    assert base.options == {"thinking": "minimal", "seed": None}  # the API's default level
    high = Params("a fox", model=FLASH, options={"thinking": "high", "seed": 7})
    assert high.cache_key != base.cache_key and high.scalar_input()["seed"] == 7
    assert Params("a fox", model=FLASH, options={"thinking": "minimal"}) == base


def test_exact_cost_from_the_answers_tokens() -> None:
    # the reference's 512 answer: 11 prompt tokens, 1135 candidate tokens of which 747 image
    usage = {"promptTokenCount": 11, "candidatesTokenCount": 1135, "thoughtsTokenCount": 120,
             "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 747}]}  # fmt: skip
    want = (11 * 0.50 + (1135 - 747 + 120) * 3.00 + 747 * 60.0) / 1e6
    assert models.token_cost(FLASH, usage) == pytest.approx(want, abs=1e-6)
    assert models.token_cost(FLASH, usage, batch=True) == pytest.approx(want / 2, abs=1e-6)
    assert models.token_cost("google/nano-banana-2", usage) is None  # Replicate bills per run
    # the plan's estimate before a run: the image tokens at the image rate
    assert models.price(FLASH, "512") == pytest.approx(747 * 60 / 1e6, abs=1e-4)
    assert models.price(PRO, "4K") == pytest.approx(2000 * 120 / 1e6, abs=1e-4)


def test_a_session_default_applies_only_where_the_model_has_the_field(tmp_path: Path) -> None:
    s = nb2.Session(backend=nb2.OfflineBackend(), store=tmp_path, model=FLASH)
    p = s.params("a fox")  # the session's png default is left out: no output_format here
    assert p.model == FLASH and p.output_format is None and p.resolution == "1K"
    with pytest.raises(ValidationError) as err:
        s.params("a fox", output_format="png")  # said, it is an error
    assert err.value.field == "output_format"


def test_each_backend_serves_its_own_models(tmp_path: Path, monkeypatch) -> None:
    from nb2.backends.gemini import GeminiBackend

    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    gem = nb2.Session(backend=GeminiBackend(api_key="k", base_url="http://127.0.0.1:9"),
                      store=tmp_path)  # fmt: skip
    assert gem.defaults["model"] == "gemini-nano-banana-2.1"  # the backend's own by default
    with pytest.raises(ValidationError) as err:
        gem.params("a fox", model="nano-banana-2")
    assert err.value.field == "model" and "gemini-nano-banana-2.1" in err.value.allowed
    rep = nb2.Session(backend=nb2.ReplicateBackend(api_token="r8_x", base_url="http://127.0.0.1:9"),
                      store=tmp_path)  # fmt: skip
    with pytest.raises(ValidationError, match="Gemini API"):
        rep.params("a fox", model=FLASH)
    off = nb2.Session(backend=nb2.OfflineBackend(), store=tmp_path)
    assert off.params("a fox", model=PRO).model == PRO  # the stand-in draws every model


def test_which_backend_a_bare_session_picks(monkeypatch) -> None:
    from nb2.backends import chosen_backend

    for var in ("REPLICATE_API_TOKEN", "GEMINI_API_KEY", "GOOGLE_API_KEY", "NB2_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    assert chosen_backend() == "offline"
    monkeypatch.setenv("GOOGLE_API_KEY", "g")
    assert chosen_backend() == "gemini"
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_x")
    assert chosen_backend() == "replicate"  # both set: Replicate, as before the Gemini backend
    monkeypatch.setenv("NB2_BACKEND", "gemini")
    assert chosen_backend() == "gemini" and chosen_backend("offline") == "offline"
    with pytest.raises(ValidationError) as err:
        chosen_backend("gemni")
    assert err.value.field == "backend"


def test_no_key_is_a_named_error(monkeypatch) -> None:
    from nb2.backends.gemini import GeminiBackend

    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(nb2.errors.AuthenticationError, match="GEMINI_API_KEY"):
        GeminiBackend()
    b = GeminiBackend(api_key="AIza-secret-key")
    assert "AIza-secret-key" not in repr(b) + repr(b.describe())
