"""The emulator's wire: routes, request parsing, status codes and the error bodies Replicate
sends. The state (predictions, files, faults) lives in :mod:`nb2.emulator`; this module only
turns HTTP into calls on it and its answers back into HTTP."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import models

if TYPE_CHECKING:
    from .server import Emulator


def _problem(status: int, title: str | None, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "status": status, **extra}
    if title:
        body["title"] = title
    return body


def handler(emu: Emulator) -> type[BaseHTTPRequestHandler]:
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
