"""A Replicate-compatible HTTP server on loopback, backed by the offline renderer.

For tests, benchmarks and rehearsing a pipeline without paying: the official client works
against it unchanged (``replicate.Client(base_url=emulator.base_url)``). It speaks the endpoints
nb2 uses (create, get, list, cancel, files), sync mode (``Prefer: wait=N``), the real error
bodies, and has knobs for latency and faults::

    with Emulator(latency=1.0) as emu:
        backend = nb2.ReplicateBackend(api_token="test", base_url=emu.base_url)
        emu.faults.throttle_creates = 2     # the next two creates get 429 (retry_after in body)

    python -m nb2.emulator --port 8765 --latency 1.0
"""

from __future__ import annotations

import argparse
import base64
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .http import handler

E005 = (
    "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
)


@dataclass
class Faults:
    """Knobs; counters count down as they fire. Change them at any time."""

    latency: float = 0.0  # seconds from create to a finished prediction
    throttle_creates: int = 0  # the next N creates answer 429
    retry_after: float = 1.0  # what a 429 asks for
    retry_after_header: bool = False  # also send a Retry-After header (the body always has it)
    poll_errors: int = 0  # the next N prediction GETs answer 503
    fail_next: int = 0  # the next N predictions fail with a model error
    moderation_words: tuple[str, ...] = ("[flag]",)  # prompts with these end E005
    # prompts containing a key take that many seconds instead of `latency`
    slow_words: dict[str, float] = field(default_factory=dict)
    credit: bool = True  # False: creates answer 402
    tokens: tuple[str, ...] | None = None  # accepted tokens (None: any non-empty)
    drop_create_responses: int = 0  # the next N creates are made but their answer is lost
    processing_after: float = 0.05  # seconds before "starting" becomes "processing"
    refuse_field: str | None = None  # creates answer 422 naming this input field
    drop_connections: int = 0  # the next N API requests are dropped unanswered (socket closed)
    drop_every: int = 0  # also drop every Nth API request (0: never); creates never run then


@dataclass
class _Prediction:
    id: str
    model: str
    input: dict[str, Any]
    images: list[bytes]
    created: float
    done_at: float
    moderated: bool
    fail: bool
    status: str = "starting"
    output: str | None = None
    error: str | None = None
    completed: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    rendered: threading.Event = field(default_factory=threading.Event)
    data: bytes | None = None  # the output, rendered in the background from create on
    stopped: threading.Event = field(default_factory=threading.Event)  # set on cancel


