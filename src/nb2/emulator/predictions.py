"""A prediction's life (starting -> processing -> a terminal status, deadlines included) and
the JSON the API writes for it; also the "foreign" predictions of a busy account."""

from __future__ import annotations

import re
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .wire import iso

if TYPE_CHECKING:
    from .host import Host

TERMINAL = ("succeeded", "failed", "canceled", "aborted")
LOGS = "emulated: nb2 offline renderer\n"
E005 = (
    "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
)
_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    """26 lower-case characters, as Replicate's prediction (and file) ids."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(26))


# Go's time.ParseDuration units: the API is written in Go and its Cancel-After reads like it.
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|h|m|s)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float | None:
    """``5m``, ``30s``, ``1h30m45s``, ``1.5h``, ``300ms`` or a bare number of seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total, pos = 0.0, 0
    for m in _PART.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    return total if pos and pos == len(text) else None


@dataclass
class Prediction:
    """One prediction of ours. Times are ``time.monotonic()`` values."""

    id: str
    model: str
    input: dict[str, Any]
    created: float
    start_at: float  # when it leaves "starting"
    done_at: float  # when the model is done (if the render is too)
    moderated: bool = False
    fail: bool = False
    deadline: float | None = None  # Cancel-After / deadline, as a monotonic time
    status: str = "starting"
    version: str = "hidden"  # an official model's; a pinned version's id otherwise
    output: str | list[str] | None = None
    error: str | None = None
    logs: str = ""
    started: float | None = None
    completed: float | None = None
    data: bytes | list[bytes] | None = (
        None  # the output (or outputs), rendered in the background from create on
    )
    fetch_error: str | None = None  # an image input that could not be read
    rendered_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    rendered: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)  # set on any end

    def _finish_at(self) -> float:
        if self.rendered_at is None:
            return float("inf")
        return max(self.done_at, self.rendered_at)

    def advance(self, now: float, publish: Callable[[Prediction], Any]) -> None:
        """Bring the status up to ``now``; ``publish`` stores the output and gives its URL."""
        with self.lock:
            if self.status in TERMINAL:
                return
            end = self._finish_at()
            if self.deadline is not None and self.deadline <= now and self.deadline < end:
                if self.deadline < self.start_at:  # never started: aborted, not canceled
                    self.status = "aborted"
                else:
                    self.status, self.started = "canceled", self.start_at
                self.completed = self.deadline
                self.stopped.set()
                return
            if now < self.start_at:
                return
            self.status, self.started, self.logs = "processing", self.start_at, LOGS
            if now < end:
                return
            self.completed = end
            if self.moderated:
                self.status, self.error = "failed", E005
            elif self.fail:
                self.status, self.error = "failed", "Internal error while generating (emulated)"
            elif self.fetch_error or self.data is None:
                self.status = "failed"
                self.error = self.fetch_error or "the emulated render failed"
            else:
                self.output = publish(self)
                self.status = "succeeded"
            self.stopped.set()

    def cancel(self, now: float) -> None:
        with self.lock:
            if self.status in TERMINAL:
                return
            # As recorded: a prediction canceled while starting gets started_at == now too.
            self.status, self.completed = "canceled", now
            self.started = self.started if self.started is not None else now
            self.stopped.set()

    def abort(self, now: float) -> None:
        with self.lock:
            self.status, self.completed = "aborted", now
            self.stopped.set()

    def to_json(self, emu: Host, view: str = "get") -> dict[str, Any]:
        """The API's object. ``view="create"``: as a create answers (see http.py)."""
        with self.lock:
            status = self.status
            running = status not in TERMINAL
            if view == "create" and status == "succeeded":
                # A sync create never says "succeeded": it answers the moment the output
                # exists, while the prediction is still "processing" (as recorded).
                status, running = "processing", True
            now = emu.clock()
            removed = (
                self.completed is not None and now - self.completed > emu.faults.data_retention
            )
            body: dict[str, Any] = {
                "id": self.id,
                "model": self.model,
                "version": self.version,
                "input": {} if removed else self.input,
                "logs": "" if removed else self.logs,
                "output": None if removed else self.output,
                "data_removed": removed,
                "error": self.error,
                "status": status,
                "created_at": iso(emu.wall(self.created)),
            }
            if view != "create":
                body["source"] = "api"
            if not (view == "create" and running):  # create answers carry neither
                if self.started is not None and status != "aborted":
                    body["started_at"] = iso(emu.wall(self.started))
                if self.completed is not None and not running:
                    body["completed_at"] = iso(emu.wall(self.completed))
            if not running and self.completed is not None:
                total = round(self.completed - self.created, 6)
                if self.started is not None and status != "aborted":
                    predict = round(self.completed - self.started, 6)
                    body["metrics"] = {"predict_time": predict, "total_time": total}
                else:
                    body["metrics"] = {"total_time": total}
            if self.deadline is not None:
                body["deadline"] = iso(emu.wall(self.deadline))
            body["urls"] = urls(emu.base_url, self.id)
            return body


