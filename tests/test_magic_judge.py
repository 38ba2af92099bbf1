"""``%%nb2 --judge [MODEL]`` (issue 34): a cell's images judged after it ran, the card showing
the score; a grid's report as the cell's value; a plan of both; a bad judge named before
anything is generated."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nb2 import errors
from nb2.judging.judged import JudgePlan, JudgeReport
from nb2.notebook.magic import Nb2Magics


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for var in ("REPLICATE_API_TOKEN", "GEMINI_API_KEY", "GOOGLE_API_KEY", "NB2_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store = str(tmp_path / "runs")
    magics.progress = False
    shell.register_magics(magics)
    yield shell, magics
    for name in ("hero", "e1", "g"):
        shell.user_ns.pop(name, None)


def runs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "runs" / "runs").rglob("*.json"))


def test_a_judged_cell_shows_its_score_on_the_card(ip):
    shell, _ = ip
    with capture_output() as shown:
        shell.run_cell_magic("nb2", "--judge -o hero", "two foxes on a rock")
    hero = shell.user_ns["hero"]
    assert hero.judgment is not None and hero.judgment.judge == "offline"
    assert hero.judgment.score == pytest.approx(2 / 3)  # one fox drawn: the count fails
    html = shown.outputs[-1].data["text/html"]
    assert "judge 0.67" in html and "Are there 2 foxes?" in html
    with capture_output():
        shell.run_cell_magic("nb2", "--edit --judge -o e1", "make it darker")
    assert shell.user_ns["e1"].judgment is not None


def test_a_judged_grid_returns_its_report(ip):
    shell, _ = ip
    with capture_output():
        report = shell.run_cell_magic(
            "nb2", "--vary aspect=1:1,16:9 --judge -o g", "a red fox\n---\ntwo blue foxes"
        )
    assert isinstance(report, JudgeReport) and len(report.rows) == 4
    g = shell.user_ns["g"]
    assert {c.result.id for c in g.cells} == set(report.scores)
    assert sorted(set(report.scores.values())) == [pytest.approx(2 / 3), 1.0]


def test_a_plan_with_judge_shows_both_plans_and_runs_nothing(ip, tmp_path):
    shell, _ = ip
    with capture_output() as shown:
        plan = shell.run_cell_magic("nb2", "--vary aspect=1:1,16:9 --plan --judge", "a red fox")
    assert isinstance(plan, JudgePlan) and plan.missing == 2 and plan.calls == 0
    assert "Plan" in shown.outputs[0].data["text/plain"]
    assert runs(tmp_path) == []


@pytest.mark.parametrize("line", ["--judge gemini-9", "--judge gemini-3.8-flash"])
def test_a_bad_judge_is_named_before_anything_is_made(ip, tmp_path, line):
    shell, _ = ip
    with pytest.raises(errors.Nb2Error) as e:
        shell.run_cell_magic("nb2", line, "a red fox")
    assert "gemini-9" in str(e.value) or "GEMINI_API_KEY" in str(e.value)
    assert runs(tmp_path) == []


def test_the_configured_judge_is_used_and_checked(ip, tmp_path):
    shell, magics = ip
    magics.judge = "nope"
    with pytest.raises(errors.ValidationError) as e:
        shell.run_cell_magic("nb2", "--judge", "a red fox")
    assert e.value.field == "model" and e.value.value == "nope"
    assert runs(tmp_path) == []
    with pytest.raises(UsageError, match="--background"):
        shell.run_cell_magic("nb2", "-n 2 --yes --background --judge", "a red fox")


def test_configured_model_questions_reach_a_gemini_judge_and_not_the_stand_in(
    ip, tmp_path, monkeypatch
):
    from nb2.emulator import GeminiEmulator

    shell, magics = ip
    magics.judge_questions = "model"
    with capture_output():  # the offline stand-in asks the rules' questions whatever is set
        shell.run_cell_magic("nb2", "--judge -o hero", "two foxes on a rock")
    assert shell.user_ns["hero"].judgment.version == "rules-1"
    emu = GeminiEmulator().start()
    try:
        monkeypatch.setenv("GEMINI_API_KEY", "AIza-magic-judge-key-0123456789")
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emu.base_url)
        with capture_output():
            shell.run_cell_magic("nb2", "--backend gemini --judge -o hero", "two foxes on a rock")
        j = shell.user_ns["hero"].judgment
        assert j.version == "model-1:gemini-3.8-flash" and emu.decompose_calls == 1
        assert emu.judge_calls == 1 and j.questions_cost > 0
    finally:
        emu.stop()
