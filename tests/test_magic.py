import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.grids.grid import Plan
from nb2.notebook.magic import Nb2Magics, interpolate, split_variants


@pytest.fixture
def ip(tmp_path, images):
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store = str(tmp_path / "runs")
    shell.register_magics(magics)
    shell.user_ns.update(palette_img=Image.open(images["palette"]), style="editorial light")
    yield shell, magics
    for name in ("hero", "e1", "e2", "g", "p"):
        shell.user_ns.pop(name, None)


def cell(shell, line, body):
    return shell.run_cell_magic("nb2", line, body)


def test_generate_with_every_model_option(ip, images):
    shell, _magics = ip
    cell(
        shell,
        f"-m nano-banana-2 -r 2K -a 16:9 -f jpg --ref {images['palette']}:palette "
        "--ref palette_img:style -s -o hero",
        "A serum bottle, {style}",
    )
    hero = shell.user_ns["hero"]
    p = hero.params
    assert (p.resolution, p.aspect_ratio, p.output_format) == ("2K", "16:9", "jpg")
    assert p.google_search is True and hero.size == (2752, 1536)
    assert p.prompt == "A serum bottle, editorial light"
    assert [r.role for r in p.references] == ["palette", "style"]
    cell(shell, "--image-search -r 1K -o e1", "a cat")
    assert shell.user_ns["e1"].params.image_search and shell.user_ns["e1"].params.google_search


def test_ref_globs_and_lists(ip, images, tmp_path):
    shell, _ = ip
    shell.user_ns["refs"] = [images["bottle"], images["face"]]
    cell(shell, f"--ref {tmp_path}/*.png:subject --ref refs -o hero", "x")
    roles = [(r.name, r.role) for r in shell.user_ns["hero"].params.references]
    assert roles == [
        ("bottle.png", "subject"),
        ("face.png", "subject"),
        ("bottle.png", None),
        ("face.png", None),
    ]


def test_edit_and_branch(ip):
    shell, _magics = ip
    cell(shell, "-o hero", "a cup on a table")
    cell(shell, "--edit -o e1", "darker")
    cell(shell, "--edit --parent 1 -o e2", "warmer")
    hero, e1, e2 = (shell.user_ns[k] for k in ("hero", "e1", "e2"))
    assert e1.parent == hero and e2.parent == hero
    cell(shell, "--edit --parent e1 -o e2", "cooler")
    assert shell.user_ns["e2"].parent == e1
    history = shell.run_line_magic("nb2", "history")
    assert len(history) == 4 and "#4 edit" in repr(history)


def test_sessions_are_separate(ip):
    shell, magics = ip
    cell(shell, "--session a -o hero", "x")
    with pytest.raises(nb2.errors.ValidationError, match="no image to edit"):
        cell(shell, "--session b --edit", "darker")
    shell.run_line_magic("nb2", "use b")
    assert magics.active == "b"
    assert "* b" in shell.run_line_magic("nb2", "sessions")
    shell.run_line_magic("nb2", "use default")


def test_variants_vary_and_plan(ip):
    shell, magics = ip
    plan = cell(
        shell,
        "--vary resolution=1K,2K --vary search=off,on --plan -o g",
        "A rooftop café in Lisbon at golden hour\n---\nthe same, shot on 35mm film",
    )
    assert isinstance(plan, Plan) and plan.cells == 8 and plan.new_calls == 8
    assert plan.axes == {
        "prompt": ["P1", "P2"],
        "resolution": ["1K", "2K"],
        "google_search": ["off", "on"],
    }
    assert magics.session().backend.calls == 0  # --plan calls nothing
    cell(shell, "--vary aspect=1:1,16:9 -n 2 -o g", "a kite")
    g = shell.user_ns["g"]
    assert g.counts() == {"succeeded": 4} and len(g.cells) == 4
    again = cell(shell, "--vary aspect=1:1,16:9 -n 2 --plan", "a kite")
    assert again.cached == 4 and again.new_calls == 0


def test_fresh_skips_the_cache(ip):
    shell, magics = ip
    cell(shell, "-o hero", "a boat")
    calls = magics.session().backend.calls
    cell(shell, "-o hero", "a boat")
    assert magics.session().backend.calls == calls
    cell(shell, "--fresh -o hero", "a boat")
    assert magics.session().backend.calls == calls + 1


@pytest.mark.parametrize(
    ("line", "error", "text"),
    [("--resolution 8K", nb2.errors.ValidationError, "allowed: 1K, 2K, 4K"),
     ("--aspect 7:5", nb2.errors.ValidationError, "aspect_ratio"),
     ("--format gif", nb2.errors.ValidationError, "jpg, png"),
     ("--vary colour=red,blue", UsageError, "AXIS one of"),
     ("--vary search=maybe", UsageError, "not on/off"),
     ("--ref missing.png", UsageError, "missing.png"),
     ("--no-such-flag", UsageError, "unrecognized"),
     ("--edit --parent 9", UsageError, "no turn #9"),
     ("-o 9lives", UsageError, "not a Python variable")],
)  # fmt: skip
def test_bad_options_say_what_is_allowed(ip, line, error, text):
    shell, magics = ip
    with pytest.raises(error, match=text):
        cell(shell, line, "a prompt")
    assert magics.session().backend.calls == 0  # refused before anything ran


def test_empty_cell(ip):
    with pytest.raises(UsageError, match="empty"):
        cell(ip[0], "", "   \n")


