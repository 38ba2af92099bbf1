"""A real SIGINT at a chosen moment, as Jupyter sends one (used by the tests and benchmarks)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
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


def when(ready: Callable[[], Any], act: Callable[[], None], timeout: float = 60.0) -> None:
    """``act()`` once ``ready()`` is true (checked every 10 ms, from a thread of its own), so a
    test interrupts at a state it can name, not at a guess of how long the machine takes."""

    def watch() -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ready():
                act()
                return
            time.sleep(0.01)

    threading.Thread(target=watch, name="sigint-when", daemon=True).start()


@contextlib.contextmanager
def sigint_when(ready: Callable[[], Any], timeout: float = 60.0) -> Iterator[list[float]]:
    """A real SIGINT as soon as ``ready()`` is true, with :func:`sigint_at`'s guard: one that
    comes after the block is dropped."""
    armed = threading.Event()
    armed.set()
    sent: list[float] = []

    def handler(signum: int, frame: Any) -> None:
        if armed.is_set():
            signal.default_int_handler(signum, frame)

    def fire() -> None:
        if armed.is_set():
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

    old = signal.signal(signal.SIGINT, handler)
    when(ready, fire, timeout)
    try:
        yield sent
    finally:
        armed.clear()
        signal.signal(signal.SIGINT, old)
