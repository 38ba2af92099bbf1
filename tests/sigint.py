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
def _guarded() -> Iterator[tuple[Callable[[], None], list[float]]]:
    """A SIGINT sender that works only while the block runs: the signal is raised as the
    default handler does, and one that comes late is dropped, so it never hits pytest."""
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
    try:
        yield fire, sent
    finally:
        armed.clear()
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def sigint_at(delay: float) -> Iterator[list[float]]:
    """``os.kill(os.getpid(), SIGINT)`` after ``delay`` seconds; yields the list that gets the
    signal's ``time.monotonic()``."""
    with _guarded() as (fire, sent):
        timer = threading.Timer(delay, fire)
        timer.start()
        try:
            yield sent
        finally:
            timer.cancel()
            timer.join()


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
    """A real SIGINT as soon as ``ready()`` is true (see :func:`when`)."""
    with _guarded() as (fire, sent):
        when(ready, fire, timeout)
        yield sent
