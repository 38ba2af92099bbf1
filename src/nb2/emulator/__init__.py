"""A Replicate-compatible HTTP server on loopback, backed by the offline renderer.

``Emulator`` (server.py) keeps the predictions, files and clock; ``Faults`` (faults.py) the
knobs; http.py answers the API as the real one does, delivery.py serves output files from a
second origin (tls.py: its optional https). ``python -m nb2.emulator`` and ``nb2-emulator``
run it.
``gemini/`` holds the Gemini-API-compatible one, :class:`GeminiEmulator` and its
:class:`GeminiFaults` (``python -m nb2.emulator --api gemini``).
"""

from .faults import Faults
from .gemini import GeminiEmulator, GeminiFaults
from .server import E005, Emulator, main

__all__ = ["E005", "Emulator", "Faults", "GeminiEmulator", "GeminiFaults", "main"]