def urls(api: str, pid: str) -> dict[str, Any]:
    get = f"{api}/v1/predictions/{pid}"
    return {"cancel": f"{get}/cancel", "get": get, "web": f"https://replicate.com/p/{pid}"}


@dataclass
class Foreign:
    """A prediction this emulator did not make: a web run, another process, an old one."""

    id: str
    created: float  # monotonic
    body: dict[str, Any]  # everything but created_at (which follows the clock and skew)
    odd_created_at: str | None = None  # an oddly written created_at, kept verbatim

    def to_json(self, emu: Host) -> dict[str, Any]:
        created = self.odd_created_at or iso(emu.wall(self.created))
        return {**self.body, "created_at": created}


def foreign(
    emu: Host, n: int, status: str, model: str, spread: float, odd: bool, source: str
) -> list[Foreign]:
    """``n`` predictions spread over the last ``spread`` seconds, newest last."""
    now = emu.clock()
    out = []
    for i in range(n):
        pid = new_id()
        created = now - spread * (n - i) / max(n, 1)
        done = status in TERMINAL
        body: dict[str, Any] = {
            "id": pid,
            "model": model,
            "version": "hidden",
            "input": {"prompt": f"someone else's picture {i}"},
            "logs": LOGS if status != "starting" else "",
            "output": f"{emu.delivery_url}/xezq/{pid}/tmp{pid[:8]}.jpeg"
            if status == "succeeded"
            else None,
            "data_removed": False,
            "error": "Internal error (someone else's)" if status == "failed" else None,
            "status": status,
            "source": source,
        }
        if status not in ("starting", "aborted"):
            body["started_at"] = iso(emu.wall(created + 0.5))
        if done:
            body["completed_at"] = iso(emu.wall(created + 2.0))
            body["metrics"] = {"predict_time": 1.5, "total_time": 2.0}
            if status == "aborted":
                body["metrics"] = {"total_time": 2.0}
        body["urls"] = urls(emu.base_url, pid)
        item = Foreign(pid, created, body)
        if odd:
            _oddify(item, i, emu)
        out.append(item)
    return out


def _oddify(item: Foreign, i: int, emu: Host) -> None:
    """Fields a strict parser trips on, one kind per prediction in turn."""
    b, kind = item.body, i % 5
    if kind == 0:  # no fraction, an offset instead of Z
        item.odd_created_at = iso(emu.wall(item.created))[:19] + "+00:00"
    elif kind == 1:  # a null inside urls
        b["urls"] = {**b["urls"], "web": None, "stream": None}
    elif kind == 2:  # an error that is an object, not a string
        b["error"] = {"detail": "worker lost", "code": "E9000"}
    elif kind == 3:  # another model, a version hash, a list output, extra fields
        b.update(model="black-forest-labs/flux-schnell", version=secrets.token_hex(32))
        b.update(output=[b["output"]] if b["output"] else None, deployment="acme/prod")
        b["webhook_completed"] = None
    else:  # nanoseconds (Go writes nine digits), a string metric, a non-string prompt
        item.odd_created_at = iso(emu.wall(item.created))[:-1] + "123Z"
        b["metrics"] = {"predict_time": "1.5"}
        b["input"] = {"prompt": 42}
