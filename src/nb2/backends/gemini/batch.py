"""The Batch API: many requests as one job at half the price, with file input and file output
(large image batches read back inline can become impossible to fetch, so never inline).

``submit`` uploads the requests as JSONL and creates the job; ``state`` reads it; ``results``
downloads the responses file and reads each line as one generateContent answer would be;
``cancel`` stops it at Google (requests not yet run are not run, nor billed).
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from ... import errors
from . import wire
from .answers import mapped

if TYPE_CHECKING:
    from ...params import Params
    from .backend import GeminiBackend

DONE = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED"}  # fmt: skip


def submit(backend: GeminiBackend, model: str, requests: dict[str, Params], name: str) -> str:
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


def state(backend: GeminiBackend, job: str) -> dict[str, Any]:
    """The job's state (``JOB_STATE_*``; ``done`` once it has ended), counts and responses
    file, as plain data."""
    try:
        got = backend.client.batches.get(name=job)
    except Exception as exc:
        raise mapped(exc) from None
    stats = getattr(got, "batch_stats", None)
    name = getattr(got.state, "name", str(got.state))
    return {
        "state": name,
        "done": name in DONE,
        "file": getattr(got.dest, "file_name", None) if got.dest else None,
        "requests": int(getattr(stats, "request_count", 0) or 0) if stats else 0,
        "succeeded": int(getattr(stats, "successful_request_count", 0) or 0) if stats else 0,
        "failed": int(getattr(stats, "failed_request_count", 0) or 0) if stats else 0,
    }


def find(backend: GeminiBackend, name: str) -> str | None:
    """The job whose display name is ``name`` (a create whose answer was lost), or None."""
    try:
        for job in backend.client.batches.list():
            if getattr(job, "display_name", None) == name:
                return str(job.name)
    except Exception as exc:
        raise mapped(exc) from None
    return None


def results(backend: GeminiBackend, file: str) -> dict[str, Any]:
    """``key -> Output | Nb2Error``: each line of the responses file, read as an answer."""
    try:
        data = backend.client.files.download(file=file)
    except Exception as exc:
        raise mapped(exc) from None
    out: dict[str, Any] = {}
    for line in bytes(data).decode().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        key = str(item.get("key"))
        if "response" in item:
            try:
                out[key] = wire.read(item["response"], wire.now())
            except errors.Nb2Error as exc:
                out[key] = exc
        else:
            err = item.get("error") or item.get("status") or {}
            out[key] = errors.GenerationError(
                f"Gemini API batch {err.get('code', '')}: {err.get('message', 'no answer')}"
            )
    return out


def cancel(backend: GeminiBackend, job: str) -> None:
    try:
        backend.client.batches.cancel(name=job)
    except Exception as exc:
        raise mapped(exc) from None
