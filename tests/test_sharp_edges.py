"""Every input answered clearly: the sharp edges a hostile try found (issue 13), each pinned."""

from __future__ import annotations

import json
import os
import stat
import time
import warnings

import pytest
from IPython.core.error import UsageError
from PIL import Image

import nb2
from nb2 import errors
from nb2.backends.offline import OfflineBackend
from nb2.notebook import cellargs
from nb2.notebook.magic import Nb2Magics
from nb2.request.params import Params
from nb2.store import StoreWarning


@pytest.fixture
def magics(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    m = Nb2Magics(shell=ip)
    m.store = str(tmp_path / "runs")
    m.progress = False
    return m


def _refs(spec: str, ns: dict | None = None) -> list[nb2.Reference]:
    return cellargs.refs([spec], ns or {})


# -- 1. roles are recognised, never carved out of a URL or a path ----------------------------------
def test_a_ref_url_with_a_port_or_a_query_keeps_its_colon():
    (r,) = _refs("http://127.0.0.1:8000/x.png")
    assert r.source == "http://127.0.0.1:8000/x.png" and r.role is None
    (r,) = _refs("https://host/img.png?t=12:30")
    assert r.source == "https://host/img.png?t=12:30" and r.role is None
    (r,) = _refs("http://127.0.0.1:8000/x.png:palette")
    assert r.source == "http://127.0.0.1:8000/x.png" and r.role == "palette"


def test_a_file_with_a_colon_in_its_name_can_be_referenced(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a:b.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "c:style", "PNG")  # even one named like a role
    (r,) = _refs("a:b.png")
    assert r.role is None and str(r.source).endswith("a:b.png")
    (r,) = _refs("c:style")
    assert r.role is None and str(r.source).endswith("c:style")
    (r,) = _refs("a:b.png:'the dog''s collar'")
    assert r.role == "the dog''s collar"
    (r,) = _refs("a:b.png:Lighting")
    assert r.role == "lighting"


def test_an_unknown_unquoted_role_is_refused_with_the_roles_named(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    with pytest.raises(UsageError, match=r"subject, style, palette.*in quotes"):
        _refs("x.png:hero")


# -- 2. defaults only where the model has the field ------------------------------------------------
def test_the_magic_works_for_nano_banana_which_has_no_resolution(magics):
    r = magics.nb2("-m nano-banana", "a lighthouse")
    assert r is None  # shown, not returned
    s = magics.session()
    assert s.current.params.model == "google/nano-banana" and s.current.params.resolution is None
    magics.resolution = "2K"  # an explicit default still leaves nano-banana alone
    magics.nb2("-m nano-banana -o nb", "a lighthouse, again")
    assert magics.shell.user_ns["nb"].params.resolution is None


def test_nano_banana_pro_keeps_its_own_2k_default(magics):
    magics.nb2("-m nano-banana-pro -o pro", "a lighthouse")
    assert magics.shell.user_ns["pro"].params.resolution == "2K"


def test_a_model_axis_takes_defaults_cell_by_cell(magics):
    magics.resolution = "2K"
    magics.nb2("--vary model=nano-banana,nano-banana-2 --plan -o g", "a lighthouse")
    g = magics.shell.user_ns["g"]
    assert [c.params.resolution for c in g.cells] == [None, "2K"]


# -- 3. a huge grid is refused by its count, before it is built ------------------------------------
def test_a_huge_repeat_is_refused_at_once(magics):
    t0 = time.monotonic()
    with pytest.raises(UsageError, match="at most 100 samples"):
        magics.nb2("-n 3000000 --plan", "x")
    s = nb2.Session(backend=OfflineBackend(), store=magics.store)
    with pytest.raises(errors.ValidationError, match="10000"):
        s.compare(prompt=[f"p{i}" for i in range(200)], resolution=["1K", "2K", "4K"], repeat=20)
    assert time.monotonic() - t0 < 10  # counted, not built: building takes minutes


# -- 4. named errors, never raw ones ---------------------------------------------------------------
class _Loud:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def test_a_variable_whose_str_raises_is_a_named_error():
    with pytest.raises(UsageError, match=r"loud.*RuntimeError: no text for you"):
        cellargs.interpolate("a {loud} lighthouse", {"loud": _Loud()})


def test_a_parent_that_is_a_superscript_digit_is_a_usage_error(magics):
    magics.nb2("", "a lighthouse")
    with pytest.raises(UsageError, match="turn number"):
        magics.nb2("--edit --parent ²", "darker")


def test_one_reference_given_as_a_string_is_one_reference(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    r = s.generate("x", references="a.png")
    assert [ref.name for ref in r.params.references] == ["a.png"]


@pytest.mark.parametrize("image", [Image.new("La", (8, 8)), Image.new("RGB", (0, 0))])
def test_odd_pil_images_are_named_errors(image):
    with pytest.raises(errors.ValidationError, match="reference"):
        Params("x", references=[image])


def test_a_lone_surrogate_is_refused_before_sending():
    with pytest.raises(errors.ValidationError, match="surrogate") as exc:
        Params("a lighthouse \ud800")
    assert exc.value.field == "prompt"
    with pytest.raises(errors.ValidationError, match="surrogate"):
        nb2.Reference(b"", role="style \udfff")


@pytest.mark.parametrize("wait", ["abc", 0, 61, 2.5, True, float("nan")])
def test_replicate_backend_checks_its_numbers(wait):
    with pytest.raises(errors.ValidationError, match="wait"):
        nb2.ReplicateBackend(api_token="r8_" + "x" * 37, base_url="http://127.0.0.1:9", wait=wait)


@pytest.mark.parametrize(
    "damage",
    [
        lambda rec: [rec],  # a list
        lambda rec: {k: v for k, v in rec.items() if k != "params"},
        lambda rec: {**rec, "output": {**rec["output"], "width": "wide"}},
    ],
)
def test_a_damaged_record_is_skipped_with_a_warning(tmp_path, damage):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    r = s.generate("a lighthouse")
    path = s.store.root / "runs" / f"{r.id}.json"
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    fresh = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    with pytest.warns(StoreWarning):
        again = fresh.generate("a lighthouse")
    assert not again.cached and again.id != r.id


# -- 5. the store trusts no pointer ----------------------------------------------------------------
def test_a_pointer_aimed_at_another_run_is_not_a_cache_hit(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    a, b = s.generate("a lighthouse"), s.generate("a windmill")
    key = b.record["cache_key"]
    pointer = s.store.root / "keys" / key[:2] / f"{key}.json"
    pointer.write_text(json.dumps({"run_id": a.id}))
    assert s.store.lookup(key) is None


def test_a_run_id_cannot_reach_outside_runs(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "evil.json").write_text(json.dumps({"status": "succeeded"}))
    with pytest.warns(StoreWarning, match="not a run id"):
        assert s.store.get("../../elsewhere/evil") is None
    assert s.store.image_path("../../elsewhere/evil") is None


# -- 9. the umask is honoured ----------------------------------------------------------------------
def test_store_files_follow_the_umask(tmp_path):
    old = os.umask(0o002)  # a group-shared store
    try:
        s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
        r = s.generate("a lighthouse")
    finally:
        os.umask(old)
    for path in (r.path, s.store.root / "runs" / f"{r.id}.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path


# -- 10. names and sizes ---------------------------------------------------------------------------
def test_output_names_that_are_keywords_are_refused_and_builtins_warned(magics):
    with pytest.raises(UsageError, match="not a Python variable name"):
        magics.nb2("-o class", "x")
    with pytest.warns(UserWarning, match="hides Python's built-in 'print'"):
        magics.nb2("-o print", "x")
    magics.shell.user_ns.pop("print", None)
    for name in ("nb", "pro", "g"):
        magics.shell.user_ns.pop(name, None)


def test_huge_prompts_and_roles_are_named_errors_with_the_limit():
    with pytest.raises(errors.ValidationError, match="more than the 20000 allowed"):
        Params("x" * 1_000_000)
    with pytest.raises(errors.ValidationError, match="at most 200"):
        nb2.Reference(b"", role="y" * 1_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Params("x" * 20_000)  # the limit itself is accepted
