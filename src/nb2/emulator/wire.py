"""Pieces both origins share: the base request handler (answers, the Date header from the
emulator's clock, dropped and hung connections), problem documents, cursor pagination."""

from __future__ import annotations

import base64
import contextlib
import json
import select
import socket
import ssl
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from .host import Clocked

JSON = "application/json; charset=UTF-8"  # as api.replicate.com labels its answers
PROBLEM = "application/problem+json"  # every error body
NOT_FOUND = "The requested resource could not be found."


def problem(status: int, title: str | None, detail: str, **extra: Any) -> dict[str, Any]:
    """An RFC 7807 body as Replicate writes it (title first when there is one)."""
    body: dict[str, Any] = {"title": title} if title else {}
    body.update(detail=detail, status=status, **extra)
    return body


class Server(ThreadingHTTPServer):
    """A quiet threading server; with ``ssl_context`` set, each connection speaks TLS (the
    handshake runs in the connection's own thread, so a slow client holds up no one else)."""

    daemon_threads = True
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(10)
            conn = self.ssl_context.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except (ssl.SSLError, OSError):
            return None  # a client that does not trust the certificate, or went away
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()
        return None

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer is part of the job here


class BaseHandler(BaseHTTPRequestHandler):
    """Answers with the emulator's clock in ``Date``, and the two ways of not answering."""

    emu: Clocked
    protocol_version = "HTTP/1.1"
    server_version = "nb2-emulator"
    sys_version = ""  # the Server header names no Python version
    # Headers and body go out as two writes; with Nagle on, loopback adds a delayed-ACK
    # stall (~40 ms) to every answer, which no real API has.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # quiet: tests read emu.requests instead
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header is the server's clock, skew included (clients that trust theirs
        # over it get caught).
        return formatdate(self.emu.wall() if timestamp is None else timestamp, usegmt=True)

    def send(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        ctype: str = JSON,
    ) -> None:
        if raw is None:
            raw = json.dumps(body, separators=(",", ":")).encode()
            if status >= 400:
                ctype = PROBLEM
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
        else:  # as recorded: a 204 carries a text/plain type and no body
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if status != 204:
            self.wfile.write(raw)

    def not_found(self) -> None:
        self.send(404, problem(404, None, NOT_FOUND))

    def cut(self) -> None:
        """Close the socket with no answer at all (a dropped connection)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def hang(self) -> None:
        """Hold the connection unanswered until the client leaves or the emulator stops."""
        sock = self.connection
        while not self.emu.stopping.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], 0.1)
                if ready and not sock.recv(1, socket.MSG_PEEK):
                    break  # the client closed its end
            except (OSError, ValueError):
                break
        self.cut()


def _key(row: tuple[float, str, Any]) -> tuple[float, str]:
    return row[0], row[1]


def _encode(key: tuple[float, str], forward: bool) -> str:
    text = f"{'n' if forward else 'p'}|{key[0]!r}|{key[1]}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[tuple[float, str], bool] | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        way, t, ident = text.split("|", 2)
        return (float(t), ident), way == "n"
    except (ValueError, UnicodeDecodeError):
        return None


def paginate(
    rows: list[tuple[float, str, Any]],
    query: dict[str, str],
    url: str,
    size: int,
    render: Callable[[Any], Any],
) -> dict[str, Any] | None:
    """A newest-first page of ``(created, id, item)`` rows, with ``next``/``previous`` as full
    URLs carrying an opaque cursor (and the caller's filters). None: the cursor is bad."""
    rows = sorted(rows, key=_key, reverse=True)
    cursor = query.get("cursor")
    if cursor:
        found = _decode(cursor)
        if found is None:
            return None
        key, forward = found
        if forward:
            page = [r for r in rows if _key(r) < key][:size]
        else:
            page = [r for r in rows if _key(r) > key][-size:]
    else:
        page = rows[:size]
    keep = {k: v for k, v in query.items() if k != "cursor"}

    def link(key: tuple[float, str], forward: bool) -> str:
        return f"{url}?{urlencode({**keep, 'cursor': _encode(key, forward)})}"

    nxt = prev = None
    if page and _key(rows[-1]) < _key(page[-1]):
        nxt = link(_key(page[-1]), True)
    if page and _key(rows[0]) > _key(page[0]):
        prev = link(_key(page[0]), False)
    return {"next": nxt, "previous": prev, "results": [render(r[2]) for r in page]}


def parse_time(text: str) -> float | None:
    """An ISO 8601 time as epoch seconds (naive means UTC); None if unreadable."""
    text = text.strip()
    if "T" in text:  # an unescaped "+" in a query string arrives as a space
        text = text.replace(" ", "+")
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not read "Z"
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def shown(wall: float) -> float:
    """A time as its ``iso`` text says it (whole microseconds), so filters and cursors agree
    with what clients read."""
    return datetime.fromtimestamp(wall, timezone.utc).timestamp()


def iso(wall: float) -> str:
    """Epoch seconds as Replicate writes times: UTC, microseconds, a ``Z``."""
    when = datetime.fromtimestamp(wall, timezone.utc)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")
