"""The Batch API (reference §5): a batch's life (PENDING -> RUNNING -> SUCCEEDED, or FAILED,
EXPIRED, CANCELLED), its requests run one by one in a worker thread at their time, and the
Operation envelope the API answers, with inline or file output.

A canceled batch, what is documented and what is our guess:

| part | source |
|---|---|
| ``BATCH_STATE_CANCELLED``, ``done: true``, ``endTime`` | documented (batch-mode reference) |
| ``batchStats`` field names; int64 counts as strings, zeros left out | documented (proto); |
| | strings seen live (third-party) |
| requests not yet run are never run, nor billed | documented ("cancel": stops processing) |
| the answers that finished before the cancel are handed back | guess: a third-party client |
| (file or inline) | tested live ("partial results that did land ... are still handed |
| | back"); ``cancelled_output=False`` plays the other case |
| ``successfulRequestCount`` counts those answers | guess, consistent with the above |
| a top-level ``error`` (code 1, CANCELLED) on the operation | guess (third-party report) |
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import GeminiError, invalid, normalise
from .files import new_id

if TYPE_CHECKING:
    from .host import GeminiHost

_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main."
TERMINAL = ("SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED")


@dataclass
class Batch:
    id: str
    model: str  # "models/..."
    display_name: str | None
    requests: list[tuple[dict[str, Any] | None, Any]]  # (metadata, request or a line's error)
    to_file: bool  # the output is a responsesFile (else inlinedResponses)
    fate: str  # what it ends as, unless cancelled: SUCCEEDED | FAILED | EXPIRED
    created: float
    start_at: float
    done_at: float
    results: list[dict[str, Any] | None] = field(default_factory=list)
    cancelled: float | None = None
    finished: float | None = None  # when the worker was done (all run, or stopped)
    output_file: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    worker: threading.Thread | None = None

    def state(self, now: float) -> str:
        if self.cancelled is not None:
            return "CANCELLED"
        if now < self.start_at:
            return "PENDING"
        if now < self.done_at or self.finished is None:
            return "RUNNING"
        return self.fate

    def end(self, now: float) -> float | None:
        if self.cancelled is not None:
            return self.cancelled
        return max(self.done_at, self.finished or 0) if self.state(now) in TERMINAL else None


def read_requests(
    emu: GeminiHost, config: dict[str, Any]
) -> tuple[list[tuple[dict[str, Any] | None, Any]], bool]:
    """A batch's requests from its inputConfig: (metadata, request) pairs, and whether they
    came from a file. A JSONL line that is not a request becomes a GeminiError in its place."""
    if config.get("fileName"):
        data = emu.files.data(str(config["fileName"]))
        if data is None:
            raise invalid(f"File {config['fileName']} not found.")
        out: list[tuple[dict[str, Any] | None, Any]] = []
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines()):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                meta = {"key": row["key"]} if "key" in row else None
                out.append((meta, row["request"]))
            except (ValueError, KeyError, TypeError):
                out.append((None, invalid(f"Invalid JSON payload on line {n + 1}.")))
        return out, True
    inline = ((config.get("requests") or {}).get("requests")) or []
    if not isinstance(inline, list) or not inline:
        raise invalid("* BatchGenerateContentRequest.batch.input_config: no requests given.\n")
    pairs = [(r.get("metadata"), r.get("request")) for r in inline if isinstance(r, dict)]
    return pairs, False


def create(emu: GeminiHost, model: str, body: dict[str, Any]) -> Batch:
    f = emu.faults
    emu.serves(model)
    batch_cfg = normalise(body).get("batch") or {}
    requests, from_file = read_requests(emu, batch_cfg.get("inputConfig") or {})
    mode = f.batch_output
    to_file = from_file if mode == "auto" else mode == "file"
    fate = "FAILED" if emu.take("batch_fail") else "EXPIRED" if emu.take("batch_expire") else ""
    now = emu.clock()
    pending = min(f.batch_pending, f.batch_latency)
    batch = Batch(
        id=new_id(24),
        model="models/" + model.removeprefix("models/"),
        display_name=batch_cfg.get("displayName"),
        requests=requests,
        to_file=to_file,
        fate=fate or "SUCCEEDED",
        created=now,
        start_at=now + pending,
        done_at=now + max(f.batch_latency, pending) + f.latency * len(requests),
    )
    batch.results = [None] * len(requests)
    batch.worker = threading.Thread(target=_work, args=(emu, batch), daemon=True, name="nb2-batch")
    batch.worker.start()
    return batch


def _work(emu: GeminiHost, batch: Batch) -> None:
    """Run each request at its share of the running time; stop at a cancel or a fault's end."""
    try:
        if batch.fate != "SUCCEEDED":
            return  # a failed or expired batch produces nothing
        n = len(batch.requests)
        span = batch.done_at - batch.start_at
        for i, (_, req) in enumerate(batch.requests):
            wait = batch.start_at + span * (i + 1) / n - emu.clock()
            if batch.stop.wait(max(0.0, wait)) or emu.stopping.is_set():
                break  # cancelled (or deleted): the rest never run
            if isinstance(req, GeminiError):
                batch.results[i] = {"error": req.status()}
                continue
            try:
                batch.results[i] = {"response": emu.generate(batch.model, req)}
            except GeminiError as exc:
                batch.results[i] = {"error": exc.status()}
        handed = batch.cancelled is None or emu.faults.cancelled_output
        if batch.to_file and handed and not emu.stopping.is_set():
            junk, emu.faults.batch_junk = list(emu.faults.batch_junk), ()
            lines = []
            for (meta, _), result in zip(batch.requests, batch.results, strict=True):
                if result is None:
                    continue  # never ran
                key = (meta or {}).get("key")
                row = {**({"key": key} if key is not None else {}), **result}
                lines.append(_spoil(row, junk.pop(0)) if junk and "response" in row else
                             json.dumps(row).encode())  # fmt: skip
            name = f"batch-{batch.id}"
            emu.files.generated(name, "application/jsonl", b"\n".join(lines) + b"\n")
            batch.output_file = f"files/{name}"
    finally:
        batch.finished = emu.clock()


