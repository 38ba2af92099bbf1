"""The plan of the house (DESIGN.md), checked: imports run one way (import-linter contracts in
pyproject.toml), no module over 400 lines, no room reaching into another's private names."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "nb2"


def test_import_contracts_hold():
    # the one beside this interpreter first: a venv that is not activated has no PATH entry
    beside = Path(sys.executable).with_name("lint-imports")
    exe = str(beside) if beside.exists() else shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is missing: pip install -e '.[test]' installs import-linter")
    done = subprocess.run(
        [exe, "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "broken" in done.stdout and "0 broken" in done.stdout


def test_no_module_over_400_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not long, long


def test_the_folder_listing_shows_the_rooms():
    rooms = sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert rooms == [
        "anymodel", "archive", "backends", "emulator", "grids", "judging", "models",
        "notebook", "request", "session", "store", "views",
    ]  # fmt: skip


def test_at_most_six_flat_modules_at_the_top():
    # the request's vocabulary and the model tables have rooms; the top keeps what all share
    flat = sorted(p.stem for p in SRC.glob("*.py"))
    assert flat == ["__init__", "_version", "demo", "errors", "imaging", "shapes"], flat


def test_no_room_over_14_modules():
    big = {
        str(d.relative_to(SRC)): n
        for d in [SRC, *(p for p in SRC.rglob("*") if p.is_dir())]
        if (n := len([m for m in d.glob("*.py") if m.name != "__init__.py"])) > 14 and d != SRC
    }
    assert not big, big


# the rooms between the front ends and the store: an import of nb2 inside a function there
# either buys import time (and says so in a comment just above it) or hides a circle
_CORE = ("session", "grids", "judging", "archive", "anymodel")


def _function_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (
                    node.level or (node.module or "").startswith("nb2")
                ):
                    found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_function_level_import_of_nb2_hides_a_circle():
    hits = []
    for room in _CORE:
        for path in (SRC / room).rglob("*.py"):
            lines = path.read_text(encoding="utf-8").splitlines()
            for lineno, text in _function_imports(path):
                if not lines[lineno - 2].strip().startswith("#"):
                    hits.append(f"{path.relative_to(SRC)}:{lineno}: {text}")
    assert not hits, "\n".join(hits)


# `x._name` where x is another room's object: a session, a store, a reference, a backend
_FOREIGN = re.compile(r"\b(session|store|ref|backend|result|grid)\._[a-z]\w*")


def test_no_room_reads_another_rooms_private_names():
    hits = []
    for path in SRC.rglob("*.py"):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _FOREIGN.search(line):
                hits.append(f"{path.relative_to(SRC)}:{i}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_the_engine_never_prints():
    for room in (*_CORE, "store", "backends", "views"):
        for path in (SRC / room).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*print\(", text, re.M), path


def test_the_version_has_one_source():
    from importlib.metadata import version

    import nb2

    assert nb2.__version__ == version("nb2")
    assert "__version__ =" not in (SRC / "__init__.py").read_text(encoding="utf-8")
    assert sys.modules["nb2._version"].__version__ == nb2.__version__
