"""The wire: routes under ``/{v1|v1beta}/`` (after any path prefix), the API key, the faults
that act on connections and answers, and Google's JSON and error bodies."""

from __future__ import annotations

import base64
import json
import math
import select
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..wire import BaseHandler
from . import batches, errors, respond
from .errors import GeminiError, invalid

if TYPE_CHECKING:
    from .host import GeminiHost

JSON = "application/json; charset=UTF-8"
VERSIONS = ("v1", "v1beta")


def _route(path: str) -> tuple[str, bool, str, list[str]] | None:
    """(the prefix before the version, whether under /upload, the version, the rest)."""
    parts = [p for p in urlsplit(path).path.split("/") if p]
    for i, p in enumerate(parts):
        if p in VERSIONS:
            upload = i > 0 and parts[i - 1] == "upload"
            prefix = "/".join(parts[: i - 1 if upload else i])
            return (f"/{prefix}" if prefix else ""), upload, p, parts[i + 1 :]
    return None


def handler(emu: GeminiHost) -> type[BaseHandler]:
    class Handler(BaseHandler):
        server_version = "scaffolding on HTTPServer2"  # as Google's front end names itself
        body: bytes = b""

        # -- answers ---------------------------------------------------------------------------
        def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body, separators=(",", ":")).encode()
            self.send(status, raw=raw, ctype=JSON, headers=headers)

        def error(self, exc: GeminiError, headers: dict[str, str] | None = None) -> None:
            self.send_json(exc.code, exc.body(), headers)

        def answer(self, body: Any) -> None:
            """A 200 for a model call, through the answer faults (garbled, slow)."""
            raw = json.dumps(body, separators=(",", ":")).encode()
            if emu.take("garble_next"):
                return self.send(200, raw=raw[: len(raw) // 2], ctype=JSON)
            if emu.faults.slow_body <= 0:
                return self.send(200, raw=raw, ctype=JSON)
            self.send_response(200)
            self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            pieces = 20
            step = max(1, math.ceil(len(raw) / pieces))
            for i in range(0, len(raw), step):
                if emu.stopping.wait(emu.faults.slow_body / pieces):
                    return self.cut()
                self.wfile.write(raw[i : i + step])
                self.wfile.flush()
            return None

        def hold(self) -> None:
            """Hang: unanswered until the client leaves, the emulator stops or time is up."""
            end = time.monotonic() + emu.faults.hang_timeout
            sock = self.connection
            while not emu.stopping.is_set() and time.monotonic() < end:
                try:
                    ready, _, _ = select.select([sock], [], [], 0.1)
                    if ready and not sock.recv(1, socket.MSG_PEEK):
                        break
                except (OSError, ValueError):
                    break
            self.cut()

        # -- what every request goes through -------------------------------------------------
        def _begin(self, method: str) -> tuple[str, bool, str, list[str]] | None:
            emu.requests.append((method, self.path))
            n = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(n) if n else b""
            if emu.take("drop_connections"):
                emu.dropped.append((method, self.path))
                self.cut()
                return None
            if emu.take("hang_requests"):
                emu.hung.append((method, self.path))
                self.hold()
                return None
            route = _route(self.path)
            if route is None:
                self.error(GeminiError(404, errors.NOT_FOUND))
                return None
            if route[1] and "upload_id" in self.query():
                return route  # the upload id is the credential of an upload's chunks
            if not self._authorized():
                return None
            if emu.faults.permission_denied:
                self.error(GeminiError(403, errors.DENIED))
                return None
            return route

        def query(self) -> dict[str, str]:
            return dict(parse_qsl(urlsplit(self.path).query))

        def _authorized(self) -> bool:
            key = self.headers.get("x-goog-api-key") or self.query().get("key") or ""
            if not key:
                self.error(GeminiError(403, errors.NO_KEY))
                return False
            emu.keys_seen.add(key)
            keys = emu.faults.api_keys
            if keys is not None and key not in keys:
                self.error(errors.bad_key())
                return False
            return True

        def parsed(self) -> Any:
            if len(self.body) > emu.faults.max_inline_bytes:
                limit = emu.faults.max_inline_bytes
                raise invalid(f"Request payload size exceeds the limit: {limit} bytes.")
            try:
                data = json.loads(self.body or b"{}")
            except ValueError:
                raise invalid("Invalid JSON payload received. Unexpected token.") from None
            emu.bodies.append(data)
            return data

        # -- methods ---------------------------------------------------------------------------
        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            route = self._begin(method)
            if route is None:
                return
            try:
                self._serve(method, *route)
            except GeminiError as exc:
                headers = {"x-goog-upload-status": "final"} if route[1] else None
                self.error(exc, headers)

        def _serve(self, method: str, prefix: str, upload: bool, ver: str, rest: list[str]) -> None:
            head, _, verb = (rest[-1] if rest else "").partition(":")
            where = [*rest[:-1], head]
            if upload and where == ["files"] and method == "POST":
                return self._upload(prefix, ver)
            if where[:1] == ["models"] and len(where) == 2 and method == "POST":
                if verb in ("generateContent", "streamGenerateContent"):
                    return self._generate(where[1], stream=verb == "streamGenerateContent")
                if verb == "batchGenerateContent":
                    batch = batches.create(emu, where[1], self.parsed())
                    emu.batches[batch.id] = batch
                    return self.send_json(200, batches.operation(emu, batch))
            if where[:1] == ["models"] and len(where) == 2 and method == "GET" and not verb:
                emu.serves(where[1])
                return self.send_json(200, _model(where[1]))
            if where == ["models"] and method == "GET" and not verb:
                return self._page("models", [_model(m) for m in emu.served()], 50)
            if where[:1] == ["batches"]:
                return self._batches(method, where[1:], verb)
            if where[:1] == ["files"]:
                return self._files(method, ver, where[1:], verb)
            raise GeminiError(404, errors.NOT_FOUND)

        # -- generateContent -----------------------------------------------------------------
        def _generate(self, model: str, stream: bool) -> None:
            if emu.take("throttle_next"):
                raise errors.throttled(model, emu.faults.retry_delay, 10, emu.faults.throttle_bare)
            wait = emu.throttled()
            if wait is not None:
                limit = emu.faults.rate_limit[0] if emu.faults.rate_limit else 0
                raise errors.throttled(model, wait, limit, emu.faults.throttle_bare)
            if emu.take("unavailable_next"):
                raise GeminiError(503, errors.OVERLOADED)
            if emu.take("internal_next"):
                raise GeminiError(500, errors.INTERNAL)
            if emu.take("echo_key_next"):
                key = self.headers.get("x-goog-api-key") or ""
                raise GeminiError(400, f"Request rejected by gateway for key {key}.")
            body = self.parsed()
            call = emu.parse(model, body)  # refused before the model spends any time
            if emu.stopping.wait(emu.latency(call)):
                return self.cut()
            answer = emu.run(call)
            if not stream:
                return self.answer(answer)
            pieces = respond.chunks(answer)
            if self.query().get("alt") == "sse":
                text = "".join(
                    f"data: {json.dumps(c, separators=(',', ':'))}\r\n\r\n" for c in pieces
                )
                return self.send(200, raw=text.encode(), ctype="text/event-stream")
            return self.answer(pieces)  # without alt=sse: one JSON array of the chunks

        # -- files -----------------------------------------------------------------------------
        def _upload(self, prefix: str, ver: str) -> None:
            query = self.query()
            command = self.headers.get("X-Goog-Upload-Command", "")
            if "upload_id" not in query:
                if command.strip().lower() != "start":
                    raise invalid(
                        "Only resumable uploads are supported (X-Goog-Upload-Command: start)."
                    )
                meta = errors.normalise(self.parsed()).get("file") or {}
                upload_id = emu.files.start(meta, self.headers)
                url = f"{emu.base_url}{prefix}/upload/{ver}/files?upload_id={upload_id}"
                url += "&upload_protocol=resumable"
                headers = {
                    "x-goog-upload-url": url,
                    "x-goog-upload-status": "active",
                    "x-goog-upload-chunk-granularity": str(8 * 1024 * 1024),
                }
                return self.send(200, raw=b"", ctype="text/plain; charset=utf-8", headers=headers)
            offset = self.headers.get("X-Goog-Upload-Offset")
            done = emu.files.chunk(query["upload_id"], command, offset, self.body)
            if isinstance(done, int):
                headers = {
                    "x-goog-upload-status": "active",
                    "x-goog-upload-size-received": str(done),
                }
                return self.send(200, raw=b"", ctype="text/plain; charset=utf-8", headers=headers)
            headers = {"x-goog-upload-status": "final"}
            return self.send_json(200, {"file": done.to_json(emu, ver)}, headers)

        def _files(self, method: str, ver: str, where: list[str], verb: str) -> None:
            if method == "GET" and not where:
                rows = [f.to_json(emu, ver) for f in emu.files.all()]
                return self._page("files", rows, emu.faults.files_page_size)
            if len(where) != 1:
                raise GeminiError(404, errors.NOT_FOUND)
            fid = where[0]
            if method == "GET" and verb == "download":
                f = emu.files.download(fid)
                return self.send(200, raw=f.data, ctype=f.mime or "application/octet-stream")
            if method == "GET" and not verb:
                return self.send_json(200, emu.files.get(fid).to_json(emu, ver))
            if method == "DELETE" and not verb:
                emu.files.delete(fid)
                return self.send_json(200, {})
            raise GeminiError(404, errors.NOT_FOUND)

        # -- batches ---------------------------------------------------------------------------
        def _batches(self, method: str, where: list[str], verb: str) -> None:
            if method == "GET" and not where:
                ops = [batches.operation(emu, b) for b in reversed(list(emu.batches.values()))]
                return self._page("operations", ops, emu.faults.batches_page_size)
            batch = emu.batches.get(where[0]) if len(where) == 1 else None
            if batch is None:
                raise GeminiError(404, errors.NOT_FOUND)
            if method == "GET" and not verb:
                return self.send_json(200, batches.operation(emu, batch))
            if method == "POST" and verb == "cancel":
                if batch.state(emu.clock()) not in batches.TERMINAL:
                    batch.cancelled = emu.clock()
                    batch.stop.set()  # the requests not yet run never run
                    if batch.worker is not None:  # what had finished is handed back by now
                        batch.worker.join(timeout=emu.faults.latency + 1.0)
                return self.send_json(200, {})
            if method == "DELETE" and not verb:
                batch.stop.set()
                emu.batches.pop(batch.id, None)
                return self.send_json(200, {})
            raise GeminiError(404, errors.NOT_FOUND)

        def _page(self, name: str, rows: list[Any], default: int) -> None:
            query = self.query()
            try:
                size = min(int(query.get("pageSize") or default), 100) or default
                token = query.get("pageToken")
                start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
            except (ValueError, UnicodeDecodeError):
                raise invalid("Invalid page token.") from None
            out: dict[str, Any] = {}
            if rows[start : start + size]:  # an empty list is omitted, as proto-JSON does
                out[name] = rows[start : start + size]
            if start + size < len(rows):
                out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            return self.send_json(200, out)

    Handler.emu = emu  # type: ignore[assignment]
    return Handler


def _model(model: str) -> dict[str, Any]:
    """``GET models/{m}``: a plausible Model for any image model id."""
    name = model.removeprefix("models/")
    return {
        "name": f"models/{name}",
        "version": "3.0" if "3" in name else "2.0",
        "displayName": name.replace("-", " ").title(),
        "description": "An image generation model (emulated by nb2).",
        "inputTokenLimit": 65536,
        "outputTokenLimit": 32768,
        "supportedGenerationMethods": ["generateContent", "countTokens", "batchGenerateContent"],
        "temperature": 1,
        "topP": 0.95,
        "maxTemperature": 2,
        "thinking": True,
    }
