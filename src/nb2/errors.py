"""Every error nb2 raises on purpose. All are subclasses of :class:`Nb2Error`.

Messages name what went wrong in the user's terms (field, value, what is allowed) and never
carry the API token.
"""

from __future__ import annotations

import re
from typing import Any

# Every API key and token this process was given (backends register theirs): no message or
# record nb2 writes carries one, whatever a server or proxy echoed back.
_SECRETS: set[str] = set()


# A scheme starts only where no scheme character precedes it: otherwise a long word costs
# quadratic time (a record with a 64 KB word took 8 s to save)
_SCHEME = r"(?<![\w+.-])([A-Za-z][\w+.-]*://)"
_CREDENTIALS = re.compile(_SCHEME + r"[^/@\s:]+:[^/@\s]+@")
_USERINFO = re.compile(_SCHEME + r"[^/@\s]+@")


def secret(value: str | None) -> None:
    """Register ``value`` as a secret that :func:`scrub` removes from any text."""
    if value and len(value) >= 6:  # a short one would blank out ordinary words
        _SECRETS.add(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret and any URL's credentials replaced by ``***``."""
    for value in _SECRETS:
        if value in text:
            text = text.replace(value, "***")
    if "://" not in text or "@" not in text:
        return text
    return _CREDENTIALS.sub(r"\1***@", text)


def safe_url(url: str) -> str:
    """A URL fit to show: its credentials (``http://user:KEY@host``) replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", url)


class Nb2Error(Exception):
    """Base class of nb2's errors. Its message never carries a registered secret."""

    def __init__(self, message: str = "", *args: Any) -> None:
        super().__init__(scrub(str(message)), *args)

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: these errors are about the request
        return [f"{type(self).__name__}: {self}"]


class ValidationError(Nb2Error, ValueError):
    """A request that the model would refuse, caught before any network call.

    ``field``, ``value`` and ``allowed`` say what was wrong; ``invalid_fields`` carries the
    server's list when the API itself refused the input (HTTP 422).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        allowed: Any = None,
        invalid_fields: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.allowed = allowed
        self.invalid_fields = invalid_fields or []


class ModelUnavailableError(ValidationError):
    """The API no longer serves this model id (shut down, or a 404 NOT_FOUND for it): never
    retried, nothing spent. ``replacement`` is the id to use instead, when one is known."""

    def __init__(self, message: str, *, model: str, replacement: str | None = None) -> None:
        super().__init__(message, field="model", value=model,
                         allowed=[replacement] if replacement else [])  # fmt: skip
        self.replacement = replacement


class ModelDeprecationWarning(FutureWarning):
    """A model its provider has deprecated: it still answers, and the message names what
    replaces it. A FutureWarning, so a notebook shows it."""


class PaidAgainWarning(UserWarning):
    """A request is sent again although an earlier run of it was lost after it may have been
    billed (``status: "lost"`` in its record): this one is paid for too."""


class AuthenticationError(Nb2Error):
    """The API refused the token (HTTP 401)."""


class InsufficientCreditError(Nb2Error):
    """The account has no credit left for this model (HTTP 402)."""


class RateLimitError(Nb2Error):
    """Still throttled (HTTP 429) after the retry budget was spent."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GenerationError(Nb2Error):
    """A prediction failed, timed out, or its output could not be fetched."""

    def __init__(
        self, message: str, *, prediction_id: str | None = None, logs: str | None = None
    ) -> None:
        super().__init__(message)
        self.prediction_id = prediction_id
        self.logs = logs


class UncollectedError(GenerationError):
    """A prediction that may have succeeded could not be collected now (its output could not
    be downloaded, or the API stopped answering). Its run is recorded as pending with its
    prediction id, for :func:`nb2.recover` while the API keeps outputs (about an hour); with
    no id (a lost create whose list could not be read), recover looks in the server's list."""


class StoreError(Nb2Error, OSError):
    """The store cannot be written (read-only, full disk). Raised before anything is sent
    when it is found then; later, the run is recorded as far as the disk allows."""


class RemoteStoreError(StoreError):
    """A team's object store (``s3://...``) could not be used. Nothing local is lost: what was
    not pushed stays in the local outbox and goes with the next ``nb2.sync()``."""


class RemoteUnreachableError(RemoteStoreError):
    """The object store did not answer (no network, a wrong endpoint, a timeout)."""


class RemoteMissingError(RemoteStoreError):
    """The bucket (or container) does not exist."""


class RemoteReadOnlyError(RemoteStoreError):
    """The credentials may read the bucket but not write it."""


class RemoteCredentialsError(RemoteStoreError):
    """No credentials were found, or they were refused."""


class ModerationError(GenerationError):
    """The input or output was flagged as sensitive (E005). Retrying the same input is pointless."""


class CanceledError(Nb2Error):
    """The run was stopped (Stop button, kernel interrupt, budget) and canceled remotely.

    ``unsettled``: the prediction may run on at the server. Either the create's answer was
    missing (no id: :func:`nb2.recover` looks for it in the server's list) or the cancel got
    no answer (``prediction_id`` is set). Either way the run stays pending for recover."""

    def __init__(
        self, message: str, *, prediction_id: str | None = None, unsettled: bool = False
    ) -> None:
        super().__init__(message)
        self.prediction_id = prediction_id
        self.unsettled = unsettled


class ReplayMissError(Nb2Error):
    """``cache="replay"`` and the store holds no result for this request."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class BudgetExceededError(Nb2Error):
    """A run would spend (or has spent) more than the budget allows."""


class NoMetadataError(Nb2Error, ValueError):
    """``nb2.open``: the file carries no nb2 metadata (not made by nb2, or stripped)."""


class MissingReferenceError(Nb2Error, FileNotFoundError):
    """An image a request needs (a reference, or the image an edit started from) is not on disk.

    ``missing`` lists ``{"sha256", "name", "role"}`` for each one.
    """

    def __init__(self, message: str, *, missing: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.missing = missing or []


__all__ = [
    "AuthenticationError",
    "BudgetExceededError",
    "CanceledError",
    "GenerationError",
    "InsufficientCreditError",
    "MissingReferenceError",
    "ModerationError",
    "Nb2Error",
    "NoMetadataError",
    "RateLimitError",
    "RemoteCredentialsError",
    "RemoteMissingError",
    "RemoteReadOnlyError",
    "RemoteStoreError",
    "RemoteUnreachableError",
    "ReplayMissError",
    "StoreError",
    "UncollectedError",
    "ValidationError",
]