class Emulator:
    """The server. Use as a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", **faults: Any) -> None:
        self.faults = Faults(**faults)
        self.predictions: dict[str, _Prediction] = {}
        self.files: dict[str, tuple[bytes, str, str]] = {}  # id -> (data, name, content type)
        self.outputs: dict[str, bytes] = {}
        self.created: list[str] = []  # prediction ids, in order of creation
        self.canceled: list[str] = []  # ids that a cancel call reached
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.downloads: list[dict[str, str]] = []  # headers of every output download
        self.tokens_seen: set[str] = set()  # so tests can tell the token did reach the API
        self.in_flight_max = 0
        self.refused: list[dict[str, Any]] = []  # (model, input, problems) of every 422
        self.dropped: list[tuple[str, str]] = []  # requests whose connection was cut
        self._seen = 0  # API requests counted for drop_every
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="nb2-emulator"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def in_flight(self) -> int:
        """Predictions created and not yet finished, right now."""
        now = time.monotonic()
        return sum(
            1
            for p in list(self.predictions.values())
            if p.status not in ("succeeded", "failed", "canceled") and p.done_at > now
        )

    # -- the model ---------------------------------------------------------------------------
    def _create(self, model: str, inp: dict[str, Any]) -> _Prediction:
        from ..backends.render import render  # noqa: F401  (import cost paid before the clock starts)

        pid = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))
        now = time.monotonic()
        f = self.faults
        prompt = str(inp.get("prompt", ""))
        with self._lock:
            fail = f.fail_next > 0
            f.fail_next -= 1 if fail else 0
        pred = _Prediction(
            id=pid,
            model=model,
            input=inp,
            images=[self._fetch(u) for u in inp.get("image_input", [])],
            created=now,
            done_at=now + max([f.latency, *(t for w, t in f.slow_words.items() if w in prompt)]),
            fail=fail,
            moderated=any(w in prompt for w in f.moderation_words),
        )
        with self._lock:
            self.predictions[pid] = pred
            self.created.append(pid)
            self.in_flight_max = max(self.in_flight_max, self.in_flight())
        if pred.moderated or pred.fail:
            pred.rendered.set()
        else:
            # The model works during its latency: render now, so `latency` is the whole time
            # from create to output (not latency plus render), as with the real service.
            threading.Thread(target=self._render, args=(pred,), daemon=True).start()
        return pred

    def _render(self, pred: _Prediction) -> None:
        from ..backends.render import render

        try:
            pred.data = render(pred.input, pred.images, model=pred.model)
        finally:
            pred.rendered.set()

    def _drop(self, method: str, path: str) -> bool:
        """Whether to cut this request's connection without an answer (a fault knob)."""
        f = self.faults
        with self._lock:
            self._seen += 1
            drop = f.drop_connections > 0 or (f.drop_every > 0 and self._seen % f.drop_every == 0)
            f.drop_connections -= 1 if f.drop_connections > 0 else 0
            if drop:
                self.dropped.append((method, path))
        return drop

    def _advance(self, pred: _Prediction) -> None:
        with pred.lock:
            if pred.status in ("succeeded", "failed", "canceled"):
                return
            now = time.monotonic()
            if now < pred.done_at or not pred.rendered.is_set():
                if now - pred.created >= self.faults.processing_after:
                    pred.status = "processing"
                return
            pred.completed = now
            if pred.moderated:
                pred.status, pred.error = "failed", E005
            elif pred.fail:
                pred.status, pred.error = "failed", "Internal error while generating (emulated)"
            elif pred.data is None:
                pred.status, pred.error = "failed", "the emulated render failed"
            else:
                ext = "png" if pred.input.get("output_format") == "png" else "jpeg"
                self.outputs[f"{pred.id}/output.{ext}"] = pred.data
                pred.output = f"{self.base_url}/delivery/{pred.id}/output.{ext}"
                pred.status = "succeeded"

    def _fetch(self, uri: str) -> bytes:
        if uri.startswith("data:"):
            return base64.b64decode(uri.split(",", 1)[1])
        path = urlsplit(uri).path
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["v1", "files"] and parts[2] in self.files:
            return self.files[parts[2]][0]
        raise ValueError(f"cannot fetch image input {uri[:60]!r}")

    def _json(self, pred: _Prediction) -> dict[str, Any]:
        self._advance(pred)
        base = f"{self.base_url}/v1/predictions/{pred.id}"
        done = pred.completed
        return {
            "id": pred.id,
            "model": pred.model,
            "version": "hidden",
            "input": pred.input,
            "output": pred.output,
            "error": pred.error,
            "logs": "emulated: nb2 offline renderer\n",
            "status": pred.status,
            "created_at": _iso(pred.created),
            "data_removed": False,
            "started_at": _iso(pred.created + min(0.01, pred.done_at - pred.created)),
            "completed_at": _iso(done) if done else None,
            "metrics": {"predict_time": round(done - pred.created, 3)} if done else {},
            "urls": {"get": base, "cancel": f"{base}/cancel", "web": f"{base}/web"},
        }


_T0_WALL, _T0_MONO = time.time(), time.monotonic()


def _iso(mono: float) -> str:
    wall = datetime.fromtimestamp(_T0_WALL + (mono - _T0_MONO), timezone.utc)
    return wall.isoformat(timespec="microseconds").replace("+00:00", "Z")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m nb2.emulator", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per prediction")
    args = ap.parse_args(argv)
    emu = Emulator(port=args.port, host=args.host, latency=args.latency).start()
    print(f"nb2 emulator on {emu.base_url} (latency {args.latency} s); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emu.stop()

