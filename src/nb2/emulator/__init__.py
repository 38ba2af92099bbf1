"""A Replicate-compatible HTTP server on loopback, backed by the offline renderer.

``Emulator`` (server.py) keeps the predictions and the fault knobs; http.py answers requests
as the real API does. ``python -m nb2.emulator`` and ``nb2-emulator`` run it.
"""

from .server import E005, Emulator, Faults, main

__all__ = ["E005", "Emulator", "Faults", "main"]
