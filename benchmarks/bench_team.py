"""A team's store against a loopback S3 server (moto's, its own process): push and pull of
1,000 runs through nb2.sync(), and the same files copied by hand with obstore and with s3fs.

    python benchmarks/bench_team.py [N]

Prints a table: seconds, and objects per second. Needs nb2[test] (moto, obstore, boto3; s3fs
is measured when installed). The figures are the loopback server's as much as the client's.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.s3server import ADMIN, S3Server


def main(n: int = 1000) -> None:
    import nb2

    server = S3Server()
    os.environ.update(AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID=ADMIN["aws_access_key_id"],
                      AWS_SECRET_ACCESS_KEY=ADMIN["aws_secret_access_key"],
                      AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
    rows = []
    try:
        for b in ("nb2-a", "hand-obstore", "hand-s3fs"):
            server.bucket(b)
        tmp = Path(tempfile.mkdtemp())
        store = nb2.Store("s3://nb2-a/lab", cache=str(tmp / "a"))
        store.team.publish = lambda path: None  # made first, pushed by the sync measured
        s = nb2.Session(nb2.OfflineBackend(), store=store)
        t0 = time.perf_counter()
        for i in range(n):
            s.generate(f"fox number {i}", resolution="1K")
        made = time.perf_counter() - t0
        files = [p for p in store.root.rglob("*") if p.is_file() and
                 p.relative_to(store.root).parts[0] in ("runs", "images", "sessions")]  # fmt: skip
        mb = sum(p.stat().st_size for p in files) / 1e6
        store = nb2.Store("s3://nb2-a/lab", cache=str(tmp / "a"))
        for p in files:  # what the writes would have noted
            store.team.publish(p)
        store.team._wake.clear()
        t0 = time.perf_counter()
        pushed = nb2.sync(store, pull=False, progress=False)
        rows.append(("nb2.sync push", len(files), mb, time.perf_counter() - t0, pushed.pushed))
        other = nb2.Store("s3://nb2-a/lab", cache=str(tmp / "b"))
        t0 = time.perf_counter()
        pulled = nb2.sync(other, push=False, progress=False)
        rows.append(("nb2.sync pull (no images)", pulled.pulled, pulled.bytes_down / 1e6,
                     time.perf_counter() - t0, pulled.pulled))  # fmt: skip
        t0 = time.perf_counter()
        found = len(nb2.find(store=other, limit=None))
        rows.append(("index rebuild + find", found, 0.0, time.perf_counter() - t0, found))
        data = {p.relative_to(store.root).as_posix(): p.read_bytes() for p in files}
        rows += _obstore(server.url, data) + _s3fs(server.url, data)
    finally:
        server.stop()
    print(f"{n} runs made offline in {made:.1f} s ({len(data)} files, {mb:.1f} MB)\n")
    print(f"{'what':28} {'objects':>8} {'MB':>7} {'seconds':>8} {'objects/s':>10}")
    for what, count, size, secs, _ in rows:
        print(f"{what:28} {count:8d} {size:7.1f} {secs:8.2f} {count / secs:10.0f}")


def _obstore(url: str, data: dict[str, bytes]) -> list[tuple]:
    import obstore as obs
    from obstore.store import S3Store

    st = S3Store("hand-obstore", endpoint=url, client_options={"allow_http": True})

    async def put() -> None:
        gate = asyncio.Semaphore(16)

        async def one(k: str, v: bytes) -> None:
            async with gate:
                await obs.put_async(st, k, v)

        await asyncio.gather(*(one(k, v) for k, v in data.items()))

    t0 = time.perf_counter()
    asyncio.run(put())
    up = time.perf_counter() - t0
    t0 = time.perf_counter()
    listed = [m for batch in obs.list(st) for m in batch]
    ls = time.perf_counter() - t0
    mb = sum(map(len, data.values())) / 1e6
    return [("obstore by hand: put", len(data), mb, up, len(data)),
            ("obstore by hand: list", len(listed), 0.0, ls, len(listed))]  # fmt: skip


def _s3fs(url: str, data: dict[str, bytes]) -> list[tuple]:
    try:
        import s3fs
    except ImportError:
        return []
    fs = s3fs.S3FileSystem(endpoint_url=url)
    t0 = time.perf_counter()
    fs.pipe({f"hand-s3fs/{k}": v for k, v in data.items()})
    up = time.perf_counter() - t0
    t0 = time.perf_counter()
    listed = fs.find("hand-s3fs/")
    ls = time.perf_counter() - t0
    mb = sum(map(len, data.values())) / 1e6
    return [("s3fs by hand: put", len(data), mb, up, len(data)),
            ("s3fs by hand: list", len(listed), 0.0, ls, len(listed))]  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
