"""A Replicate-compatible HTTP server on loopback, backed by the offline renderer.

For tests, benchmarks and rehearsing a pipeline without paying: the official clients work
against it unchanged (``replicate.Client(base_url=emu.base_url)``; npm ``replicate`` with
``baseUrl: emu.base_url + "/v1"``). By default it answers as api.replicate.com does, as far as
its OpenAPI description and recorded exchanges show:

- a sync create (``Prefer: wait[=N]``, N 1..60) answers 201 ``processing`` with ``output``
  already filled in when the model finishes within the hold, and ``starting`` with a null
  output when the hold expires; without ``Prefer`` it answers ``starting`` at once. A create
  never says ``succeeded``: GET the prediction for that;
- ``started_at``/``completed_at``/``metrics`` are absent until they exist (and from create
  answers); ``urls.web`` is ``https://replicate.com/p/{id}``; errors are
  ``application/problem+json``;
- ``Cancel-After`` (a Go duration, 5 s at least) ends a prediction: ``aborted`` if it had not
  started, ``canceled`` if it had; ``GET /v1/predictions`` lists the whole account (see
  :meth:`Emulator.add_foreign`) newest first, 100 a page, with ``created_after``/``before``;
- the Files API keeps JSON objects (``GET /v1/files/{id}`` is not the bytes);
- outputs live on a second origin, :attr:`Emulator.delivery_url`, so a test can see that no
  credentials travel there.

A deliberate, documented difference: outputs are ``http://`` by default, where the real ones are
``https://replicate.delivery``. Loopback https needs a CA file that every client would have to
be told to trust; nb2 downloads outputs itself and does not care. Pass
``delivery_scheme="https"`` to serve them over TLS with a self-signed certificate made at start
(``openssl`` CLI); trust :attr:`Emulator.cafile` (``NODE_EXTRA_CA_CERTS`` for node, an
``ssl`` context for httpx) and the clients turn outputs into ``FileOutput`` as with the real
service. Faults are opt-in knobs, :class:`~nb2.emulator.faults.Faults`::

    with Emulator(latency=1.0) as emu:
        backend = nb2.ReplicateBackend(api_token="test", base_url=emu.base_url)
        emu.faults.throttle_creates = 2     # the next two creates get 429

    python -m nb2.emulator --port 8765 --latency 1.0
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import math
import secrets
import signal
import sys
import threading
import time
import urllib.request
from collections import defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import tls
from .delivery import delivery_handler
from .faults import Faults
from .files import Files
from .http import handler
from .predictions import E005, TERMINAL, Foreign, Prediction, foreign, new_id
from .wire import Server

__all__ = ["E005", "Emulator", "Faults", "main"]

_T0_WALL, _T0_MONO = time.time(), time.monotonic()


class Emulator:
    """The server. Use as a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", **faults: Any) -> None:
        self.faults = Faults(**faults)
        if self.faults.delivery_scheme not in ("http", "https"):
            raise ValueError("delivery_scheme must be 'http' or 'https'")
        self.host = host
        self.predictions: dict[str, Prediction] = {}
        self.foreign: dict[str, Foreign] = {}  # see add_foreign
        self.files = Files(self)
        self.outputs: dict[str, bytes] = {}  # delivery path -> bytes
        self._output_of: dict[str, Prediction] = {}
        self.created: list[str] = []  # prediction ids, in order of creation
        self.canceled: list[str] = []  # ids that a cancel call reached
        self.cancel_times: dict[str, float] = {}  # id -> time.monotonic() of its first cancel
        self.cancel_after: dict[str, str | None] = {}  # id -> the Cancel-After its create sent
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, both origins
        self.downloads: list[dict[str, str]] = []  # headers of every output download
        self.tokens_seen: set[str] = set()  # so tests can tell the token did reach the API
        self.in_flight_max = 0
        self.schema_gets: list[str] = []  # models whose GET /v1/models/{owner}/{name} came
        self.refused: list[dict[str, Any]] = []  # (model, input, problems) of every 422
        self.dropped: list[tuple[str, str]] = []  # requests whose connection was cut
        self.hung: list[tuple[str, str]] = []  # requests held unanswered (hang_requests)
        self.cafile: Path | None = None  # the https delivery's certificate, once started
        self.stopping = threading.Event()
        self._seen = 0  # requests counted for drop_every
        self._windows: dict[str, deque[float]] = defaultdict(deque)  # rate-limit logs
        self._lock = threading.Lock()
        self._server = Server((host, port), handler(self))
        self._delivery = Server((host, 0), delivery_handler(self))
        self._scheme = self.faults.delivery_scheme
        self._threads: list[threading.Thread] = []

    # -- the two origins ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The API's origin (no ``/v1``), as the Python client's ``base_url`` wants it."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def delivery_url(self) -> str:
        """The output files' origin (a different port; https with ``delivery_scheme``)."""
        host, port = self._delivery.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    def start(self) -> Emulator:
        if self._scheme == "https" and self._delivery.ssl_context is None:
            self.cafile, self._delivery.ssl_context = tls.make_certificate(self.host)
        for name, srv in (("nb2-emulator", self._server), ("nb2-delivery", self._delivery)):
            # a short poll interval: stop() (every test's teardown) waits for one
            t = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True, name=name)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()  # ends sync holds, hung requests and slow downloads
        for srv in (self._server, self._delivery):
            if self._threads:
                srv.shutdown()
            srv.server_close()
        tls.remove(self.cafile)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the server's clock --------------------------------------------------------------------
    def clock(self) -> float:
        return time.monotonic()

    def wall(self, mono: float | None = None) -> float:
        """The server's wall time (epoch seconds) of a monotonic time, skew included."""
        mono = self.clock() if mono is None else mono
        return _T0_WALL + (mono - _T0_MONO) + self.faults.clock_skew

    def mono(self, wall: float) -> float:
        """The monotonic time of a server wall time (the inverse of :meth:`wall`)."""
        return wall - self.faults.clock_skew - _T0_WALL + _T0_MONO

    # -- knobs that count down ---------------------------------------------------------------
    def take(self, knob: str) -> bool:
        """Whether the counter knob ``knob`` fires now (counting it down if so)."""
        with self._lock:
            left = getattr(self.faults, knob)
            if left > 0:
                setattr(self.faults, knob, left - 1)
            return left > 0

    def drops(self, method: str, path: str) -> bool:
        """Whether to cut this request's connection without an answer (a fault knob)."""
        f = self.faults
        with self._lock:
            self._seen += 1
            drop = f.drop_connections > 0 or (f.drop_every > 0 and self._seen % f.drop_every == 0)
            f.drop_connections -= 1 if f.drop_connections > 0 else 0
            if drop:
                self.dropped.append((method, path))
        return drop

    def throttled(self, kind: str) -> float | None:
        """Seconds until the rate-limit window for ``kind`` ("create" or "other") frees a
        slot, or None (and the call is counted) when it is not over its limit."""
        limit = self.faults.rate_limit if kind == "create" else self.faults.rate_limit_other
        if not limit:
            return None
        count, window = limit
        with self._lock:
            log, now = self._windows[kind], self.clock()
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) >= count:
                return max(log[0] + window - now, 0.001)
            log.append(now)
        return None

    # -- the model ---------------------------------------------------------------------------
    def create(self, model: str, inp: dict[str, Any], deadline: float | None) -> Prediction:
        from ..backends.offline.render import render  # noqa: F401  (its import cost is paid before the clock starts)

        f = self.faults
        now = self.clock()
        prompt = str(inp.get("prompt", ""))
        latency = max([f.latency, *(t for w, t in f.slow_words.items() if w in prompt)])
        pred = Prediction(
            id=new_id(),
            model=model,
            input=inp,
            created=now,
            start_at=now + min(f.processing_after, latency),
            done_at=now + latency,
            fail=self.take("fail_next"),
            moderated=any(w in prompt for w in f.moderation_words),
            deadline=deadline,
        )
        with self._lock:
            self.predictions[pred.id] = pred
            self.created.append(pred.id)
            self.in_flight_max = max(self.in_flight_max, self.in_flight())
        if pred.moderated or pred.fail:
            pred.rendered_at = now
            pred.rendered.set()
        else:
            # The model works during its latency: render within it, so `latency` is the whole
            # time from create to output (not latency plus render), as with the real service.
            # Not at the very start: a real model's work costs the client's machine nothing,
            # and here it shares the CPU with the client's burst of creates.
            start = threading.Timer(min(0.2, latency / 4), self._render, args=(pred,))
            start.daemon = True
            start.start()
        return pred

    def _render(self, pred: Prediction) -> None:
        from . import catalog

        try:
            try:
                uris = catalog.image_inputs(pred.model, pred.input)
                images = {k: [self.fetch(u) for u in v] for k, v in uris.items()}
            except (OSError, ValueError) as exc:  # the prediction fails, as a real one would
                pred.fetch_error = f"Failed to fetch an image input: {exc}"
                return
            # an unreadable image: data stays None and the prediction fails
            with contextlib.suppress(Exception):
                pred.data = catalog.run(pred.model, pred.input, images)
        finally:
            pred.rendered_at = self.clock()
            pred.rendered.set()

    def advance(self, pred: Prediction) -> None:
        pred.advance(self.clock(), self._publish)

    def _publish(self, pred: Prediction) -> str | list[str]:
        """The output's URL (a list of them for a model whose output is a list)."""
        many = isinstance(pred.data, list)
        urls = []
        for i, data in enumerate(pred.data if many else [pred.data or b""]):
            ext = {b"\x89P": "png", b"RI": "webp"}.get(data[:2], "jpeg")
            name = f"out-{i}" if many else f"tmp{pred.id[:8]}"
            path = f"xezq/{secrets.token_urlsafe(24)}/{name}.{ext}"
            self.outputs[path] = data
            self._output_of[path] = pred
            urls.append(f"{self.delivery_url}/{path}")
        return urls if many else urls[0]

    def output_at(self, path: str) -> bytes | None:
        """An output's bytes, unless unknown or past the data retention."""
        pred = self._output_of.get(path)
        if pred is None or pred.completed is None:
            return None
        if self.clock() - pred.completed > self.faults.data_retention:
            return None
        return self.outputs.get(path)

    def hold(self, pred: Prediction, seconds: float) -> None:
        """A sync create's hold: until the prediction ends or ``seconds`` pass."""
        end = self.clock() + seconds
        while not self.stopping.is_set():
            self.advance(pred)
            now = self.clock()
            if pred.status in TERMINAL or now >= end:
                return
            times = (end, pred.start_at, pred.done_at, pred.deadline)
            wake = min(t for t in times if t is not None and t > now)
            event = pred.stopped if pred.rendered.is_set() else pred.rendered
            event.wait(min(wake - now, 0.1))  # 0.1: a cancel or a stop is noticed soon

    def in_flight(self) -> int:
        """Predictions created and not yet finished, right now."""
        now = self.clock()
        return sum(
            1
            for p in list(self.predictions.values())
            if p.status not in TERMINAL
            and min(p.done_at if p.rendered.is_set() else math.inf, p.deadline or math.inf) > now
        )

    def fetch(self, uri: str) -> bytes:
        """An image input's bytes, as the model would fetch them (uploads read internally)."""
        if uri.startswith("data:"):
            try:
                return base64.b64decode(uri.split(",", 1)[1])
            except (IndexError, ValueError) as exc:
                raise OSError(f"bad data URI ({exc})") from None
        parts = urlsplit(uri)
        origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.strip("/").split("/")
        if origin == self.base_url:
            if len(path) >= 3 and path[:2] == ["v1", "files"]:
                f = self.files.live(path[2])
                if f is not None:
                    return f.data
            raise OSError(f"{uri[:80]}: no such file")
        if origin == self.delivery_url:
            data = self.output_at("/".join(path))
            if data is None:
                raise OSError(f"{uri[:80]}: not found")
            return data
        with urllib.request.urlopen(uri, timeout=5) as r:
            return r.read()

    # -- the rest of the account ---------------------------------------------------------------
    def add_foreign(
        self,
        n: int,
        *,
        status: str = "succeeded",
        model: str = "google/nano-banana-2",
        spread: float = 60.0,
        odd: bool = False,
        source: str = "web",
    ) -> list[str]:
        """Seed ``n`` predictions this emulator did not make (web runs, other processes),
        created over the last ``spread`` seconds, with ``status`` (``aborted`` included).
        ``odd``: each carries one field a strict parser trips on (a null in ``urls``, an
        offset time, an object ``error``, a list output, a string metric...). Their ids."""
        made = foreign(self, n, status, model, spread, odd, source)
        with self._lock:
            self.foreign.update((f.id, f) for f in made)
        return [f.id for f in made]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m nb2.emulator", description=__doc__.split("\n")[0])
    ap.add_argument("--api", choices=("replicate", "gemini"), default="replicate")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per prediction")
    ap.add_argument("--delivery-scheme", choices=("http", "https"), default="http")
    args = ap.parse_args(argv)
    emu: Any
    if args.api == "gemini":
        from .gemini import GeminiEmulator

        emu = GeminiEmulator(port=args.port, host=args.host, latency=args.latency).start()
        print(
            f"nb2 Gemini emulator on {emu.base_url} (latency {args.latency} s); Ctrl-C stops it",
            flush=True,
        )
    else:
        emu = Emulator(
            port=args.port,
            host=args.host,
            latency=args.latency,
            delivery_scheme=args.delivery_scheme,
        ).start()
        print(
            f"nb2 emulator on {emu.base_url}, outputs on {emu.delivery_url} "
            f"(latency {args.latency} s); Ctrl-C stops it",
            flush=True,
        )
        if emu.cafile:
            print(f"delivery certificate: {emu.cafile}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a kill still runs the finally
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()  # also removes the https certificate's folder
