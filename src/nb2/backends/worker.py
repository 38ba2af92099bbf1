"""Work that a Ctrl-C must not cut short: run it in a worker thread, and on an interrupt set
``cancel`` (the backend then cancels at the server) and wait for the work to end first."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("nb2")
T = TypeVar("T")


def call(work: Callable[[], T], cancel: threading.Event, *, keep_finished: bool = False) -> T:
    """``work()`` in a worker thread when on the main thread, so an interrupt can set
    ``cancel`` while the work finishes what it must (off the main thread: ``work()`` itself).

    The main thread waits on an Event, never ``Thread.join``: on CPython 3.11 an interrupt
    inside ``join`` can mark a live thread as finished (bpo-45274), which dropped results.
    After a Ctrl-C the work is waited for to its end (a second Ctrl-C is absorbed too), then
    the interrupt is raised; with ``keep_finished`` a result that finished anyway is returned
    instead (nothing else holds it: a paid image must not be dropped).
    """
    if threading.current_thread() is not threading.main_thread():
        return work()
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["out"] = work()
        except BaseException as exc:  # handed to the caller's thread
            box["exc"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="nb2-run", daemon=True).start()
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            if done.wait(0.05):
                break
        except KeyboardInterrupt as exc:
            cancel.set()  # the backend cancels remotely, then returns; wait for that
            interrupted = interrupted or exc
    if interrupted is not None:
        if "out" in box and keep_finished:
            log.warning("nb2: interrupted, but the image had finished: it is returned")
            return box["out"]
        if "out" in box:
            log.warning("nb2: interrupted, but the image had finished: it is stored")
        raise interrupted
    if "exc" in box:
        raise box["exc"]
    return box["out"]
