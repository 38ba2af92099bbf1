"""Google's error bodies, ``{"error": {"code", "message", "status", "details"}}``, the messages
the API is seen to write, and request-key casing (proto-JSON reads camelCase and snake_case)."""

from __future__ import annotations

import math
import re
from typing import Any

STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
BAD_KEY = "API key not valid. Please pass a valid API key."
NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
NOT_FOUND = "Requested entity was not found."
DENIED = "The caller does not have permission"
OVERLOADED = "The model is overloaded. Please try again later."
INTERNAL = (
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)
BARE_429 = "Resource has been exhausted (e.g. check quota)."
_T = "type.googleapis.com/google.rpc."


class GeminiError(Exception):
    """An API error: raised anywhere in a request's handling, answered as Google's body."""

    def __init__(self, code: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": STATUS.get(self.code, "UNKNOWN"),
        }
        if self.details:
            err["details"] = self.details
        return {"error": err}

    def status(self) -> dict[str, Any]:
        """The error as a google.rpc.Status inside a batch's output (HTTP code, as seen)."""
        return {"code": self.code, "message": self.message, "status": STATUS.get(self.code)}


def not_found(model: str) -> GeminiError:
    """A model id the API does not serve (shut down, or never was), as generateContent says."""
    return GeminiError(
        404,
        f"models/{model} is not found for API version v1beta, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods.",
    )


def invalid(message: str) -> GeminiError:
    return GeminiError(400, message)


def bad_key() -> GeminiError:
    # as the real API answers a wrong key: ErrorInfo API_KEY_INVALID plus a LocalizedMessage
    return GeminiError(
        400,
        BAD_KEY,
        [
            {
                "@type": _T + "ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {"@type": _T + "LocalizedMessage", "locale": "en-US", "message": BAD_KEY},
        ],
    )


def throttled(model: str, wait: float, limit: int, bare: bool) -> GeminiError:
    """A 429 as captured: Help, QuotaFailure and RetryInfo, or the bare form."""
    if bare:
        return GeminiError(429, BARE_429)
    metric = "generativelanguage.googleapis.com/generate_requests_per_model"
    quota = "GenerateRequestsPerMinutePerProjectPerModel"
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
        "To monitor your current usage, head to: https://ai.dev/rate-limit. \n"
        f"* Quota exceeded for metric: {metric}, limit: {limit}, model: {model}\n"
        f"Please retry in {wait:.1f}s."
    )
    return GeminiError(
        429,
        message,
        [
            {
                "@type": _T + "Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {
                "@type": _T + "QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": metric,
                        "quotaId": quota,
                        "quotaDimensions": {"location": "global", "model": model},
                        "quotaValue": str(limit),
                    }
                ],
            },
            # whole seconds, as captured ("25s" beside the message's 25.9s)
            {"@type": _T + "RetryInfo", "retryDelay": f"{max(1, math.floor(wait))}s"},
        ],
    )


def unknown_field(name: str, where: str = "") -> GeminiError:
    at = f" at '{where}'" if where else ""
    return invalid(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')


# -- casing ------------------------------------------------------------------------------------
# Struct-typed values keep their keys verbatim (proto-JSON does not rename inside a Struct).
_VERBATIM = {"metadata", "args", "response", "responseSchema", "responseJsonSchema"}
_SNAKE = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def normalise(obj: Any) -> Any:
    """``obj`` with every dict key in camelCase, at any depth (the SDK sends both casings)."""
    if isinstance(obj, list):
        return [normalise(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        name = camel(key) if isinstance(key, str) and not key.startswith("@") else key
        out[name] = value if name in _VERBATIM else normalise(value)
    return out
