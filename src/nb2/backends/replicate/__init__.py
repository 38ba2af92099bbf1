"""Replicate, over the official ``replicate`` client's HTTP session: the backend (backend.py),
the API's answers read with the statuses and headers it really sends (api.py, answers.py), the
create and its sync hold (create.py), a lost create found in the server's list (lost.py), and a
model's OpenAPI schema (schema_fetch.py)."""

from .backend import ReplicateBackend

__all__ = ["ReplicateBackend"]
