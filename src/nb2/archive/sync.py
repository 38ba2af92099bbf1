"""``nb2.sync()``: a team's store brought up to date both ways, with a progress bar.

Push first (what this kernel made: images, then records), then pull (what teammates made:
records, judgments, sessions and thumbnails; images come when first opened). A bucket that is
unreachable, read-only or refuses the credentials is a named error after the local work is
counted; nothing local is lost, and the outbox keeps what is left for the next sync.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from ..errors import (
    RemoteCredentialsError,
    RemoteMissingError,
    RemoteStoreError,
    RemoteUnreachableError,
    ValidationError,
)
from ..store import Store
from ..store.team import SyncReport

BAR = 30  # characters of the bar
SHOW_OVER = 20  # objects: a bar only for a sync long enough to watch
WHOLE = (RemoteUnreachableError, RemoteMissingError, RemoteCredentialsError)  # not one object's


Progress = Callable[[str, int, int], Any]  # (doing: "push" | "pull", done, total)


def sync(
    store: Any = None,
    *,
    push: bool = True,
    pull: bool = True,
    progress: bool | Progress | None = None,
) -> SyncReport:
    """Push this store's new files to its bucket, then pull the team's. ``store``: a Store,
    its URL (``s3://bucket/prefix``) or None (``NB2_STORE``). ``progress``: a bar on stdout
    (None: when there is enough to move to watch it, unless ``NB2_PROGRESS=0``), or a
    function called with ("push" or "pull", done, total) as objects move."""
    store = store if isinstance(store, Store) else Store(store)
    if store.team is None:
        raise ValidationError(
            f"sync: {store.root} is a local folder; a team's store is a bucket's URL",
            field="store", value=str(store.root), allowed="s3://, gs://, az://, file:// URLs",
        )  # fmt: skip
    started = time.monotonic()
    bar: Any = progress if callable(progress) else _Bar(progress)
    report = SyncReport()
    first: RemoteStoreError | None = None
    steps = (["push", "sweep"] if push else []) + (["pull"] if pull else [])
    for doing in steps:
        if isinstance(first, WHOLE) or (doing == "sweep" and first is not None):
            continue  # the bucket is out of reach: a pull would wait as long to say the same
        try:
            if doing == "sweep":  # what no note names (a store that was local before)
                with contextlib.suppress(RemoteStoreError):  # a refused listing: pull says so
                    if not store.team.sweep():
                        continue
            got = store.team.pull(bar) if doing == "pull" else store.team.push(bar)
        except RemoteStoreError as exc:  # the listing itself failed: nothing to count
            first = first or exc
            report.errors.append(str(exc))
            continue
        for name in ("pushed", "already", "pulled", "bytes_up", "bytes_down"):
            setattr(report, name, getattr(report, name) + getattr(got, name))
        report.errors += got.errors
        first = first or got.first
    if isinstance(bar, _Bar):
        bar.end()
    report.seconds = time.monotonic() - started
    report.left = store.team.waiting()
    report.behind = store.team.pushed_behind()
    if first is not None or report.errors:
        err = first or RemoteStoreError(report.errors[0])
        raise type(err)(f"{err} ({report!r})") from None
    return report


class _Bar:
    """``push [#####.........] 312/1000`` on one line, redrawn in place (``\\r``)."""

    def __init__(self, show: bool | None) -> None:
        quiet = os.environ.get("NB2_PROGRESS", "1").lower() in ("0", "off", "false", "no")
        self.show = False if show is None and quiet else show
        self.drawn = False

    def __call__(self, doing: str, done: int, total: int) -> None:
        if self.show is False or (self.show is None and total < SHOW_OVER):
            return
        if done != total and done % max(1, total // 100):
            return  # about a hundred redraws, whatever the count
        filled = BAR * done // max(1, total)
        sys.stdout.write(f"\r{doing} [{'#' * filled}{'.' * (BAR - filled)}] {done}/{total}")
        sys.stdout.flush()
        self.drawn = True

    def end(self) -> None:
        if self.drawn:
            sys.stdout.write("\n")
            sys.stdout.flush()
