"""Sessions outlive the kernel: the tree is saved by name in the store and picked up again."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nb2
from nb2.notebook.panel import Panel
from nb2.store import StoreWarning
from nb2.store.sessions import path_of, session_names

MAKE = textwrap.dedent(
    """
    import sys, nb2
    store, palette = sys.argv[1], sys.argv[2]
    s = nb2.Session(nb2.OfflineBackend(), store=store, name="hero",
                    references=[nb2.Reference(palette, role="palette")])
    a = s.generate("a lighthouse at dusk")
    b = s.edit("add fog")
    c = s.edit("make it night", parent=a)   # a branch
    s.upscale(b, "2K")
    s.checkout(b)
    print(a.id, b.id, c.id)
    """
)


def _made_elsewhere(tmp_path: Path, palette: Path) -> list[str]:
    """Build a tree in another Python process (a kernel that is gone now)."""
    done = subprocess.run(
        [sys.executable, "-c", MAKE, str(tmp_path / "runs"), str(palette)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.split()


def test_a_new_process_picks_up_the_whole_tree(tmp_path, images):
    a, b, c = _made_elsewhere(tmp_path, images["palette"])
    s = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs", name="hero")
    h = s.history
    assert [r.id for r in h][:3] == [a, b, c] and len(h) == 4
    assert [t.kind for t in h.turns] == ["generate", "edit", "edit", "upscale"]
    assert [r.number for r in h] == [1, 2, 3, 4]
    assert s.current.id == b and h.roots == [h[1]]
    assert {r.id for r in h.children(h[1])} == {b, c}
    assert h[4].parent == h[2] and h[4].size == tuple(2 * x for x in h[2].size)
    assert [(r.role, r.sha256) for r in s.references] == [
        ("palette", nb2.Reference(images["palette"]).sha256)
    ]
    # the next edit builds on the saved current turn, with the saved references
    e = s.edit("warmer light")
    assert e.parent.id == b and e.number == 5
    assert [r.role for r in e.params.references] == ["edit", "palette"]
    again = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs", name="hero")
    assert again.current.id == e.id and len(again.history) == 5


def test_resume_false_starts_afresh_and_names_are_separate(tmp_path, images):
    _made_elsewhere(tmp_path, images["palette"])
    fresh = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs", name="hero", resume=False)
    assert len(fresh.history) == 0 and fresh.current is None and fresh.references == []
    other = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs", name="other")
    assert len(other.history) == 0
    with pytest.raises(nb2.errors.ValidationError, match="no image to edit"):
        fresh.edit("darker")
    r = fresh.generate("a red kite")
    later = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs", name="hero")
    assert [x.id for x in later.history] == [r.id]  # the fresh tree replaced the old one
    assert session_names(later.store) == ["hero"]  # "other" made no turn, so saved nothing


def test_a_name_never_leaves_the_sessions_folder(store):
    for name in ("../../etc/x", "a/b", ".hidden", "", "ünïcode name"):
        path = path_of(store, name)
        assert path.parent == store.root / "sessions" and not path.name.startswith(".")
    s = nb2.Session(nb2.OfflineBackend(), store=store, name="../escape")
    s.generate("x")
    assert session_names(store) == ["../escape"]
    assert len(nb2.Session(nb2.OfflineBackend(), store=store, name="../escape").history) == 1


def test_a_run_gone_from_the_store_is_left_out_with_a_warning(store):
    s = nb2.Session(nb2.OfflineBackend(), store=store, name="gaps")
    a = s.generate("one")
    b = s.edit("two")
    c = s.edit("three")
    (store.root / "runs" / f"{b.id}.json").unlink()
    with pytest.warns(StoreWarning, match="no longer in the store"):
        again = nb2.Session(nb2.OfflineBackend(), store=store, name="gaps")
    assert [r.id for r in again.history] == [a.id, c.id]
    assert again.history[2].parent.id == a.id  # hangs from its nearest surviving ancestor
    assert again.current.id == c.id


def test_the_panel_selection_is_kept_with_the_tree(store):
    s = nb2.Session(nb2.OfflineBackend(), store=store, name="p")
    a = s.generate("one")
    s.edit("two")
    p = Panel(s)
    p.send = lambda content, buffers=None: None  # type: ignore[method-assign]
    p._dispatch(p, {"id": "1", "kind": "select", "node": a.id}, [])
    assert p.selected == a.id and s.current.id != a.id  # clicks never move code's turn
    s2 = nb2.Session(nb2.OfflineBackend(), store=store, name="p")
    assert s2.panel_selected == a.id
    p2 = Panel(s2)
    assert p2.selected == a.id and len(p2.history) == 2


def test_a_damaged_session_file_means_a_fresh_tree_not_a_crash(store):
    s = nb2.Session(nb2.OfflineBackend(), store=store, name="d")
    s.generate("one")
    path_of(store, "d").write_text("{not json")
    with pytest.warns(StoreWarning, match="unreadable"):
        again = nb2.Session(nb2.OfflineBackend(), store=store, name="d")
    assert len(again.history) == 0


KERNEL_CELL = """\
%%nb2 -o first
a lighthouse on a cliff
"""


def test_a_kernel_restart_loses_no_tree(tmp_path):
    """A real IPython kernel: make, restart, then %%nb2 --edit edits the last image."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    env = {"NB2_STORE": str(tmp_path / "runs"), "NB2_PROGRESS": "0"}
    km.start_kernel(cwd=str(tmp_path), env={**_env(), **env})
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(60)
        _run(kc, "%load_ext nb2")
        _run(kc, KERNEL_CELL)
        first = _run(kc, "print(first.id)").strip()
        km.restart_kernel(now=True)
        kc.wait_for_ready(60)
        _run(kc, "%load_ext nb2")
        _run(kc, "%%nb2 --edit -o second\nadd a storm")
        magics = "get_ipython().find_magic('nb2', 'line').__self__"
        check = "print(second.parent.id, len(s.history), s.current.id == second.id)"
        out = _run(kc, f"s = {magics}.session()\n{check}")
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    assert out.split() == [first, "2", "True"]


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}


def _run(kc, code: str) -> str:  # type: ignore[no-untyped-def]
    reply = kc.execute_interactive(code, timeout=120, output_hook=(out := _Out()))
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out.text)


class _Out:
    def __init__(self) -> None:
        self.text: list[str] = []

    def __call__(self, msg) -> None:  # type: ignore[no-untyped-def]
        if msg["msg_type"] == "stream":
            self.text.append(msg["content"]["text"])


def test_the_magic_lists_saved_sessions_and_resumes_one(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    from nb2.notebook.magic import Nb2Magics

    earlier = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs", name="hero")
    made = earlier.generate("a lighthouse")
    earlier.edit("add fog")
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)  # a new kernel's magic: it has made no session yet
    magics.store, magics.progress = str(tmp_path / "runs"), False
    shell.register_magics(magics)
    listed = str(shell.run_line_magic("nb2", "sessions"))
    assert "  hero: 2 turns" in listed and "* default: 0 turns" in listed
    shell.run_cell_magic("nb2", "--session hero --edit -o e", "make it night")
    e = shell.user_ns.pop("e")
    assert e.parent.params.prompt == "add fog" and e.parent.id != made.id
    assert "  hero: 3 turns" in str(shell.run_line_magic("nb2", "sessions"))
