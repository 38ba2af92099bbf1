"""Reliability under faults: a 48-cell grid against a misbehaving API, an interrupt in the
middle of it, and a store writer killed at random points. Speed is the benchmark's business;
these assert outcomes only."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import nb2
from nb2.emulator import Emulator
from nb2.store import Store

from .conftest import TOKEN
from .sigint import sigint_when

CELLS = 48
FLAGGED = {5, 17, 30, 41}  # moderated: "[flag]" in the prompt
SLOW = {2, 9, 14, 22, 27, 35, 44}  # longer than the sync hold, so they are polled


def _prompts() -> list[str]:
    out = []
    for i in range(CELLS):
        tags = (" [flag]" if i in FLAGGED else "") + (" [slow]" if i in SLOW else "")
        out.append(f"a lighthouse, take {i}{tags}")
    return out


def _faulty(emu: Emulator, slow: float) -> nb2.ReplicateBackend:
    f = emu.faults
    f.latency = 0.05
    f.slow_words = {"[slow]": slow}
    f.throttle_creates = 3  # a 429 burst at the start (another comes mid-run)
    f.retry_after = 0.2
    f.poll_errors = 4  # 503s on polls
    f.drop_connections = 1  # the very first request's socket is closed unanswered
    f.drop_every = 13  # and every 13th request after that: creates, polls, lists, downloads
    f.drop_create_responses = 2  # two creates are made but their answer is lost
    return nb2.ReplicateBackend(
        api_token=TOKEN,
        base_url=emu.base_url,
        wait=1,
        poll_interval=0.05,
        lost_create_grace=0.2,
    )


def _creates_per_input(emu: Emulator) -> collections.Counter[str]:
    return collections.Counter(
        json.dumps(p.input, sort_keys=True) for p in list(emu.predictions.values())
    )


def test_faulty_grid_stores_every_cell_once(tmp_path: Path) -> None:
    with Emulator() as emu:
        backend = _faulty(emu, slow=1.3)
        s = nb2.Session(backend=backend, store=tmp_path / "runs")
        g = s.compare(prompt=_prompts(), output_format="jpg")

        def burst(grid: Any) -> None:  # a second 429 burst once a third of the cells are done
            if sum(c.status != "running" and c.status != "pending" for c in grid.cells) == 16:
                emu.faults.throttle_creates = 4

        g.run(max_concurrency=8, on_progress=burst)

        # the faults did fire
        assert emu.faults.throttle_creates == 0 and emu.faults.poll_errors == 0
        assert emu.faults.drop_create_responses == 0
        dropped = {(m, p.split("/")[1]) for m, p in emu.dropped}
        assert ("POST", "v1") in dropped and len(emu.dropped) >= 5
        # zero duplicate creates: one prediction per distinct input, one per cell
        per_input = _creates_per_input(emu)
        assert len(per_input) == CELLS and set(per_input.values()) == {1}

    assert g.counts() == {"succeeded": CELLS - len(FLAGGED), "blocked": len(FLAGGED)}
    store = Store(tmp_path / "runs")  # a fresh look at what is on disk
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unreadable record, no image failing its hash
        records = list(store.records())
        for i, cell in enumerate(g.cells):
            if i in FLAGGED:
                assert cell.status == "blocked" and "E005" in (cell.error or "")
                assert store.lookup(cell.params.cache_key) is None
                continue
            record = store.lookup(cell.params.cache_key)
            assert record is not None and record["run_id"] == cell.result.id
            path = store.image_path(record["output"]["sha256"], record["output"]["format"])
            assert path is not None
            data = path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == record["output"]["sha256"]
            with Image.open(path) as img:
                img.load()  # a whole, decodable image
                assert img.size == cell.result.size
    by_status = collections.Counter(r["status"] for r in records)
    assert by_status == {"succeeded": CELLS - len(FLAGGED), "blocked": len(FLAGGED)}
    blocked = {r["params"]["prompt"] for r in records if r["status"] == "blocked"}
    assert blocked == {p for i, p in enumerate(_prompts()) if i in FLAGGED}
    # nothing half-written: no temp file left, every record's image present
    leftovers = [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for r in records:
        if r["status"] == "succeeded":
            assert store.image_path(r["output"]["sha256"], r["output"]["format"]) is not None


def test_interrupt_mid_faulty_grid_cancels_everything_in_flight(tmp_path: Path) -> None:
    with Emulator() as emu:
        backend = _faulty(emu, slow=30.0)  # slow cells would run for half a minute
        s = nb2.Session(backend=backend, store=tmp_path / "runs")
        g = s.compare(prompt=_prompts(), output_format="jpg")

        def some_done_slow_ones_running() -> bool:
            done = any(c.status == "succeeded" for c in g.cells)
            slow = [p for p in emu.predictions.values() if "[slow]" in p.input["prompt"]]
            return done and bool(slow)

        with sigint_when(some_done_slow_ones_running), pytest.raises(KeyboardInterrupt):
            g.run(max_concurrency=8)
        # nothing is left running at the API: each prediction finished or was canceled there
        assert emu.in_flight() == 0
        canceled = [p.id for p in emu.predictions.values() if p.status == "canceled"]
        assert canceled and set(canceled) <= set(emu.canceled)
        slow_made = [p for p in emu.predictions.values() if "[slow]" in p.input["prompt"]]
        assert slow_made and all(p.status == "canceled" for p in slow_made)
        assert len(emu.created) < CELLS
        assert set(_creates_per_input(emu).values()) == {1}

    counts = g.counts()
    assert counts.get("succeeded", 0) >= 1 and counts.get("canceled", 0) >= 1
    assert counts.get("pending", 0) == 0 and counts.get("running", 0) == 0
    store = Store(tmp_path / "runs")
    records = {r["run_id"]: r for r in store.records()}
    for cell in g.cells:  # what finished is stored; the canceled ones are recorded as such
        if cell.status == "succeeded":
            assert store.lookup(cell.params.cache_key)["run_id"] == cell.result.id
    statuses = collections.Counter(r["status"] for r in records.values())
    assert statuses["canceled"] >= len(canceled)


# -- a store writer killed at random points -------------------------------------------------------
_WRITER = textwrap.dedent("""
    import os, sys
    from nb2.store import Store
    store, start = Store(sys.argv[1]), int(sys.argv[2])
    rng = __import__("random").Random(start)
    print("ready", flush=True)
    for i in range(start, start + 10**6):
        data = os.urandom(rng.randrange(1, 1 << 20))
        sha, _ = store.put_image(data, "png")
        pad = "x" * rng.randrange(1 << 16)
        store.save({"run_id": f"run{i:08d}", "status": "succeeded", "cache_key": f"{i:064x}",
                    "params": {"prompt": "x"},
                    "output": {"sha256": sha, "format": "png", "width": 8, "height": 8},
                    "pad": pad})
        print(f"run{i:08d}", flush=True)  # only after save() returned: this one is complete
