"""The delivery origin (the emulator's replicate.delivery): output files, on their own port so
a test can tell what reaches it, with the download faults (not an image, slow, huge)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from .wire import BaseHandler

if TYPE_CHECKING:
    from .host import Host

_NOT_IMAGE = b"<html><head><title>Access Denied</title></head><body>AccessDenied</body></html>\n"
MOVED = "moved/"  # the prefix of a file's second address (output_redirects)
_GONE = (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError)


def delivery_handler(emu: Host) -> type[BaseHandler]:
    class Handler(BaseHandler):
        def do_GET(self) -> None:
            emu.requests.append(("GET", self.path))
            if emu.drops("GET", self.path):
                return self.cut()
            emu.downloads.append(dict(self.headers.items()))
            path = self.path.split("?", 1)[0].strip("/")
            path = path.removeprefix(MOVED)  # where a redirect sent the client
            data = emu.output_at(path)
            if data is None:  # unknown, or past the data retention: a CDN's plain 404
                return self.send(404, raw=b"Not Found\n", ctype="text/plain; charset=utf-8")
            if emu.take("output_redirects"):  # a CDN that serves the file from elsewhere
                return self.send(302, raw=b"", headers={"Location": f"/{MOVED}{path}"})
            ctype = "image/png" if path.endswith(".png") else "image/jpeg"
            f = emu.faults
            if emu.take("output_not_image"):  # the label says image, the bytes do not
                return self.send(200, raw=_NOT_IMAGE, ctype=ctype)
            try:
                if f.output_unsized and not f.output_huge and not f.output_slow:
                    self._head(len(data), ctype)
                    self.wfile.write(data)
                    return None
                if f.output_huge > 0:
                    return self._huge(data, f.output_huge, ctype)
                if f.output_slow > 0:
                    return self._slow(data, f.output_slow, ctype)
                return self.send(200, raw=data, ctype=ctype)
            except _GONE:
                self.close_connection = True  # the client gave up mid-answer
                return None

        def _head(self, size: int, ctype: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            if emu.faults.output_unsized:  # the body ends when the connection closes
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(size))
            self.end_headers()

        def _huge(self, data: bytes, size: int, ctype: str) -> None:
            """``size`` bytes: the real image's start, then zeros, never all in memory."""
            self._head(size, ctype)
            sent, chunk = 0, bytes(1 << 16)
            head = data[:size]
            self.wfile.write(head)
            sent += len(head)
            while sent < size:
                if emu.stopping.is_set():
                    return self.cut()
                piece = chunk[: size - sent]
                self.wfile.write(piece)
                sent += len(piece)
            return None

        def _slow(self, data: bytes, every: float, ctype: str) -> None:
            """One byte every ``every`` seconds, until done, the client leaves or a stop."""
            self._head(len(data), ctype)
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                if emu.stopping.wait(every):
                    return self.cut()
            return None

        def do_HEAD(self) -> None:
            emu.requests.append(("HEAD", self.path))
            data = emu.output_at(self.path.split("?", 1)[0].strip("/"))
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    Handler.emu = emu
    return Handler
