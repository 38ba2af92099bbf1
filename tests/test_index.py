"""The run index (SQLite beside the JSON records), nb2.find and %nb2 find / store."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

import nb2
from nb2.store import StoreWarning
from nb2.store.index import NAME, Index


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "PNG")
    return out.getvalue()


def write_run(store: nb2.Store, n: int, prompt: str, *, days_ago: float = 0, **params) -> dict:
    """A succeeded record as the runner writes it, made by hand (cost and time chosen)."""
    when = datetime.now(timezone.utc) - timedelta(days=days_ago)
    sha, path = store.put_image(_png((n % 256, 40, 90)), "png")
    p = {"model": "google/nano-banana-2", "prompt": prompt, "resolution": "1K",
         "aspect_ratio": "1:1", "output_format": "png", "google_search": False,
         "image_search": False, "references": [], "options": {}, "repeat": 0, **params}  # fmt: skip
    record = {
        "run_id": f"{when:%Y%m%dT%H%M%S%f}-{n:08x}",
        "kind": params.pop("kind", "generate"),
        "status": "succeeded",
        "session": "bench",
        "model": p["model"],
        "params": p,
        "backend": {"name": "replicate", "offline": False},
        "estimated_cost": {"1K": 0.067, "2K": 0.101, "4K": 0.151}.get(p["resolution"], 0.039),
        "requested_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "output": {
            "sha256": sha,
            "format": "png",
            "width": 32,
            "height": 24,
            "bytes": 100,
            "file": str(path.relative_to(store.root)),
        },
    }
    store.save(record)
    return record


@pytest.fixture
def runs(store):
    made = [
        write_run(store, 1, "a lighthouse on a cliff at dusk", resolution="2K", google_search=True),
        write_run(store, 2, "a lighthouse in fog", days_ago=10),
        write_run(store, 3, "a red kite over the sea", resolution="4K", aspect_ratio="16:9"),
        write_run(store, 4, "portrait <script>alert(1)</script>", output_format="jpg"),
        write_run(store, 5, "a lighthouse, watercolour", model="google/nano-banana-pro"),
    ]
    return store, made


def ids(results) -> list[str]:
    return [r.id for r in results]


def test_find_by_text_and_filters(runs):
    store, made = runs
    light = nb2.find("lighthouse", store=store)
    assert ids(light) == [made[4]["run_id"], made[0]["run_id"], made[1]["run_id"]]  # newest first
    assert all(isinstance(r, nb2.Result) for r in light)
    assert ids(nb2.find("light", store=store)) == ids(light)  # words are prefixes
    assert ids(nb2.find("lighthouse fog", store=store)) == [made[1]["run_id"]]  # every word
    assert ids(nb2.find("lighthouse", store=store, since="7d")) == ids(light)[:2]
    assert ids(nb2.find(store=store, model="nano-banana-pro")) == [made[4]["run_id"]]
    assert ids(nb2.find(store=store, resolution="4k")) == [made[2]["run_id"]]
    assert ids(nb2.find(store=store, search=True)) == [made[0]["run_id"]]
    assert ids(nb2.find(store=store, aspect="16:9", format="png")) == [made[2]["run_id"]]
    assert ids(nb2.find(store=store, format="jpeg")) == [made[3]["run_id"]]
    assert len(nb2.find(store=store, resolution=["2K", "4K"])) == 2
    by_cost = nb2.find(store=store, sort="cost")
    assert [r.cost for r in by_cost] == sorted((r.cost for r in by_cost), reverse=True)
    assert by_cost[0].id == made[2]["run_id"]
    assert len(nb2.find(store=store, min_cost=0.1)) == 2 and len(nb2.find(store=store)) == 5
    assert len(nb2.find(store=store, limit=2)) == 2
    assert nb2.find(store=store, session="nobody") == []


def test_bad_filters_are_named(runs):
    store, _ = runs
    with pytest.raises(nb2.errors.ValidationError, match="'colour' is not a filter"):
        nb2.find("x", store=store, colour="red")
    with pytest.raises(nb2.errors.ValidationError, match="not a time"):
        nb2.find("x", store=store, since="last tuesday")
    with pytest.raises(nb2.errors.ValidationError, match="sort"):
        nb2.find(store=store, sort="random")


def test_text_is_never_fts_syntax(runs):
    store, _ = runs
    for text in ('"', "NEAR(a b)", "lighthouse OR kite", "*", "a AND", "-fog", "col:x"):
        nb2.find(text, store=store)  # no sqlite error, whatever the user types
    assert nb2.find("OR", store=store) == []


def test_the_table_escapes_user_text(runs):
    store, _ = runs
    html = nb2.find("portrait", store=store)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "data:image/" in html
    assert "1 run(s)" in repr(nb2.find("portrait", store=store))


def test_the_index_is_rebuilt_when_missing_or_damaged(runs):
    store, _ = runs
    assert len(nb2.find(store=store)) == 5
    Index.of(store).close()
    (store.root / NAME).unlink()
    assert len(nb2.find(store=store)) == 5  # rebuilt from the records
    Index.of(store).close()
    for suffix in ("-wal", "-shm"):
        (store.root / f"{NAME}{suffix}").unlink(missing_ok=True)
    (store.root / NAME).write_bytes(b"this is not a database" * 100)
    with pytest.warns(StoreWarning, match="damaged"):
        assert len(nb2.find(store=store)) == 5


def test_a_bad_record_is_skipped_with_one_warning(runs):
    store, _ = runs
    (store.root / "runs" / "20260101T000000000000-bad.json").write_text("{ not json")
    (store.root / "runs" / "20260101T000000000001-list.json").write_text("[1, 2]")
    with pytest.warns(StoreWarning) as said:
        assert len(nb2.find(store=store)) == 5
    assert len([w for w in said if "skipped" in str(w.message)]) == 2
    write_run(store, 9, "one more lighthouse")
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)  # not warned again until they change
        assert len(nb2.find("lighthouse", store=store)) == 4


def test_changes_and_deletions_reach_the_index(runs):
    store, made = runs
    assert len(nb2.find("kite", store=store)) == 1
    record = dict(made[2], status="failed")
    store.save(record)
    assert nb2.find("kite", store=store) == []
    assert len(nb2.find("kite", store=store, status="failed")) == 1
    (store.root / "runs" / f"{made[0]['run_id']}.json").unlink()
    assert len(nb2.find("lighthouse", store=store)) == 2


WRITER = textwrap.dedent(
    """
    import sys, nb2
    s = nb2.Session(nb2.OfflineBackend(), store=sys.argv[1], name="other", cache="off")
    for i in range(int(sys.argv[2])):
        s.generate(f"beacon number {i}", resolution="1K")
        nb2.find("beacon", store=sys.argv[1])   # this kernel reads and updates the index too
    """
)


def test_two_kernels_share_one_index(store):
    """Another process writes runs and queries while this one queries: no lock errors, and
    every run it made is found here once it is done."""
    n = 12
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store.root), str(n)])
    seen = 0
    while proc.poll() is None:
        seen = max(seen, len(nb2.find("beacon", store=store)))
    assert proc.returncode == 0
    found = nb2.find("beacon", store=store, session="other")
    assert len(found) == n and seen <= n
    assert {r.record["params"]["prompt"] for r in found} == {f"beacon number {i}" for i in range(n)}


def test_store_stats(runs):
    store, made = runs
    stats = nb2.store_stats(store)
    assert stats.runs == 5 and stats.by_status == {"succeeded": 5}
    assert abs(stats.spend - sum(r["estimated_cost"] for r in made)) < 1e-9
    assert dict((m, n) for m, n, _ in stats.by_model) == {
        "google/nano-banana-2": 4, "google/nano-banana-pro": 1,
    }  # fmt: skip
    assert sum(n for _, n, _ in stats.by_month) == 5
    assert stats.bytes["images"] > 0 and stats.bytes["runs"] > 0
    assert "runs: 5" in repr(stats) and "spend" in stats._repr_html_()


def test_the_line_magic_finds_and_summarises(runs):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    from nb2.notebook.magic import Nb2Magics

    store, made = runs
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store = str(store.root)
    shell.register_magics(magics)
    found = shell.run_line_magic("nb2", "find lighthouse --model nano-banana-2 --since 7d")
    assert ids(found) == [made[0]["run_id"]]
    found = shell.run_line_magic("nb2", "find --search --resolution 2K")
    assert ids(found) == [made[0]["run_id"]]
    assert len(shell.run_line_magic("nb2", "find --sort cost --limit 2")) == 2
    assert shell.run_line_magic("nb2", "store").runs == 5
    with pytest.raises(UsageError, match="find"):
        shell.run_line_magic("nb2", "find --limit many")


def test_find_filters_on_ratings(tmp_path):
    from nb2.backends.offline import OfflineBackend
    from nb2.errors import ValidationError

    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    kite, boat, _cat = (s.generate(p) for p in ("a kite", "a boat", "a cat"))
    kite.rate(5)
    boat.rate(3)
    found = nb2.find(store=s.store, min_rating=4)
    assert [r.id for r in found] == [kite.id]
    assert {r.id for r in nb2.find(store=s.store, min_rating=3)} == {kite.id, boat.id}
    assert len(nb2.find(store=s.store, min_rating=1, limit=1)) == 1
    assert len(nb2.find(store=s.store)) == 3
    with pytest.raises(ValidationError) as exc:
        nb2.find(store=s.store, min_rating=6)
    assert exc.value.field == "min_rating"