""")


def _lines_until_killed(proc: subprocess.Popen[bytes], after: float) -> list[str]:
    """Read completed lines for ``after`` seconds, SIGKILL the writer, read what is left."""
    out = b""
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    end = time.monotonic() + after
    while (left := end - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    while chunk := os.read(fd, 65536):
        out += chunk
    proc.stdout.close()  # type: ignore[union-attr]
    lines = out.decode().split("\n")
    return [ln for ln in lines[:-1] if ln.startswith("run")]  # a last line without \n: unsure


def test_store_survives_twenty_sigkills(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    rng = random.Random(7)
    completed: list[str] = []
    for round_ in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), str(round_ * 100_000)],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        completed += _lines_until_killed(proc, rng.uniform(0.0, 0.35))
        store = Store(root)  # loads, after every kill
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no half-written record or image is visible
            records = {r["run_id"]: r for r in store.records()}
            for run_id in completed:
                record = records[run_id]
                assert store.lookup(record["cache_key"])["run_id"] == run_id
            for record in records.values():  # the one cut short is whole or absent
                assert store.image_path(record["output"]["sha256"], "png") is not None
    assert len(completed) >= 20  # the kills did land among finished writes


# -- fuzzing: Params, the magic's options, reference files --------------------------------------
_OPTS = ["-m", "--model", "-r", "--resolution", "-a", "--aspect", "-f", "--format", "-s",
         "--search", "--image-search", "-e", "--edit", "--parent", "-o", "--vary", "-n",
         "--repeat", "--fresh", "--plan", "--budget", "--concurrency", "--yes", "--ref",
         "--session", "--", "-x", "--nope"]  # fmt: skip
_VALUES = ["nano-banana-2", "nano-banana", "nano-banana-pro", "google/nano-banana-2", "1K",
           "2K", "4K", "1k", "3K", "16:9", "1:8", "21:9", "match_input_image", "7:3", "jpg",
           "png", "webp", "resolution=1K,2K", "aspect=1:1,16:9", "search=on,off", "res=1K",
           "format=jpg,png", "model=nano-banana,nano-banana-2", "image_search=on", "prompt=a,b",
           "resolution=", "=", "1", "0", "-1", "3", "9", "65", "1e9", "nan", "inf", "-0.5",
           "0.1", "x", "hero", "class", "1x", "#1", "'quoted value'", '"', "'", "\\", "{style}",
           "é", "http://127.0.0.1:9/x.png", "ref.png:style", "ref.png:", "*.png", "*",
           "missing.png", "style"]  # fmt: skip
_BODIES = ["a kite", "", "   ", "a kite\n---\na boat", "{style} kite", "{{", "---", "[flag] x",
           "{missing.attr}", "a\n---\n\n---\nb"]  # fmt: skip


class Recorder:
    """A backend that records what would go on the wire and answers with a tiny image."""

    name = "recorder"
    offline = True

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "offline": True}

    def run(
        self, params: Any, *, cancel: Any = None, on_status: Any = None, on_created: Any = None
    ) -> Any:
        import io

        from nb2.backends import Output

        self.calls.append(params)
        buf = io.BytesIO()
        fmt = params.output_format or "jpg"
        Image.new("RGB", (8, 8), (9, 9, 9)).save(buf, "PNG" if fmt == "png" else "JPEG")
        return Output(data=buf.getvalue(), format=fmt)


def _wire_problems(params: Any) -> list[dict[str, Any]]:
    """What the API (the emulator's rules) would refuse in this request."""
    data = dict(params.scalar_input())
    if params.references:
        data["image_input"] = [r.load().data_uri()[:64] for r in params.references]
    return nb2.models.check_input(params.model, data)


def test_fuzz_magic_options_raise_only_named_errors(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    from nb2.errors import Nb2Error
    from nb2.notebook.magic import Nb2Magics

    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "ref.png")
    recorder = Recorder()
    session = nb2.Session(backend=recorder, store=tmp_path / "runs")
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.session = lambda name=None, backend=None: session  # type: ignore[method-assign]
    shell.register_magics(magics)
    shell.user_ns["style"] = "soft light"
    word = st.one_of(st.sampled_from(_OPTS), st.sampled_from(_VALUES), st.text(max_size=6))
    crashes: list[str] = []

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(word, max_size=7), st.one_of(st.sampled_from(_BODIES), st.text(max_size=30)))
    def one(words: list[str], body: str) -> None:
        line = " ".join(words)
        try:
            shell.run_cell_magic("nb2", line, body)
        except (UsageError, Nb2Error):
            pass
        except Exception as exc:  # collected, so the report names every kind found
            crashes.append(f"%%nb2 {line!r} / {body!r}: {type(exc).__name__}: {exc}")
            raise

    try:
        one()
    finally:
        shell.user_ns.pop("hero", None)
    assert crashes == []
    assert recorder.calls  # the fuzzing did reach the backend with valid requests
    for params in recorder.calls:
        assert _wire_problems(params) == [], params


