"""The API origin's wire: routes, request parsing, status codes and the bodies Replicate sends.
The state (predictions, files, knobs) lives on :class:`~nb2.emulator.server.Emulator`; this
module turns HTTP into calls on it and its answers back into HTTP."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from . import catalog
from .predictions import TERMINAL, parse_duration
from .wire import BaseHandler, iso, paginate, parse_time, problem, shown

if TYPE_CHECKING:
    from .host import Host

_PREFER = re.compile(r"wait(?:=(\d+))?")  # the OpenAPI's ^wait(=([1-9]|[1-9][0-9]|60))?$
_HTML = (
    b"<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head>"
    b"<body><h1>Checking your browser before accessing api.replicate.com</h1></body></html>\n"
)
_TITLES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def _field(kind: str, name: str, description: str) -> dict[str, str]:
    return {"type": kind, "field": name, "description": description}


def _unfinished(body: dict[str, Any], status: str) -> None:
    """A create answer for a prediction not done yet (whatever it became meanwhile)."""
    body.update(status=status, output=None, error=None)
    for key in ("started_at", "completed_at", "metrics"):
        body.pop(key, None)
    if status == "starting":
        body["logs"] = ""


def handler(emu: Host) -> type[BaseHandler]:
    class Handler(BaseHandler):
        body: bytes = b""

        # -- what every request goes through ---------------------------------------------------
        def _begin(self, method: str) -> list[str] | None:
            """Record the request, apply connection faults and auth; the path's parts."""
            emu.requests.append((method, self.path))
            self.body = self._read() if method == "POST" else b""
            if emu.drops(method, self.path):  # read, never acted on: nothing is created
                self.cut()
                return None
            if emu.take("hang_requests"):
                emu.hung.append((method, self.path))
                self.hang()
                return None
            if not self._authorized():
                return None
            parts = urlsplit(self.path).path.strip("/").split("/")
            is_create = method == "POST" and parts[-1:] == ["predictions"]
            if not is_create and self._throttle(emu.throttled("other"), exact=False):
                return None
            return parts

        def _read(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _query(self) -> dict[str, str]:
            return dict(parse_qsl(urlsplit(self.path).query))

        def _authorized(self) -> bool:
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            ok = scheme in ("Bearer", "Token") and bool(token)
            if ok:
                emu.tokens_seen.add(token)
            if ok and emu.faults.tokens is not None:
                ok = token in emu.faults.tokens
            if not ok:
                detail = "You did not pass a valid authentication token"
                self.send(401, problem(401, "Unauthenticated", detail))
            return ok

        def _throttle(self, wait: float | None, exact: bool) -> bool:
            """Answer 429 if ``wait`` (seconds until the window frees) says so."""
            if wait is None:
                return False
            f = emu.faults
            n = max(1, math.ceil(wait))
            told = wait if exact else n  # throttle_creates keeps its number: tests wait less
            if f.throttle_old_message:
                detail = f"Request was throttled. Expected available in {n} second{'s' * (n > 1)}."
            else:
                detail = f"Request was throttled. Your rate limit resets in ~{told:g}s."
            body = problem(429, None, detail)
            if f.retry_after_field:
                body["retry_after"] = told
            headers = {"Retry-After": str(n)} if f.retry_after_header else None
            self.send(429, body, headers=headers)
            return True

        # -- methods ----------------------------------------------------------------------------
        def do_GET(self) -> None:
            parts = self._begin("GET")
            if parts is None:
                return None
            if parts == ["v1", "predictions"]:
                return self._list_predictions()
            if parts[:2] == ["v1", "predictions"] and len(parts) == 3:
                return self._get_prediction(parts[2])
            if parts == ["v1", "files"]:
                return self._list(
                    [(shown(emu.wall(f.created)), f.id, f) for f in emu.files.all()],
                    lambda f: f.to_json(emu),
                )
            if parts[:2] == ["v1", "models"] and len(parts) == 4:
                model = f"{parts[2]}/{parts[3]}"
                emu.schema_gets.append(model)
                if not catalog.served(model):
                    return self.not_found()
                return self.send(200, catalog.model_json(model))
            if parts[:2] == ["v1", "files"] and len(parts) == 3:
                f = emu.files.live(parts[2])
                return self.send(200, f.to_json(emu)) if f else self.not_found()
            return self.not_found()

        def do_POST(self) -> None:
            parts = self._begin("POST")
            if parts is None:
                return None
            if parts[:2] == ["v1", "models"] and len(parts) == 5 and parts[4] == "predictions":
                return self._create(f"{parts[2]}/{parts[3]}")
            if parts == ["v1", "predictions"]:
                return self._create(None)  # the model is named by the body's "version"
            if parts[:2] == ["v1", "predictions"] and len(parts) == 4 and parts[3] == "cancel":
                return self._cancel(parts[2])
            if parts == ["v1", "files"]:
                made = emu.files.upload(self.headers.get("Content-Type", ""), self.body)
                if isinstance(made, str):
                    return self.send(422, problem(422, "Input validation failed", made))
                return self.send(201, made.to_json(emu))
            return self.not_found()

        def do_DELETE(self) -> None:
            parts = self._begin("DELETE")
            if parts is None:
                return None
            if parts[:2] == ["v1", "files"] and len(parts) == 3 and emu.files.delete(parts[2]):
                return self.send(204)
            return self.not_found()

        # -- predictions ----------------------------------------------------------------------
        def _get_prediction(self, pid: str) -> None:
            f = emu.faults
            if f.poll_errors_forever or emu.take("poll_errors"):
                code = f.poll_error_status
                headers = None
                if f.poll_retry_after is not None:
                    headers = {"Retry-After": f"{f.poll_retry_after:g}"}
                title = _TITLES.get(code, "Server Error")
                detail = "Temporarily unavailable (emulated)"
                return self.send(code, problem(code, title, detail), headers=headers)
            pred = emu.predictions.get(pid)
            if pred is not None:
                emu.advance(pred)
                return self.send(200, pred.to_json(emu))
            other = emu.foreign.get(pid)
            return self.send(200, other.to_json(emu)) if other else self.not_found()

        def _list_predictions(self) -> None:
            query = self._query()
            lo, hi = -math.inf, math.inf
            for name in ("created_after", "created_before"):
                if name in query:
                    when = parse_time(query[name])
                    if when is None:
                        detail = f"{name} must be an ISO 8601 date-time"
                        return self.send(400, problem(400, "Bad Request", detail))
                    lo, hi = (when, hi) if name == "created_after" else (lo, when)
            rows: list[tuple[float, str, Any]] = []
            for p in list(emu.predictions.values()):
                rows.append((shown(emu.wall(p.created)), p.id, p))
            for other in list(emu.foreign.values()):
                rows.append((shown(emu.wall(other.created)), other.id, other))
            rows = [r for r in rows if lo <= r[0] < hi]

            def render(item: Any) -> dict[str, Any]:
                if hasattr(item, "advance"):
                    emu.advance(item)
                return item.to_json(emu)

            return self._list(rows, render, query)

        def _list(
            self,
            rows: list[tuple[float, str, Any]],
            render: Callable[[Any], Any],
            query: dict[str, str] | None = None,
        ) -> None:
            url = f"{emu.base_url}{urlsplit(self.path).path}"
            query = self._query() if query is None else query
            page = paginate(rows, query, url, emu.faults.page_size, render)
            if page is None:
                return self.send(400, problem(400, "Bad Request", "Invalid cursor"))
            return self.send(200, page)

        def _cancel(self, pid: str) -> None:
            pred = emu.predictions.get(pid)
            emu.canceled.append(pid)
            emu.cancel_times.setdefault(pid, emu.clock())
            if pred is not None:
                emu.advance(pred)
                pred.cancel(emu.clock())
                return self.send(200, pred.to_json(emu))
            other = emu.foreign.get(pid)
            if other is None:
                return self.not_found()
            if other.body["status"] not in TERMINAL:
                other.body.update(status="canceled", completed_at=iso(emu.wall()))
            return self.send(200, other.to_json(emu))

        def _create(self, model: str | None) -> None:
            f = emu.faults
            if emu.take("throttle_creates"):
                self._throttle(f.retry_after, exact=True)
                return None
            if self._throttle(emu.throttled("create"), exact=False):
                return None
            if model is not None and not (catalog.served(model) and catalog.official(model)):
                return self.not_found()  # only official models run without a version
            if not f.credit:
                detail = (
                    "You have insufficient credit to run this model. "
                    "Go to https://replicate.com/account/billing to purchase credit."
                )
                return self.send(402, problem(402, "Insufficient credit", detail))
            try:
                data = json.loads(self.body or b"{}")
            except ValueError:
                return self.send(400, problem(400, "Bad Request", "The body is not valid JSON"))
            pinned = model is None
            if model is None:
                ref = data.get("version") if isinstance(data, dict) else None
                model = catalog.by_version(ref) if isinstance(ref, str) else None
                if model is None:
                    invalid = [_field("invalid", "version", "Invalid version or not permitted")]
                    return self._refuse(str(ref), {}, invalid)
            inp = data.get("input") if isinstance(data, dict) else None
            if not isinstance(inp, dict):
                invalid = [_field("required", "input", "input is required")]
                return self._refuse(model, {}, invalid)
            invalid = self._check(model, inp)
            wait, deadline = self._headers(data, invalid)
            if invalid:
                return self._refuse(model, inp, invalid)
            pred = emu.create(model, inp, deadline)
            if pinned:  # run by version: the prediction names it, as the API's do
                pred.version = catalog.version_id(model)
            emu.cancel_after[pred.id] = self.headers.get("Cancel-After")
            if emu.take("create_aborted"):
                pred.abort(emu.clock())
            if wait:
                emu.hold(pred, wait)
            body = pred.to_json(emu, view="create")
            if wait and body["status"] in ("starting", "processing") and body["output"] is None:
                _unfinished(body, f.sync_expired_status)  # the hold expired
            elif not wait and body["status"] != "aborted":
                _unfinished(body, "starting")  # no hold: the answer leaves at once
            if emu.take("drop_create_responses"):  # made, but the client never hears of it
                return self.cut()
            return self._answer_create(body, wait)

        def _answer_create(self, body: dict[str, Any], wait: float) -> None:
            headers = {"Preference-Applied": f"wait={wait:g}"} if wait else None
            if emu.take("create_null_url"):
                body["urls"]["web"] = None
            if emu.take("create_malformed"):
                text = json.dumps(body).encode()
                return self.send(201, raw=text[: len(text) // 2], headers=headers)
            if emu.take("create_html"):
                status = emu.faults.create_html_status
                return self.send(status, raw=_HTML, ctype="text/html; charset=UTF-8")
            return self.send(201, body, headers=headers)

        def _check(self, model: str, inp: dict[str, Any]) -> list[dict[str, str]]:
            invalid = catalog.check(model, inp)
            if emu.faults.refuse_field:
                name = emu.faults.refuse_field
                invalid.append(_field("enum", f"input.{name}", f"{name} refused (emulated)"))
            images = inp.get("image_input", []) if model in catalog.models.MODELS else []
            for i, uri in enumerate(images if isinstance(images, list) else []):
                if not isinstance(uri, str) or not uri.startswith(("data:", "http://", "https://")):
                    invalid.append(
                        _field("format", f"input.image_input.{i}", "Does not match format 'uri'")
                    )
            return invalid

        def _headers(
            self, data: dict[str, Any], invalid: list[dict[str, str]]
        ) -> tuple[float, float | None]:
            """The sync hold (``Prefer``) and the deadline (``Cancel-After`` or a body
            ``deadline``) as a monotonic time; problems are appended to ``invalid``."""
            wait = 0.0
            prefer = (self.headers.get("Prefer") or "").strip()
            if prefer:
                m = _PREFER.fullmatch(prefer)
                if m and (m.group(1) is None or 1 <= int(m.group(1)) <= 60):
                    wait = float(m.group(1) or 60)
                else:
                    invalid.append(
                        _field("header", "Prefer", "must be 'wait' or 'wait=n', n from 1 to 60")
                    )
            deadline = None
            cancel_after = self.headers.get("Cancel-After")
            if cancel_after is not None:
                seconds = parse_duration(cancel_after)
                if seconds is None or seconds < emu.faults.cancel_after_min:
                    least = f"{emu.faults.cancel_after_min:g}s"
                    description = f"must be a duration such as 5m or 30s, at least {least}"
                    invalid.append(_field("header", "Cancel-After", description))
                else:
                    deadline = emu.clock() + seconds
            if isinstance(data.get("deadline"), str):
                when = parse_time(data["deadline"])
                seconds = parse_duration(data["deadline"]) if when is None else None
                if when is not None:
                    deadline = emu.mono(when)
                elif seconds is not None:
                    deadline = emu.clock() + seconds
                else:
                    why = "Does not match format 'date-time'"
                    invalid.append(_field("format", "deadline", why))
            return wait, deadline

        def _refuse(self, model: str, inp: dict[str, Any], invalid: list[dict[str, str]]) -> None:
            emu.refused.append({"model": model, "input": inp, "problems": invalid})
            detail = "".join(f"- {p['field']}: {p['description']}\n" for p in invalid)
            body = problem(422, "Input validation failed", detail, invalid_fields=invalid)
            return self.send(422, body)

    Handler.emu = emu
    return Handler
