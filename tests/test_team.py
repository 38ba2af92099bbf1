"""A team's store (issue 35) against a real S3-compatible server on loopback (moto's server, its
own process): two kernels with their own local caches share one bucket, each sees the other's
runs, ratings and judgments; nothing is uploaded twice; an unreachable, missing or read-only
bucket and missing credentials are named errors with nothing local lost; a kill mid-push loses
nothing. The two "kernels" here are two Stores on two cache folders (the subprocess test is a
real second process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nb2
from nb2 import errors
from nb2.store.judgments import Judgments

from .s3server import ADMIN, S3Server

SECRET = ADMIN["aws_secret_access_key"]


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    s = S3Server()
    yield s
    s.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, server: S3Server, tmp_path: Path) -> S3Server:
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ADMIN["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("NB2_STORE_CACHE", raising=False)
    return server


def bucket_url(server: S3Server) -> str:
    name = f"team-{uuid.uuid4().hex[:10]}"
    server.bucket(name)
    return f"s3://{name}/lab"


def counted(store: nb2.Store) -> Counter[str]:
    """Every put this store's team makes, by key (the bucket's own client underneath)."""
    puts: Counter[str] = Counter()
    real = store.team.bucket.put

    def put(key: str, data: bytes, **conditions: Any) -> str | None:
        got = real(key, data, **conditions)
        if got is not None:
            puts[key] += 1
        return got

    store.team.bucket.put = put  # type: ignore[method-assign]
    return puts


def session(url: str, cache: Path) -> nb2.Session:
    return nb2.Session(nb2.OfflineBackend(), store=nb2.Store(url, cache=str(cache)))


def test_two_kernels_share_one_bucket(aws: S3Server, tmp_path: Path):
    url = bucket_url(aws)
    a = session(url, tmp_path / "a")
    puts_a = counted(a.store)
    made = [a.generate(p) for p in ("a red fox", "a blue fox", "a green fox")]
    made[0].rate(5, note="the best", rater="ana")
    made[1].judge()
    report = nb2.sync(a.store)
    assert report.errors == [] and report.left == 0
    bucket = aws.keys(url.split("/")[2], "lab/")
    for r in made:
        assert f"lab/runs/{r.id}.json" in bucket
        assert f"lab/{r.path.relative_to(a.store.root).as_posix()}" in bucket
    assert not any("/pending/" in k or "/keys/" in k or "index.sqlite" in k for k in bucket)

    b = session(url, tmp_path / "b")
    got = nb2.sync(b.store)
    assert got.pulled >= 3 and got.pushed == 0
    found = nb2.find(store=b.store)
    assert {r.id for r in found} >= {r.id for r in made}
    assert Judgments(b.store).rating(made[0].id)["note"] == "the best"  # a teammate's rating
    assert Judgments(b.store).scored(made[1].id)["judge"] == "offline"  # and judgment
    # the image itself comes when first opened, verified; a same request is a cache hit
    image = b.store.root / made[0].path.relative_to(a.store.root)
    assert not image.exists()
    again = b.generate("a red fox")
    assert again.cached and again.id == made[0].id
    assert again.image.size == made[0].image.size and image.exists()
    # B pushes nothing of A's back; A's second sync has nothing new
    puts_b = counted(b.store)
    assert nb2.sync(b.store).pushed == 0 and sum(puts_b.values()) == 0
    assert nb2.sync(a.store).pushed == 0
    # nothing of A's went up twice (a session's tree is one file that changes: once a version)
    assert max(n for k, n in puts_a.items() if not k.startswith("sessions/")) == 1
    # both trees of the one session name ("default") are one tree in the bucket
    c = nb2.Session(nb2.OfflineBackend(), store=nb2.Store(url, cache=str(tmp_path / "c")))
    nb2.sync(c.store)
    c = nb2.Session(nb2.OfflineBackend(), store=c.store)  # resumed from the pulled tree
    assert {r.id for r in c.history} >= {r.id for r in made}


def test_a_store_that_was_local_first_goes_up_whole_at_its_first_sync(
    aws: S3Server, tmp_path: Path
):
    folder = tmp_path / "mine"
    before = nb2.Session(nb2.OfflineBackend(), store=nb2.Store(str(folder)))  # no bucket yet
    made = [before.generate(p) for p in ("a red fox", "a blue fox")]
    made[0].rate(4, rater="ana")
    url = bucket_url(aws)
    store = nb2.Store(url, cache=str(folder))  # the same folder, now a team's store
    assert store.team.waiting() == 0  # no write ever noted them
    report = nb2.sync(store)
    assert report.left == 0 and report.errors == [], report  # (the background pusher helps)
    keys = set(aws.keys(url.split("/")[2], "lab/"))
    assert any(k.startswith("lab/judgments/ratings/") for k in keys)
    assert any(k.startswith("lab/sessions/") for k in keys)
    for r in made:
        assert f"lab/runs/{r.id}.json" in keys
        assert f"lab/{r.path.relative_to(folder).as_posix()}" in keys
    assert not any("/pending/" in k or "/keys/" in k or "index.sqlite" in k for k in keys)
    # a note a full disk refused: the file is found all the same
    lost = nb2.Session(nb2.OfflineBackend(), store=store).generate("a grey fox")
    nb2.sync(store)
    (folder / "runs" / f"{lost.id}.json").write_bytes((folder / "runs" / f"{lost.id}.json")
                                                      .read_bytes())  # fmt: skip
    aws.client().delete_object(Bucket=url.split("/")[2], Key=f"lab/runs/{lost.id}.json")
    assert store.team.waiting() == 0
    assert nb2.sync(store).left == 0
    assert f"lab/runs/{lost.id}.json" in aws.keys(url.split("/")[2], "lab/")
    assert nb2.sync(store).pushed == 0  # and nothing twice


def test_the_same_image_from_two_kernels_is_uploaded_once(
    aws: S3Server, tmp_path: Path, images: dict[str, Path]
):
    url = bucket_url(aws)
    a, b = session(url, tmp_path / "a"), session(url, tmp_path / "b")
    puts_a, puts_b = counted(a.store), counted(b.store)
    # one reference image, given in both kernels: one content-addressed object
    ra = a.generate("a lighthouse", references=[images["palette"]])
    rb = b.generate("a lighthouse at night", references=[images["palette"]])
    nb2.sync(a.store)
    nb2.sync(b.store)
    sha = ra.params.references[0].sha256
    assert sha == rb.params.references[0].sha256
    ref = [k for k in set(puts_a) | set(puts_b) if sha in k]
    assert len(ref) == 1 and puts_a[ref[0]] + puts_b[ref[0]] == 1
    both = {f"runs/{ra.id}.json", f"runs/{rb.id}.json"}
    assert both <= set(puts_a) | set(puts_b)  # each run's own record, by its own kernel
    assert any(e.key == ref[0] for e in b.store.team.bucket.listing("images/"))


def test_an_unreachable_bucket_keeps_work_local_and_pushes_later(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url = bucket_url(aws)
    from .s3server import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody there
    offline = session(url, tmp_path / "a")
    r = offline.generate("a fox in the rain")  # works: the local store is the engine's
    assert r.path.exists()
    t0 = time.monotonic()
    with pytest.raises(errors.RemoteUnreachableError) as e:
        nb2.sync(offline.store)
    assert time.monotonic() - t0 < 30  # bounded: a named error, not a hang
    assert SECRET not in str(e.value)
    assert offline.store.team.waiting() > 0  # the outbox keeps it
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)  # back on the network: a new kernel
    later = nb2.Store(url, cache=str(tmp_path / "a"))
    assert nb2.sync(later).left == 0
    assert f"lab/runs/{r.id}.json" in aws.keys(url.split("/")[2], "lab/")


def test_a_sync_says_what_the_background_pusher_sent_before_it(aws: S3Server, tmp_path: Path):
    url = bucket_url(aws)
    a = session(url, tmp_path / "a")
    made = [a.generate(f"a fox, take {i}") for i in range(3)]
    deadline = time.monotonic() + 20
    while a.store.team.waiting() and time.monotonic() < deadline:
        time.sleep(0.05)  # the pusher empties the outbox as work goes on
    assert a.store.team.waiting() == 0
    time.sleep(0.2)  # its count is kept after the push returns
    report = nb2.sync(a.store)
    # this sync itself had nothing left to send; what went up before it is said, not hidden
    assert report.pushed == 0 and report.behind >= 2 * len(made)  # an image and a record each
    assert f"{report.behind} more pushed in the background" in repr(report)
    assert nb2.sync(a.store).behind == 0  # counted once


def test_the_background_pusher_says_an_outage_once_not_once_a_retry(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from nb2.store import team

    from .s3server import free_port

    monkeypatch.setattr(team, "RETRY_AFTER", 0.2)
    url = bucket_url(aws)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody there
    offline = session(url, tmp_path / "a")
    for i in range(4):  # a write after each retry: the pusher tries again, and fails again
        offline.generate(f"a fox in the rain, take {i}")
        time.sleep(0.8)
    said = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert "left in the outbox" in said[0].getMessage() and SECRET not in said[0].getMessage()


def test_a_server_that_never_answers_costs_one_timeout_and_a_named_error(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import socket
    import threading
    from datetime import timedelta

    from nb2.store import bucket

    silent = socket.socket()  # takes every connection and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(silent.accept()[0]) for _ in iter(int, 1)],
                     daemon=True).start()  # fmt: skip
    monkeypatch.setattr(bucket, "TIMEOUT", timedelta(seconds=1))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
    url = bucket_url(aws)
    mute = session(url, tmp_path / "a")
    r = mute.generate("a fox in the fog")  # the background pusher starts its wait here
    t0 = time.monotonic()
    with pytest.raises(errors.RemoteUnreachableError, match="unreachable"):
        nb2.sync(mute.store)
    waited = time.monotonic() - t0
    # one request's timeout and its one retry (about 2 s here, 40 s with the real 20 s), not
    # a second wait behind the pusher's own attempt, nor a pull that would wait as long again
    assert waited < 6, waited
    assert r.path.exists() and mute.store.team.waiting() > 0
    silent.close()


def test_the_sync_line_magic_pushes_pulls_and_says_what_it_did(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from nb2.notebook.magic import Nb2Magics

    url = bucket_url(aws)
    monkeypatch.setenv("NB2_STORE_CACHE", str(tmp_path / "mine"))  # %config's store: a URL
    for var in ("REPLICATE_API_TOKEN", "GEMINI_API_KEY", "GOOGLE_API_KEY", "NB2_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store, magics.progress = url, False
    shell.register_magics(magics)
    with capture_output():
        shell.run_cell_magic("nb2", "-o fox", "a red fox")
    fox = shell.user_ns.pop("fox")
    with capture_output() as shown:
        assert shell.run_line_magic("nb2", "sync push") is None  # shown once, not twice
    said = shown.outputs[-1].data["text/plain"]
    assert said.startswith("nb2.sync: pushed ") and "pulled 0 " in said, said
    assert f"lab/runs/{fox.id}.json" in aws.keys(url.split("/")[2], "lab/")
    theirs = session(url, tmp_path / "theirs")
    blue = theirs.generate("a blue fox")
    nb2.sync(theirs.store)
    with capture_output() as shown:
        shell.run_line_magic("nb2", "sync")
    said = shown.outputs[-1].data["text/plain"]
    assert "pushed 0 " in said and "pulled 0 " not in said, said
    assert blue.id in {r.id for r in nb2.find(store=nb2.Store(url))}
    with pytest.raises(UsageError, match="push, pull or nothing"):
        shell.run_line_magic("nb2", "sync both ways")
    magics.store = str(tmp_path / "local")
    with pytest.raises(errors.ValidationError, match="local folder"):
        shell.run_line_magic("nb2", "sync")


def test_a_long_sync_draws_a_bar_or_calls_a_function_and_nb2_progress_0_quiets_it(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    url = bucket_url(aws)
    a = session(url, tmp_path / "a")
    for i in range(24):  # a record each, and the session: over 20 to pull
        a.generate(f"fox number {i}")
    nb2.sync(a.store)
    capsys.readouterr()
    seen: list[tuple[str, int, int]] = []
    report = nb2.sync(session(url, tmp_path / "b").store, progress=lambda *s: seen.append(s))
    assert report.pulled > 20 and seen[-1] == ("pull", report.pulled, report.pulled)
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)  # it only moves forward
    assert capsys.readouterr().out == ""  # the function instead of the bar
    monkeypatch.setenv("NB2_PROGRESS", "0")
    nb2.sync(session(url, tmp_path / "c").store)
    assert capsys.readouterr().out == ""
    monkeypatch.delenv("NB2_PROGRESS")
    nb2.sync(session(url, tmp_path / "d").store)
    out = capsys.readouterr().out
    full = f"\rpull [{'#' * 30}] {report.pulled}/{report.pulled}\n"
    assert out.startswith("\rpull [") and out.endswith(full), repr(out)


def test_a_missing_bucket_and_missing_credentials_are_named(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    s = session(f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}/x", tmp_path / "a")
    s.generate("a fox")
    with pytest.raises(errors.RemoteMissingError):
        nb2.sync(s.store)
    assert s.store.team.waiting() > 0 and len(list((s.store.root / "runs").iterdir())) == 1
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    with pytest.raises(errors.RemoteCredentialsError) as e:
        nb2.Store(bucket_url(aws), cache=str(tmp_path / "b"))
    assert "nothing was sent" in str(e.value)


def test_a_read_only_bucket_is_named_and_nothing_local_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    server = S3Server(auth=True, setup_calls=5)  # the five calls below, then IAM is enforced
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="shared")
        s3.put_object(Bucket="shared", Key="lab/runs/a-teammates.json", Body=b"{}")
        iam = server.client("iam")
        iam.create_user(UserName="reader")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                  "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}]}  # fmt: skip
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s = session("s3://shared/lab", tmp_path / "a")
        r = s.generate("a fox on a rock")
        with pytest.raises(errors.RemoteReadOnlyError) as e:
            nb2.sync(s.store)
        assert key["SecretAccessKey"] not in str(e.value)
        assert r.path.exists() and s.store.get(r.id)["status"] == "succeeded"
        assert s.store.team.waiting() > 0
        # reading still works (a get: moto's IAM mode miscomputes signatures of listings with
        # a prefix, SignatureDoesNotMatch even for boto3, so a pull is not tried here)
        assert s.store.team.bucket.get("runs/a-teammates.json") == b"{}"
    finally:
        server.stop()


def test_no_credential_reaches_a_file_an_object_or_a_repr(aws: S3Server, tmp_path: Path):
    url = bucket_url(aws)
    s = session(url, tmp_path / "a")
    r = s.generate("a fox")
    r.rate(3)
    nb2.sync(s.store)
    assert SECRET not in repr(s.store) + repr(s.store.team) + repr(r)
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    s3 = aws.client()
    for k in aws.keys(url.split("/")[2]):
        assert SECRET.encode() not in s3.get_object(Bucket=url.split("/")[2], Key=k)["Body"].read()
    with pytest.raises(errors.ValidationError) as e:
        nb2.Store(f"s3://AKIA:{SECRET}@bucket/x")
    assert SECRET not in str(e.value)


KILLED = """
import sys, time, nb2
from nb2.store import team
store = nb2.Store(sys.argv[1], cache=sys.argv[2])
real = store.team.bucket.put
def slow(key, data, **conditions):
    time.sleep(0.05)
    return real(key, data, **conditions)
