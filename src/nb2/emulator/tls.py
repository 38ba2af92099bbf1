"""A throwaway self-signed certificate for the https delivery origin, made with the ``openssl``
command line (the standard library cannot make one)."""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path


def _san(host: str) -> str:
    names = {"DNS:localhost", "IP:127.0.0.1"}
    try:
        ipaddress.ip_address(host)
        names.add(f"IP:{host}")
    except ValueError:
        names.add(f"DNS:{host}")
    return ",".join(sorted(names))


def make_certificate(host: str) -> tuple[Path, ssl.SSLContext]:
    """A certificate for ``host`` valid two days: (its PEM file, a server context).

    The PEM is also the CA file a client must trust (``Emulator.cafile``); its directory is
    removed by :func:`remove`.
    """
    if shutil.which("openssl") is None:
        raise RuntimeError("delivery_scheme='https' needs the openssl command line tool")
    folder = Path(tempfile.mkdtemp(prefix="nb2-emulator-tls-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=nb2 emulator delivery",
            "-addext",
            f"subjectAltName={_san(host)}",
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return cert, ctx


def remove(cafile: Path | None) -> None:
    if cafile is not None:
        shutil.rmtree(cafile.parent, ignore_errors=True)
