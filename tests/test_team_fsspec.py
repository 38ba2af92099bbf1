"""A team's store on a URL obstore does not speak, through fsspec (issue 35: "any fsspec URL"):
a real FTP server on loopback (pyftpdlib), reached by fsspec's ftp file system over the
standard library's ftplib. Two kernels share one folder; a read-only login, a refused login and
a server that is gone are named errors with nothing local lost; no password reaches a file."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec.config
import pytest

import nb2
from nb2 import errors
from nb2.store.fsbucket import FsBucket
from nb2.store.judgments import Judgments

SECRET = "ftp-secret-for-the-test"


class FTPServer:
    def __init__(self, root: Path) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        auth = DummyAuthorizer()
        auth.add_user("lab", SECRET, str(root), perm="elradfmwMT")
        auth.add_user("viewer", "view-secret", str(root), perm="elr")  # list and read only
        handler: Any = type("Handler", (FTPHandler,), {"authorizer": auth})
        self.server = ThreadedFTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"timeout": 0.2}, daemon=True)  # fmt: skip
        self.thread.start()

    def stop(self) -> None:
        self.server.close_all()
        self.thread.join(timeout=10)


@pytest.fixture
def ftp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FTPServer]:
    root = tmp_path / "ftp-root"
    (root / "lab").mkdir(parents=True)
    server = FTPServer(root)
    # what ~/.config/fsspec/ftp.json or FSSPEC_FTP_USERNAME / _PASSWORD would hold
    monkeypatch.setitem(fsspec.config.conf, "ftp", {"username": "lab", "password": SECRET})
    for var in ("REPLICATE_API_TOKEN", "GEMINI_API_KEY", "NB2_STORE_CACHE"):
        monkeypatch.delenv(var, raising=False)
    yield server
    server.stop()


def session(url: str, cache: Path) -> nb2.Session:
    return nb2.Session(nb2.OfflineBackend(), store=nb2.Store(url, cache=str(cache)))


def test_two_kernels_share_a_folder_over_ftp(ftp: FTPServer, tmp_path: Path):
    url = f"ftp://127.0.0.1:{ftp.port}/lab/nb2"
    a = session(url, tmp_path / "a")
    assert isinstance(a.store.team.bucket, FsBucket)
    made = [a.generate(p) for p in ("a red fox", "a blue fox")]
    made[0].rate(4, rater="ana")
    made[1].judge()
    report = nb2.sync(a.store)
    assert report.errors == [] and report.left == 0
    on_server = {p.relative_to(tmp_path / "ftp-root" / "lab" / "nb2").as_posix()
                 for p in (tmp_path / "ftp-root").rglob("*") if p.is_file()}  # fmt: skip
    assert {f"runs/{r.id}.json" for r in made} <= on_server
    assert not any(k.startswith(("pending/", "keys/")) or "sqlite" in k for k in on_server)

    b = session(url, tmp_path / "b")
    got = nb2.sync(b.store)
    assert got.pulled >= 2 and got.pushed == 0
    assert {r.id for r in nb2.find(store=b.store)} >= {r.id for r in made}
    assert Judgments(b.store).rating(made[0].id)["score"] == 4
    again = b.generate("a red fox")  # a cache hit, its image fetched over FTP and verified
    assert again.cached and again.id == made[0].id and again.image.size == made[0].image.size
    assert nb2.sync(b.store).pushed == 0 and nb2.sync(a.store).pushed == 0  # nothing twice
    # an image already there is not sent again: create-only is a look, then a write
    bucket = a.store.team.bucket
    key = made[0].path.relative_to(a.store.root).as_posix()
    assert bucket.put(key, made[0].path.read_bytes(), create=True) is None
    tagged = bucket.get_tagged(key)
    assert tagged is not None and bucket.put(key, b"other", if_match="stale") is None
    assert bucket.get(key) == made[0].path.read_bytes()
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file() and path.suffix != ".png":
            assert SECRET not in path.read_text(errors="ignore"), path
    assert SECRET not in repr(a.store) + repr(a.store.team) + repr(bucket)


def test_ftp_logins_and_a_server_gone_are_named_and_keep_the_work(
    ftp: FTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url = f"ftp://127.0.0.1:{ftp.port}/lab/nb2"
    viewer_login = {"username": "viewer", "password": "view-secret"}
    monkeypatch.setitem(fsspec.config.conf, "ftp", viewer_login)
    viewer = session(url, tmp_path / "v")
    r = viewer.generate("a fox that stays local")
    with pytest.raises(errors.RemoteReadOnlyError, match="cannot be written"):
        nb2.sync(viewer.store)
    assert r.path.exists() and viewer.store.team.waiting() > 0

    monkeypatch.setitem(fsspec.config.conf, "ftp", {"username": "lab", "password": "wrong"})
    with pytest.raises(errors.RemoteCredentialsError) as refused:
        nb2.sync(session(url, tmp_path / "w").store)
    assert "wrong" not in str(refused.value)

    monkeypatch.setitem(fsspec.config.conf, "ftp", {"username": "lab", "password": SECRET})
    ftp.stop()
    gone = session(url, tmp_path / "g")
    kept = gone.generate("a fox while the server is gone")
    with pytest.raises(errors.RemoteUnreachableError):
        nb2.sync(gone.store)
    assert kept.path.exists() and gone.store.team.waiting() > 0


@pytest.mark.parametrize("url", ["nosuch://bucket/prefix", "https://example.org/runs"])
def test_a_scheme_no_library_can_write_is_named_before_anything_opens(url: str, tmp_path: Path):
    with pytest.raises(errors.ValidationError, match="not an object store") as e:
        nb2.Store(url, cache=str(tmp_path / "c"))
    assert e.value.field == "store" and "any fsspec protocol (with fsspec)" in e.value.allowed
    assert not (tmp_path / "c").exists()