store.team.bucket.put = slow
team.WIDTH = 2
s = nb2.Session(nb2.OfflineBackend(), store=store)
for i in range(int(sys.argv[3])):
    s.generate(f"fox number {i}", resolution="1K")
print("made", flush=True)
nb2.sync(store)
print("synced", flush=True)
"""


def test_a_kill_mid_push_loses_nothing(aws: S3Server, tmp_path: Path):
    url = bucket_url(aws)
    cache = tmp_path / "a"
    child = subprocess.Popen([sys.executable, "-c", KILLED, url, str(cache), "12"],
                             stdout=subprocess.PIPE, text=True, env=os.environ)  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "made"
    name = url.split("/")[2]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(aws.keys(name, "lab/runs/")) < 3:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)  # mid-push: some records up, the rest not yet
    child.wait(timeout=10)
    pushed = aws.keys(name, "lab/runs/")
    assert 0 < len(pushed) < 12
    store = nb2.Store(url, cache=str(cache))  # the next kernel on that folder
    assert store.team.waiting() > 0
    nb2.sync(store)
    runs = sorted(p.name for p in (cache / "runs").glob("*.json"))
    assert len(runs) == 12 and aws.keys(name, "lab/runs/") == [f"lab/runs/{n}" for n in runs]
    for rec in (store.get(n[:-5]) for n in runs):  # and every image of every record
        sha = rec["output"]["sha256"]
        assert f"lab/images/{sha[:2]}/{sha}.{rec['output']['format']}" in aws.keys(name, "lab/")


def test_a_teammates_duel_choices_are_in_the_same_duel_on_the_other_kernel(
    aws: S3Server, tmp_path: Path
):
    url = bucket_url(aws)
    prompts = ["a lighthouse at dawn", "a lighthouse at dusk"]
    a = session(url, tmp_path / "a")
    ga = a.compare(prompt=prompts, repeat=2)
    ga.run()
    duel = nb2.Duel(ga, by="prompt", rater="ana", seed=1)
    for _ in range(3):
        left, right = duel.shown
        duel.record(left, right, "left")
    nb2.sync(a.store)
    b = session(url, tmp_path / "b")
    nb2.sync(b.store)
    gb = b.compare(prompt=prompts, repeat=2)
    gb.run()
    assert all(c.result.cached for c in gb.cells)
    theirs = nb2.Duel(gb, by="prompt", rater="ben", seed=2)
    assert theirs.name == duel.name
    assert [c["rater"] for c in theirs.choices()] == ["ana"] * 3


def test_a_teammates_decomposition_is_asked_on_the_other_kernel_without_a_call(
    aws: S3Server, tmp_path: Path
):
    from nb2.emulator import GeminiEmulator

    url = bucket_url(aws)
    with GeminiEmulator() as emu:
        gem = nb2.GeminiBackend(api_key="AIza-team-judge-0123456789", base_url=emu.base_url)
        a = nb2.Session(gem, store=nb2.Store(url, cache=str(tmp_path / "a")))
        judge_a = nb2.Judge("gemini-3.8-flash", backend=gem, questions="model")
        asked = a.generate("two red foxes on a log at night").judge(judge_a)
        assert emu.decompose_calls == 1
        nb2.sync(a.store)
        b = nb2.Session(gem, store=nb2.Store(url, cache=str(tmp_path / "b")))
        nb2.sync(b.store)
        judge_b = nb2.Judge("gemini-3.8-flash", backend=gem, questions="model")
        other = b.generate("two red foxes on a log at night", resolution="2K")  # a new image
        got = other.judge(judge_b)
        assert emu.decompose_calls == 1  # Ada's questions, and her decomposition's bill
        assert got.questions_cost == asked.questions_cost > 0
        assert [q.to_dict() for q in got.questions] == [q.to_dict() for q in asked.questions]
