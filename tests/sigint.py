"""A real SIGINT at a chosen moment, as Jupyter sends one (used by the tests and benchmarks)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def sigint_at(delay: float) -> Iterator[list[float]]:
    """``os.kill(os.getpid(), SIGINT)`` after ``delay`` seconds; yields the list that gets the
    signal's ``time.monotonic()``. It is raised (as the default handler does) only while the
    block runs; one that comes late is dropped, so it can never hit pytest itself."""
    armed = threading.Event()
    armed.set()
    sent: list[float] = []

    def handler(signum: int, frame: Any) -> None:
        if armed.is_set():
            signal.default_int_handler(signum, frame)

    def fire() -> None:
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    old = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(delay, fire)
    timer.start()
    try:
        yield sent
    finally:
        armed.clear()
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, old)
