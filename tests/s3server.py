"""A real S3-compatible server on loopback for the team-store tests: moto's server mode, run as
its own process (``python -m moto.server``), as a team's bucket would be another machine.

``S3Server(auth=True)`` enforces IAM after the set-up calls (moto's
``INITIAL_NO_AUTH_ACTION_COUNT``), so a read-only user's write is refused for real.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

ADMIN = {"aws_access_key_id": "AKIAADMIN0TEST", "aws_secret_access_key": "admin-secret-test"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Server:
    def __init__(self, auth: bool = False, setup_calls: int = 0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MOTO_PORT": str(self.port)}
        if auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(setup_calls)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto's server did not answer within 30 s")

    def client(self, service: str = "s3", **keys: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            **(keys or ADMIN))  # fmt: skip

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
