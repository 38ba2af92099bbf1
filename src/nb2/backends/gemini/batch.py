"""The Batch API: many requests as one job at half the price, with file input and file output
(large image batches read back inline can become impossible to fetch, so never inline).

``submit`` uploads the requests as JSONL and creates the job; ``state`` reads it; ``results``
downloads the responses file and reads each line as one generateContent answer would be;
``cancel`` stops it at Google (requests not yet run are not run, nor billed).
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any, Protocol

from ... import errors
from . import wire
from .answers import mapped

GEMINI_URL = "https://generativelanguage.googleapis.com"

if TYPE_CHECKING:
    from ...request.params import Params


class Account(Protocol):
    """What the Batch API calls need of the backend (``GeminiBackend`` is one): its SDK client,
    where and how it calls, and the key for the one read the SDK cannot do."""

    client: Any
    base_url: str
    api_version: str | None
    timeout: float

    def api_id(self, model: str) -> str: ...
    def api_headers(self) -> dict[str, str]: ...


DONE = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED"}  # fmt: skip


def submit(backend: Account, model: str, requests: dict[str, Params], name: str) -> str:
    """Upload the requests (``key -> params``) and create the job; returns its name. The
    caller has journaled ``name`` (the display name) on every run before this is called."""
    from google.genai import types

    lines = [json.dumps({"key": k, "request": wire.body(p)}) for k, p in requests.items()]
    data = ("\n".join(lines) + "\n").encode()
    client = backend.client
    try:
        upload = types.UploadFileConfig(mime_type="jsonl", display_name=f"{name}.jsonl")
        up = client.files.upload(file=io.BytesIO(data), config=upload)
    except Exception as exc:
        raise mapped(exc) from None
    try:
        config = types.CreateBatchJobConfig(display_name=name)
        job = client.batches.create(model=backend.api_id(model), src=up.name, config=config)
    except Exception as exc:  # a 404 here is the model's: gone, named
        raise mapped(exc, backend.api_id(model)) from None
    return str(job.name)


def state(backend: Account, job: str) -> dict[str, Any]:
    """The job's state (``JOB_STATE_*``; ``done`` once it has ended), counts and responses
    file, as plain data. Read as the API sends it: the SDK (3.x) drops ``batchStats``, and
    the counts are what says whether a canceled job's missing answers were billed."""
    body = _get(backend, job)
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    name = "JOB_STATE_" + str(meta.get("state") or "UNSPECIFIED").removeprefix("BATCH_STATE_")
    stats = meta.get("batchStats") if isinstance(meta.get("batchStats"), dict) else {}
    output = meta.get("output") if isinstance(meta.get("output"), dict) else {}

    def count(field: str) -> int:  # int64 counts come as strings, zeros left out
        try:
            return int(stats.get(field) or 0)
        except (TypeError, ValueError):
            return 0

    return {
        "job": job,
        "state": name,
        "done": bool(body.get("done")) or name in DONE,
        "file": output.get("responsesFile"),
        "requests": count("requestCount"),
        "succeeded": count("successfulRequestCount"),
        "failed": count("failedRequestCount"),
        "pending": count("pendingRequestCount"),
    }


def _get(backend: Account, job: str) -> dict[str, Any]:
    """``GET {version}/batches/{id}``: the Operation as JSON, errors as the SDK's would map."""
    import httpx
    from google.genai import errors as sdk_errors

    url = f"{backend.base_url or GEMINI_URL}/{backend.api_version or 'v1beta'}/{job}"
    try:
        answer = httpx.get(url, headers=backend.api_headers(), timeout=backend.timeout)
        body = answer.json() if answer.content else {}
    except (httpx.HTTPError, ValueError) as exc:
        raise mapped(exc) from None
    if answer.status_code >= 400:
        kind = sdk_errors.ServerError if answer.status_code >= 500 else sdk_errors.ClientError
        raise mapped(kind(answer.status_code, body)) from None
    return body if isinstance(body, dict) else {}


def find(backend: Account, name: str) -> str | None:
    """The job whose display name is ``name`` (a create whose answer was lost), or None."""
    try:
        for job in backend.client.batches.list():
            if getattr(job, "display_name", None) == name:
                return str(job.name)
    except Exception as exc:
        raise mapped(exc) from None
    return None


UNREAD = "*unread"  # in results(): how many lines of the file could not be read as answers


def results(backend: Account, file: str) -> dict[str, Any]:
    """``key -> Output | Nb2Error``: each line of the responses file, read as an answer. A line
    that is not UTF-8, not JSON, not an object or keyless is counted under ``UNREAD``: it
    blocks no other line."""
    try:
        data = backend.client.files.download(file=file)
    except Exception as exc:
        raise mapped(exc) from None
    out: dict[str, Any] = {UNREAD: 0}
    for raw in bytes(data).split(b"\n"):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError is one
            item = None
        if not isinstance(item, dict) or "key" not in item:
            out[UNREAD] += 1
            continue
        out[str(item["key"])] = _answer(item)
    return out


def _answer(item: dict[str, Any]) -> Any:
    response = item.get("response")
    if isinstance(response, dict):
        try:
            return wire.read(response, wire.now())
        except errors.Nb2Error as exc:
            return exc
    err = item.get("error") or item.get("status") or {}
    err = err if isinstance(err, dict) else {"message": str(err)}
    return errors.GenerationError(
        f"Gemini API batch {err.get('code', '')}: {err.get('message', 'no answer')}"
    )


def cancel(backend: Account, job: str) -> None:
    try:
        backend.client.batches.cancel(name=job)
    except Exception as exc:
        raise mapped(exc) from None
