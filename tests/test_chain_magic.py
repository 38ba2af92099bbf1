"""Chains from the magic and from code: ``%%nb2 --then``, ``image=``, named errors (issue 16)."""

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nb2
from nb2 import errors
from nb2.backends.offline import OfflineBackend, standins
from nb2.notebook.magic import Nb2Magics


@pytest.fixture
def ip(tmp_path):
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store = str(tmp_path / "runs")
    shell.register_magics(magics)
    yield shell, magics
    for name in ("hero", "cut", "up"):
        shell.user_ns.pop(name, None)


@pytest.fixture
def session(tmp_path):
    return nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")


def test_then_in_the_magic_after_a_generation(ip):
    shell, _ = ip
    line = (
        f"--then {standins.UPSCALER} scale_factor=2 sharpen=0.5 "
        f"--then {standins.REMOVER} background_type=white -o cut"
    )
    shell.run_cell_magic("nb2", line, "a perfume bottle on sand")
    cut = shell.user_ns["cut"]
    up = cut.parent
    assert up.params.values == {"scale_factor": 2, "sharpen": 0.5}
    assert cut.params.values == {"background_type": "white"} and cut.image.mode == "RGB"
    assert up.size == (2048, 2048) and up.parent.params.prompt == "a perfume bottle on sand"
    # a blank cell starts from the session's current image; so does the line magic
    shell.run_cell_magic("nb2", f"--then {standins.UPSCALER} scale_factor=2 -o up", "\n")
    assert shell.user_ns["up"].parent == cut and shell.user_ns["up"].size == (4096, 4096)
    last = shell.run_line_magic("nb2", f"then {standins.REMOVER} background_type=map")
    assert last.parent == shell.user_ns["up"] and last.params.values["background_type"] == "map"


def test_then_usage_errors(ip):
    shell, _ = ip
    with pytest.raises(UsageError, match="start with the model"):
        shell.run_cell_magic("nb2", "--then scale_factor=2", "x")
    with pytest.raises(UsageError, match="key=value"):
        shell.run_cell_magic("nb2", f"--then {standins.UPSCALER} 2", "x")
    with pytest.raises(UsageError, match="one prompt"):
        shell.run_cell_magic("nb2", f"--then {standins.UPSCALER}", "a\n---\nb")


def test_then_names_the_image_input_and_refuses_what_cannot_be(session):
    r = session.generate("a jar")
    up = r.then(standins.UPSCALER, image="image", scale_factor=2)
    assert up.params.images["image"][0].sha256 == nb2.Reference(r.path).sha256
    with pytest.raises(errors.ValidationError, match="not an image input") as e:
        r.then(standins.UPSCALER, image="mask")
    assert e.value.allowed == ["image"]
    with pytest.raises(errors.ValidationError, match="takes no image input"):
        r.then(standins.FLUX, prompt="x")
    with pytest.raises(errors.ValidationError, match="scale_factor") as e:
        r.then(standins.UPSCALER, scale_factor=16)
    assert "less than or equal to 4" in str(e.value)
    with pytest.raises(errors.ValidationError, match="pass prompt="):
        r.then("google/nano-banana-pro")
    pro = up.then("google/nano-banana-pro", prompt="warmer light")
    assert pro.params.model == "google/nano-banana-pro" and pro.parent == up
    assert pro.params.references[0].role == "edit"
    assert session.backend.calls == 3


def test_offline_names_the_models_it_can_stand_in_for(session):
    with pytest.raises(errors.ValidationError) as e:
        session.generate("x", model="openai/gpt-image-1.5")
    assert e.value.field == "model" and standins.FLUX in e.value.allowed
    assert session.backend.calls == 0


def test_a_chain_has_a_manifest_and_opens_back_as_its_request(session, tmp_path):
    import json

    r = session.generate("a jar", aspect_ratio="1:1")
    cut = r.then(standins.UPSCALER, scale_factor=2).then(standins.REMOVER, threshold=0.5)
    m = cut.manifest(tmp_path / "chain.json")
    assert json.loads((tmp_path / "chain.json").read_text()) == m
    steps = m["steps"]
    assert [s["model"] for s in steps] == [
        "google/nano-banana-2",
        standins.UPSCALER,
        standins.REMOVER,
    ]
    assert steps[1]["images"]["image"] == [steps[0]["output_sha256"]]
    assert steps[2]["images"]["image"] == [steps[1]["output_sha256"]]
    assert steps[1]["schema_version"] == standins.VERSIONS[standins.UPSCALER]
    assert steps[1]["version"] == "offline"
    assert steps[2]["input"]["threshold"] == 0.5 and steps[2]["parent"] == steps[1]["run_id"]
    opened = nb2.open(cut.path, store=session)
    assert opened.params == cut.params  # the request rebuilds from the file, schema included
    again = session.run(opened.params)
    assert again.id == cut.id and session.backend.calls == 3


def test_chain_steps_and_siblings_appear_in_the_panels_tree(session):
    from nb2.notebook.panel import Panel

    panel = Panel(session)
    r = session.generate("a jar")
    cut = r.then(standins.UPSCALER, scale_factor=2).then(standins.REMOVER)
    trio = session.generate("three jars", model=standins.FLUX, num_outputs=3)
    nodes = {n["id"]: n for n in panel.history}
    assert nodes[cut.id]["kind"] == "chain" and nodes[cut.id]["model"] == standins.REMOVER
    assert nodes[cut.id]["parent"] == cut.parent.id and nodes[cut.parent.id]["parent"] == r.id
    assert {s.id for s in trio.siblings} <= set(nodes)
    assert all(nodes[s.id]["model"] == standins.FLUX for s in trio.siblings)


def test_a_chain_step_can_be_edited_with_the_sessions_model(session):
    r = session.generate("a jar", references=[])
    up = r.then(standins.UPSCALER, scale_factor=2)
    e = up.edit("cooler tones")
    assert e.params.model == "google/nano-banana-2" and e.parent == up
    assert [ref.role for ref in e.params.references] == ["edit"]  # not the upscaler's input too
