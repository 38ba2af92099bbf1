"""The Gemini emulator's state: the server, its clock, the files and batches, the counters
tests read, and the model call every route shares (parse, check, answer)."""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any

from ..wire import Server
from . import judging, request, respond, tables
from .batches import Batch
from .errors import not_found
from .faults import GeminiFaults
from .files import Files
from .http import handler

_T0_WALL, _T0_MONO = time.time(), time.monotonic()


class GeminiEmulator:
    """A Gemini-API-compatible server on loopback. Use as a context manager, or
    :meth:`start` / :meth:`stop`::

        with GeminiEmulator(latency=0.5) as emu:
            client = genai.Client(api_key="k", http_options=types.HttpOptions(
                base_url=emu.base_url))
            emu.faults.throttle_next = 1  # the next call answers 429
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", **faults: Any) -> None:
        self.faults = GeminiFaults(**faults)
        self.host = host
        self.files = Files(self)
        self.batches: dict[str, Batch] = {}  # id -> batch, in order of creation
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.keys_seen: set[str] = set()  # API keys that reached the server (never print them)
        self.bodies: list[Any] = []  # the parsed JSON bodies of every POST, as sent
        self.generate_calls = 0  # model runs: generateContent, streams and batch requests
        self.judge_calls = 0  # of which a judge's (a vision model asked about one image)
        self.decompose_calls = 0  # and a judge's decomposition of a prompt (text only)
        self.dropped: list[tuple[str, str]] = []  # requests whose connection was cut
        self.hung: list[tuple[str, str]] = []  # requests held unanswered
        self.stopping = threading.Event()
        self._window: deque[float] = deque()  # rate_limit's log of calls
        self._lock = threading.Lock()
        self._server = Server((host, port), handler(self))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The API's origin, as ``HttpOptions(base_url=...)`` wants it (no version)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> GeminiEmulator:
        # a short poll interval: stop() (every test's teardown) waits for one
        t = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="nb2-gemini"
        )
        t.start()
        self._thread = t
        return self

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()  # ends hung requests, latencies and batch workers
        for batch in list(self.batches.values()):
            batch.stop.set()
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> GeminiEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the clock ---------------------------------------------------------------------------
    def clock(self) -> float:
        return time.monotonic()

    def wall(self, mono: float | None = None) -> float:
        mono = self.clock() if mono is None else mono
        return _T0_WALL + (mono - _T0_MONO)

    def iso(self, mono: float) -> str:
        """A time as Google writes it: RFC 3339, UTC, fractional seconds, a ``Z``."""
        when = datetime.fromtimestamp(self.wall(mono), timezone.utc)
        return when.isoformat(timespec="microseconds").replace("+00:00", "Z")

    # -- knobs -------------------------------------------------------------------------------
    def take(self, knob: str) -> bool:
        """Whether the counter knob ``knob`` fires now (counting it down if so)."""
        with self._lock:
            left = getattr(self.faults, knob)
            if left > 0:
                setattr(self.faults, knob, left - 1)
            return left > 0

    def throttled(self) -> float | None:
        """Seconds until ``rate_limit``'s window frees a slot, or None (the call is counted)."""
        limit = self.faults.rate_limit
        if not limit:
            return None
        count, window = limit
        with self._lock:
            now = self.clock()
            while self._window and self._window[0] <= now - window:
                self._window.popleft()
            if len(self._window) >= count:
                return max(self._window[0] + window - now, 0.001)
            self._window.append(now)
        return None

    def latency(self, call: request.Call) -> float:
        """How long a call takes: `latency`, or a slow word's time if the prompt has one."""
        f = self.faults
        return max([f.latency, *(t for w, t in f.slow_words.items() if w in call.prompt)])

    # -- the model ---------------------------------------------------------------------------
    def served(self) -> list[str]:
        """The model ids ``models.list`` names now: the families not retired, and any extra."""
        f = self.faults
        known = [m for m in tables.FAMILIES if m not in f.retired]
        return [*known, *(m for m in f.extra_models if m not in known)]

    def serves(self, model: str) -> None:
        """A 404 NOT_FOUND, as the API answers, for an id it does not serve (retired or unknown)."""
        model = model.removeprefix("models/")
        known = tables.family(model) is not None or judging.is_judge(model)
        if model in self.faults.retired or not known:
            raise not_found(model)

    def parse(
        self, model: str, body: Any
    ) -> request.Call | judging.JudgeCall | judging.DecomposeCall:
        f = self.faults
        self.serves(model)
        if judging.is_judge(model):  # a vision model asked about one image (the judge)
            return judging.parse(model, body)
        return request.parse(
            body, model, strict=f.strict_fields, secret=f.signature_secret, files=self.files.data
        )

    def run(self, call: request.Call | judging.JudgeCall | judging.DecomposeCall) -> dict[str, Any]:
        """One model run: the GenerateContentResponse body (raises GeminiError)."""
        with self._lock:
            self.generate_calls += 1
            if isinstance(call, judging.JudgeCall):
                self.judge_calls += 1
            if isinstance(call, judging.DecomposeCall):
                self.decompose_calls += 1
        if isinstance(call, judging.JudgeCall | judging.DecomposeCall):
            return judging.answer(call, self.faults, self.take)
        return respond.answer(call, self.faults)

    def generate(self, model: str, body: Any) -> dict[str, Any]:
        return self.run(self.parse(model, body))
