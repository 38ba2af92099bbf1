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
import hashlib
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import models

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
        self._server = ThreadingHTTPServer((host, port), _handler(self))
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
        from .render import render  # noqa: F401  (import cost paid before the clock starts)

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
        from .render import render

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


def _problem(status: int, title: str | None, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "status": status, **extra}
    if title:
        body["title"] = title
    return body


def _handler(emu: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "nb2-emulator"
        # Headers and body go out as two writes; with Nagle on, loopback adds a delayed-ACK
        # stall (~40 ms) to every answer, which no real API has.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # quiet: tests read emu.requests instead
            pass

        def _send(
            self,
            status: int,
            body: Any,
            headers: dict[str, str] | None = None,
            raw: bytes | None = None,
            ctype: str = "application/json",
        ) -> None:
            data = raw if raw is not None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _authorized(self) -> bool:
            auth = self.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            ok = scheme in ("Bearer", "Token") and bool(token)
            if ok:
                emu.tokens_seen.add(token)
            if ok and emu.faults.tokens is not None:
                ok = token in emu.faults.tokens
            if not ok:
                self._send(
                    401,
                    _problem(
                        401, "Unauthenticated", "You did not pass a valid authentication token"
                    ),
                )
            return ok

        def _cut(self) -> None:
            """Close the socket with no answer at all (a dropped connection)."""
            self.close_connection = True
            self.connection.shutdown(2)

        def do_GET(self) -> None:
            emu.requests.append(("GET", self.path))
            if emu._drop("GET", self.path):
                return self._cut()
            parts = urlsplit(self.path).path.strip("/").split("/")
            if parts[0] == "delivery":
                emu.downloads.append(dict(self.headers.items()))
                data = emu.outputs.get("/".join(parts[1:]))
                if data is None:
                    return self._send(404, _problem(404, None, "Not found"))
                ctype = "image/png" if self.path.endswith(".png") else "image/jpeg"
                return self._send(200, None, raw=data, ctype=ctype)
            if not self._authorized():
                return None
            if parts[:2] == ["v1", "predictions"] and len(parts) == 2:
                preds = sorted(emu.predictions.values(), key=lambda p: -p.created)
                return self._send(
                    200,
                    {
                        "next": None,
                        "previous": None,
                        "results": [emu._json(p) for p in preds[:100]],
                    },
                )
            if parts[:2] == ["v1", "predictions"] and len(parts) == 3:
                with emu._lock:
                    fail = emu.faults.poll_errors > 0
                    emu.faults.poll_errors -= 1 if fail else 0
                if fail:
                    return self._send(
                        503,
                        _problem(503, "Service Unavailable", "Temporarily unavailable (emulated)"),
                    )
                pred = emu.predictions.get(parts[2])
                if pred is None:
                    return self._send(
                        404, _problem(404, None, "The requested resource could not be found.")
                    )
                return self._send(200, emu._json(pred))
            if parts[:2] == ["v1", "files"] and len(parts) >= 3 and parts[2] in emu.files:
                data, _, ctype = emu.files[parts[2]]
                return self._send(200, None, raw=data, ctype=ctype)
            return self._send(
                404, _problem(404, None, "The requested resource could not be found.")
            )

        def do_POST(self) -> None:
            emu.requests.append(("POST", self.path))
            body = self._body()
            if emu._drop("POST", self.path):  # read, never acted on: nothing is created
                return self._cut()
            if not self._authorized():
                return None
            parts = urlsplit(self.path).path.strip("/").split("/")
            if parts[:2] == ["v1", "models"] and len(parts) == 5 and parts[4] == "predictions":
                return self._create(f"{parts[2]}/{parts[3]}", body)
            if parts[:2] == ["v1", "predictions"] and len(parts) == 4 and parts[3] == "cancel":
                pred = emu.predictions.get(parts[2])
                if pred is None:
                    return self._send(
                        404, _problem(404, None, "The requested resource could not be found.")
                    )
                emu.canceled.append(pred.id)
                emu._advance(pred)
                with pred.lock:
                    if pred.status not in ("succeeded", "failed", "canceled"):
                        pred.status, pred.completed = "canceled", time.monotonic()
                        pred.stopped.set()
                return self._send(200, emu._json(pred))
            if parts == ["v1", "files"]:
                return self._upload(body)
            return self._send(
                404, _problem(404, None, "The requested resource could not be found.")
            )

        def _create(self, model: str, body: bytes) -> None:
            f = emu.faults
            if model not in models.MODELS:
                return self._send(
                    404, _problem(404, None, "The requested resource could not be found.")
                )
            if not f.credit:
                return self._send(
                    402,
                    _problem(
                        402,
                        "Insufficient credit",
                        "You have insufficient credit to run this model. "
                        "Go to https://replicate.com/account/billing to purchase credit.",
                    ),
                )
            with emu._lock:
                throttled = f.throttle_creates > 0
                f.throttle_creates -= 1 if throttled else 0
            if throttled:
                wait = f.retry_after
                headers = {"Retry-After": str(int(wait))} if f.retry_after_header else None
                return self._send(
                    429,
                    _problem(
                        429,
                        None,
                        f"Request was throttled. Your rate limit resets in ~{wait:g}s.",
                        retry_after=wait,
                    ),
                    headers,
                )
            try:
                inp = json.loads(body or b"{}").get("input") or {}
            except ValueError:
                return self._send(400, _problem(400, "Bad Request", "body is not JSON"))
            invalid = models.check_input(model, inp)
            if f.refuse_field:
                invalid.append(
                    {
                        "type": "enum",
                        "field": f"input.{f.refuse_field}",
                        "description": f"{f.refuse_field} refused (emulated)",
                    }
                )
            images = inp.get("image_input", [])
            for i, uri in enumerate(images if isinstance(images, list) else []):
                if not isinstance(uri, str) or not uri.startswith(("data:", "http://", "https://")):
                    invalid.append(
                        {
                            "type": "format",
                            "field": f"input.image_input.{i}",
                            "description": "Does not match format 'uri'",
                        }
                    )
            prefer = self.headers.get("Prefer", "")
            wait = 0.0
            if prefer.startswith("wait"):
                _, _, n = prefer.partition("=")
                wait = float(n) if n else 60.0
                if not 1 <= wait <= 60:
                    invalid.append(
                        {
                            "type": "header",
                            "field": "Prefer",
                            "description": "wait must be between 1 and 60",
                        }
                    )
            if invalid:
                emu.refused.append({"model": model, "input": inp, "problems": invalid})
                detail = "".join(f"- {p['field']}: {p['description']}\n" for p in invalid)
                return self._send(
                    422, _problem(422, "Input validation failed", detail, invalid_fields=invalid)
                )
            try:
                pred = emu._create(model, inp)
            except ValueError as exc:
                return self._send(422, _problem(422, "Input validation failed", str(exc)))
            if wait:
                hold = time.monotonic() + wait
                end = min(pred.done_at, hold)
                pred.stopped.wait(max(0.0, end - time.monotonic()))  # answer at done_at
                if pred.status != "canceled":  # a render slower than the latency
                    pred.rendered.wait(max(0.0, hold - time.monotonic()))
            with emu._lock:
                drop = f.drop_create_responses > 0
                f.drop_create_responses -= 1 if drop else 0
            if drop:  # the prediction exists, but the client never hears of it
                return self._cut()
            headers = {"Location": f"{emu.base_url}/v1/predictions/{pred.id}"}
            return self._send(201, emu._json(pred), headers)

        def _upload(self, body: bytes) -> None:
            from email.parser import BytesParser
            from email.policy import default

            ctype = self.headers.get("Content-Type", "")
            msg = BytesParser(policy=default).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + body
            )
            for part in msg.iter_parts() if msg.is_multipart() else []:
                if part.get_param("name", header="content-disposition") != "content":
                    continue
                data = part.get_payload(decode=True) or b""
                fid = secrets.token_hex(12)
                name = part.get_filename() or "file"
                emu.files[fid] = (data, name, part.get_content_type())
                now = datetime.now(timezone.utc)
                url = f"{emu.base_url}/v1/files/{fid}"
                return self._send(
                    201,
                    {
                        "id": fid,
                        "name": name,
                        "content_type": part.get_content_type(),
                        "size": len(data),
                        "etag": hashlib.md5(data).hexdigest(),
                        "checksums": {"sha256": hashlib.sha256(data).hexdigest()},
                        "metadata": {},
                        "created_at": now.isoformat().replace("+00:00", "Z"),
                        "expires_at": (now + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
                        "urls": {"get": url},
                    },
                )
            return self._send(
                422, _problem(422, "Input validation failed", "multipart part 'content' is missing")
            )

    return Handler


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


if __name__ == "__main__":
    main()