def test_config_defaults_and_the_config_report(ip, monkeypatch):
    shell, magics = ip
    shell.configurables.append(magics)
    shell.run_line_magic("config", 'Nb2Magics.resolution = "2K"')
    shell.run_line_magic("config", 'Nb2Magics.aspect = "3:2"')
    try:
        cell(shell, "-o hero", "x")
        assert shell.user_ns["hero"].size == (2528, 1696)
        monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_secretsecretsecret")
        report = shell.run_line_magic("nb2", "config")
        assert "token present: yes" in report and "secret" not in report
        assert "backend: offline" in report and "resolution: 2K" in report
    finally:
        shell.configurables.remove(magics)


def test_help_lists_every_option():
    doc = Nb2Magics.nb2.__doc__
    for flag in (
        "--model",
        "--resolution",
        "--aspect",
        "--format",
        "--ref",
        "--search",
        "--image-search",
        "--session",
        "--edit",
        "--parent",
        "--out",
        "--vary",
        "--repeat",
        "--fresh",
        "--plan",
        "--budget",
        "--concurrency",
        "--panel",
    ):
        assert flag in doc, flag
    assert "16:9" in doc and "1K, 2K or 4K" in doc


def test_interpolation():
    ns = {"style": "noir", "obj": type("O", (), {"name": "kite"})()}
    assert interpolate("{style} {obj.name} {missing} {{x}} {obj.nope}", ns) == (
        "noir kite {missing} {x} {obj.nope}"
    )
    assert split_variants("a\n---\nb\n  ---  \nc\n") == ["a", "b", "c"]


def test_card_escapes_and_stays_small(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    r = s.generate("<script>alert(1)</script> & a 4K poster", resolution="4K", aspect_ratio="1:1")
    bundle = r._repr_mimebundle_()
    assert "<script>alert" not in bundle["text/html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in bundle["text/html"]
    assert len(bundle["text/html"]) < 100_000
    assert bundle["text/plain"] == repr(r) and "0x" not in bundle["text/plain"]
    assert str(r.path) in bundle["text/html"]


def test_panel_for_the_session_with_the_form_filled_in(ip, images):
    shell, magics = ip
    cell(shell, "--session brand", "a first image")  # the session already has history
    line = f"--panel --session brand -r 2K -a 4:5 -s --ref {images['palette']}:palette -o p"
    shown = cell(shell, line, "A serum bottle on marble")
    panel = shell.user_ns["p"]
    assert shown is panel  # the cell's value, so the notebook shows it (with -o too)
    assert isinstance(cell(shell, "--panel", "a lamp"), nb2.Panel)  # without -o as well
    assert isinstance(panel, nb2.Panel) and panel.session is magics.session("brand")
    assert (panel.prompt, panel.resolution, panel.aspect_ratio) == (
        "A serum bottle on marble", "2K", "4:5",
    )  # fmt: skip
    assert panel.google_search is True
    assert [(r["name"], r["role"]) for r in panel.references] == [("palette.jpg", "palette")]
    assert [n["prompt"] for n in panel.history] == ["a first image"]
    assert len(panel.session.history) == 1  # showing the panel generates nothing


@pytest.mark.parametrize(
    ("line", "body", "words"),
    [
        ("--panel --vary resolution=1K,2K", "x", "no --vary"),
        ("--panel", "a\n---\nb", "one prompt"),
        ("--panel -r 8K", "x", "8K"),
    ],
)
def test_panel_refuses_what_it_cannot_show(ip, line, body, words):
    shell, _ = ip
    with pytest.raises((UsageError, nb2.errors.ValidationError), match=words):
        cell(shell, line, body)


def test_interrupt_mid_grid_keeps_shows_and_stores_finished_cells(
    ip, emulator, monkeypatch, capsys
):
    from .conftest import TOKEN
    from .sigint import sigint_when

    shell, magics = ip
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    monkeypatch.setenv("REPLICATE_BASE_URL", emulator.base_url)
    emulator.faults.slow_words = {"slow": 30.0}  # the others finish at once
    body = "\n---\n".join(["a quick kite", "a quick boat", "a slow kite", "a slow boat"])

    def quick_ones_stored() -> bool:  # as a second kernel would see the store
        runs = nb2.Store(magics.store).records()
        return len(emulator.created) == 4 and sum(r["status"] == "succeeded" for r in runs) == 2

    # Ctrl-C as Jupyter sends it, once the quick cells are stored and the slow ones run
    with sigint_when(quick_ones_stored), pytest.raises(KeyboardInterrupt):
        cell(shell, "--session live -o g", body)
    g = shell.user_ns["g"]  # kept, though the cell was interrupted
    assert g.counts() == {"succeeded": 2, "canceled": 2}
    assert sorted(emulator.canceled) == sorted(
        p for p in emulator.created if p not in {c.result.record["prediction_id"]
                                                 for c in g.cells if c.result}
    )  # fmt: skip
    store = magics.session("live").store
    for c in g.cells:
        if c.status == "succeeded":
            assert store.lookup(c.params.cache_key)["run_id"] == c.result.id
    assert "2 canceled, 2 succeeded" in capsys.readouterr().out  # the grid was shown


def test_background_runs_a_grid_and_keeps_the_handle(ip):
    shell, _ = ip
    assert cell(shell, "--vary aspect=1:1,16:9 -n 2 --background -o h", "a kite") is None
    h = shell.user_ns.pop("h")
    assert isinstance(h, nb2.grids.background.Background)
    g = h.wait(60)
    assert g.counts() == {"succeeded": 4} and len(g.axes["aspect_ratio"]) == 2
    for line in ("--background", "--background --plan --vary aspect=1:1,16:9"):
        with pytest.raises(UsageError, match="--background: a grid"):
            cell(shell, line, "one prompt")
    assert "--background" in Nb2Magics.nb2.__doc__