def _spoil(row: dict[str, Any], kind: str) -> bytes:
    """One answer's line as a broken proxy or a torn file might give it (the ``batch_junk``
    knob): the other lines stay whole."""
    if kind in ("html", "base64"):
        for part in row["response"]["candidates"][0]["content"]["parts"]:
            if "inlineData" in part and not part.get("thought"):
                page = base64.b64encode(b"<!DOCTYPE html><html><body>502</body></html>")
                part["inlineData"]["data"] = page.decode() if kind == "html" else "!!not*base64"
        return json.dumps(row).encode()
    text = json.dumps(row).encode()
    return {"json": text[: len(text) // 2], "utf8": b"\xff\xfe" + text[2:],
            "list": b"[1, 2, 3]"}[kind]  # fmt: skip


def _stats(batch: Batch, state: str) -> dict[str, str]:
    done = [r for r in batch.results if r is not None]
    ok = sum(1 for r in done if "response" in r)
    counts = {
        "requestCount": len(batch.requests),
        "successfulRequestCount": ok,
        "failedRequestCount": len(done) - ok,
        "pendingRequestCount": len(batch.requests) - len(done) if state != "CANCELLED" else 0,
    }
    return {k: str(v) for k, v in counts.items() if v}  # int64 strings; zeros are omitted


def _output(batch: Batch) -> dict[str, Any]:
    if batch.to_file:
        return {"responsesFile": batch.output_file}
    rows = []
    for (meta, _), result in zip(batch.requests, batch.results, strict=True):
        if result is None and batch.cancelled is not None:
            continue  # never ran
        row = dict(result or {})
        if meta is not None:
            row["metadata"] = meta
        rows.append(row)
    return {"inlinedResponses": {"inlinedResponses": rows}}


def operation(emu: GeminiHost, batch: Batch) -> dict[str, Any]:
    """The batch as the API answers it: an Operation whose metadata is the batch."""
    now = emu.clock()
    state = batch.state(now)
    meta: dict[str, Any] = {"@type": _TYPE + "GenerateContentBatch", "model": batch.model}
    if batch.display_name is not None:
        meta["displayName"] = batch.display_name
    end = batch.end(now)
    handed = state == "CANCELLED" and emu.faults.cancelled_output
    ran = any(r is not None for r in batch.results)
    if state == "SUCCEEDED" or (handed and ran and (batch.output_file or not batch.to_file)):
        meta["output"] = _output(batch)
    meta["createTime"] = emu.iso(batch.created)
    if end is not None:
        meta["endTime"] = emu.iso(end)
    changed = [batch.created, batch.start_at if state != "PENDING" else batch.created]
    meta["updateTime"] = emu.iso(max(*changed, end or 0))
    meta["batchStats"] = _stats(batch, state)
    meta["state"] = f"BATCH_STATE_{state}"
    meta["name"] = f"batches/{batch.id}"
    op: dict[str, Any] = {"name": f"batches/{batch.id}", "metadata": meta}
    if end is not None:
        op["done"] = True
    if state == "SUCCEEDED":
        # the output twice, as the API does (why large inline image batches get hard to fetch)
        op["response"] = {"@type": _TYPE + "GenerateContentBatchOutput", **meta["output"]}
    elif state == "CANCELLED":
        op["error"] = {"code": 1, "message": "The batch was cancelled."}
    elif state in ("FAILED", "EXPIRED"):
        why = "The batch failed." if state == "FAILED" else "The batch expired before finishing."
        op["error"] = {"code": 13 if state == "FAILED" else 4, "message": why}
    return op
