import base64
import io
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

import nb2
from nb2.errors import ValidationError
from nb2.request.references import Reference


def test_sources_path_bytes_pil(images):
    from_path = Reference(images["palette"])
    from_bytes = Reference(images["palette"].read_bytes())
    assert from_path.sha256 == from_bytes.sha256  # kept byte-exact when already sendable
    assert from_path.load().format == "JPEG" and from_path.name == "palette.jpg"
    pil = Reference(Image.open(images["bottle"]))
    assert pil.load().format == "PNG" and (pil.load().width, pil.load().height) == (400, 600)


def test_url_source_is_downloaded_without_credentials(images):
    seen = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append(dict(self.headers))
            super().do_GET()

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(Handler, directory=str(images["palette"].parent))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/palette.jpg"
        ref = Reference(url, role="palette")
        assert ref.data == images["palette"].read_bytes()
        assert ref.name == "palette.jpg"
        assert "Authorization" not in seen[0]
        with pytest.raises(ValidationError, match="HTTP 404"):
            Reference(url.replace("palette", "missing")).load()
    finally:
        server.shutdown()


def test_oversized_images_are_downscaled(tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (5000, 2500), (10, 200, 30)).save(big)
    img = Reference(big).load()
    assert (img.width, img.height) == (4096, 2048) and img.format == "PNG"
    small = Reference(big, max_side=1000).load()
    assert (small.width, small.height) == (1000, 500)


def test_exif_rotation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    Image.new("RGB", (300, 100), (200, 0, 0)).save(path, exif=exif)
    img = Reference(path).load()
    assert (img.width, img.height) == (100, 300)


def test_not_an_image(tmp_path):
    with pytest.raises(ValidationError, match="not a readable image"):
        Reference(b"%PDF-1.4 not an image").load()
    with pytest.raises(ValidationError, match="references\\[0\\]"):
        nb2.Params("x", references=[object()])
    with pytest.raises(ValidationError, match="role"):
        Reference(b"", role="   ")


def test_data_uri(images):
    img = Reference(images["bottle"]).load()
    head, _, body = img.data_uri().partition(",")
    assert head == "data:image/png;base64" and base64.b64decode(body) == img.data


def test_thumbnail_is_small(images):
    thumb = Reference(images["bottle"]).thumbnail(64)
    assert max(Image.open(io.BytesIO(thumb)).size) == 64