def test_fuzz_params_only_valid_requests_reach_the_api(emulator: Emulator, tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from nb2.errors import ValidationError
    from nb2.request.params import Params

    backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emulator.base_url)
    junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=5))

    def field(*valid: Any) -> Any:
        return st.one_of(st.sampled_from(valid), junk)

    sent: list[Any] = []

    @settings(
        max_examples=120,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        prompt=st.one_of(st.text(max_size=20), st.sampled_from(["a kite", " ", ""])),
        model=field("nano-banana-2", "nano-banana", "nano-banana-pro", "google/nano-banana"),
        resolution=field("1K", "2K", "1k", "8K"),
        aspect_ratio=field("1:1", "8:1", "16:9", "match_input_image", "1:3"),
        output_format=field("jpg", "png", "gif"),
        google_search=field(True, False),
        image_search=field(True, False),
        repeat=st.one_of(st.integers(-2, 3), junk),
    )
    def one(**kw: Any) -> None:
        try:
            params = Params(**kw)
        except ValidationError as exc:
            assert exc.field, exc  # every refusal names its field
            return
        assert _wire_problems(params) == []
        if len(sent) < 12 and params.resolution != "4K":  # a sample goes over the wire
            sent.append(params)
            backend.run(params.replace(output_format="jpg", prompt=f"fuzz {len(sent)}"))

    one()
    assert sent and emulator.refused == [] and len(emulator.created) == len(sent)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` and holds a few bytes: a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_bad_reference_files_are_named_errors(tmp_path: Path) -> None:
    import io

    from nb2.errors import ValidationError
    from nb2.request.params import Params

    good = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(good, "PNG")
    jpg = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(jpg, "JPEG")
    cases = {
        "empty.png": b"",
        "truncated.png": good.getvalue()[: len(good.getvalue()) // 2],
        "truncated.jpg": jpg.getvalue()[:200],
        "notes.png": b"just some text, not an image\n" * 10,
        "bomb.png": _png_header(20000, 20000),
        "big.png": _png_header(9000, 9000),  # under Pillow's own bomb limit, over ours
        "script.svg": b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValidationError) as exc:
            nb2.Reference(path).load()
        assert exc.value.field == "references" and name in str(exc.value), name
        with pytest.raises(ValidationError) as exc:
            Params("x", references=[path])
        assert exc.value.field == "references[0]", name
        with pytest.raises(ValidationError):
            nb2.Reference(data).load()  # the same bytes in memory
    with pytest.raises(ValidationError, match="no such file") as exc:
        Params("x", references=[tmp_path / "missing.png"])
    assert exc.value.field == "references[0]"
    with pytest.raises(ValidationError, match="could not download") as exc:
        Params("x", references=["http://127.0.0.1:9/nothing-listens-here.png"])
    assert exc.value.field == "references[0]"


def test_fuzz_reference_bytes() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from nb2.errors import ValidationError

    heads = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP",
             b"BM", b"II*\x00"]  # fmt: skip

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.sampled_from(heads), st.binary(max_size=300))
    def one(head: bytes, tail: bytes) -> None:
        try:
            nb2.Reference(head + tail).load()
        except ValidationError as exc:
            assert exc.field == "references"

    one()


# -- secrets: the token after a full run ----------------------------------------------------------
_NOTEBOOK = [
    "import logging, sys\nlogging.basicConfig(level=logging.DEBUG, stream=sys.stdout)",
    "%load_ext nb2\n%config Nb2Magics.store = 'runs'",
    "%%nb2 -r 1K -o hero\na kite over hills",
    "%%nb2 --edit\ndarker",
    "%%nb2 --vary aspect=1:1,3:2 -o g\na boat",
    "%%nb2\n[flag] this one is blocked",
    "%nb2 config",
    "print(repr(hero), hero.record, g.records(), repr(g), hero.session.backend)",
    "hero.session.history",
]


def _leak_texts(exc: BaseException) -> list[str]:
    import traceback

    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)), str(vars(exc))]


def test_token_is_nowhere_after_a_full_run(
    emulator: Emulator, backend: nb2.ReplicateBackend, tmp_path: Path, caplog: Any, monkeypatch: Any
) -> None:
    import logging

    import nbformat
    from nbclient import NotebookClient

    from nb2.views.html import grid_html, history_html

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "replicate", "nb2", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    r = s.generate("a kite")
    r2 = s.edit("darker")
    g = s.compare(prompt=["a", "b [flag]"], aspect_ratio=["1:1", "3:2"]).run()
    texts = [repr(x) for x in (s, backend, r, r2, r.params, s.history, s.store, g, g.plan())]
    texts += [json.dumps(g.records()), history_html(s.history), grid_html(g)]
    texts += [r.record and json.dumps(r.record), r._repr_mimebundle_()["text/html"]]
    errors: list[BaseException] = []
    emulator.faults.fail_next = 1
    for prompt, fault in (("fails", None), ("[flag] blocked", None), ("refused", "tokens")):
        if fault == "tokens":
            emulator.faults.tokens = ("someone-else",)
        with pytest.raises(nb2.errors.Nb2Error) as caught:
            s.generate(prompt)
        errors.append(caught.value)
    emulator.faults.tokens = None
    for exc in errors:
        texts += _leak_texts(exc)
    texts.append(caplog.text)
    texts += [r.getMessage() + repr(r.args) for r in caplog.records]
    # the panel on the same session: every synced trait, as the front end would receive it
    panel = nb2.Panel(s)
    panel.prompt = "a panel run"
    panel._dispatch(panel, {"id": "1", "kind": "generate"}, [])
    panel.wait(30)
    assert len(panel.history) == len(s.history)
    texts += [repr(panel.get_state()), repr(panel), panel._static_html()]

    # the same, seen from a notebook: every output of a kernel that ran the magic
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    monkeypatch.setenv("REPLICATE_BASE_URL", emulator.base_url)
    nb_dir = tmp_path / "nb"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in _NOTEBOOK]
    nb.cells[5].metadata["tags"] = ["raises-exception"]
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(nb_dir)}}
    ).execute()
    nbformat.write(nb, nb_dir / "run.ipynb")
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "error" for o in outputs)  # the blocked cell
    assert any("HTTP Request" in o.get("text", "") for o in outputs)  # debug logging was on
    texts.append((nb_dir / "run.ipynb").read_text())

    assert TOKEN in emulator.tokens_seen  # the API did get it, so the scans are meaningful
    assert len(texts) > 20
    for text in texts:
        assert TOKEN not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
