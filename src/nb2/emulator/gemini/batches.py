"""The Batch API (reference §5): a batch's life (PENDING -> RUNNING -> SUCCEEDED, or FAILED,
EXPIRED, CANCELLED), its requests run one by one in a worker thread at their time, and the
Operation envelope the API answers, with inline or file output."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import GeminiError, invalid, normalise
from .files import new_id

if TYPE_CHECKING:
    from .server import GeminiEmulator

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
    emu: GeminiEmulator, config: dict[str, Any]
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


def create(emu: GeminiEmulator, model: str, body: dict[str, Any]) -> Batch:
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
    worker = threading.Thread(target=_work, args=(emu, batch), daemon=True, name="nb2-batch")
    worker.start()
    return batch


def _work(emu: GeminiEmulator, batch: Batch) -> None:
    """Run each request at its share of the running time; stop at a cancel or a fault's end."""
    try:
        if batch.fate != "SUCCEEDED":
            return  # a failed or expired batch produces nothing
        n = len(batch.requests)
        span = batch.done_at - batch.start_at
        for i, (_, req) in enumerate(batch.requests):
            wait = batch.start_at + span * (i + 1) / n - emu.clock()
            if batch.stop.wait(max(0.0, wait)) or emu.stopping.is_set():
                return  # cancelled (or deleted): the rest never run
            if isinstance(req, GeminiError):
                batch.results[i] = {"error": req.status()}
                continue
            try:
                batch.results[i] = {"response": emu.generate(batch.model, req)}
            except GeminiError as exc:
                batch.results[i] = {"error": exc.status()}
        if batch.to_file:
            lines = []
            for (meta, _), result in zip(batch.requests, batch.results, strict=True):
                key = (meta or {}).get("key")
                lines.append(json.dumps({**({"key": key} if key is not None else {}), **result}))
            name = f"batch-{batch.id}"
            emu.files.generated(name, "application/jsonl", ("\n".join(lines) + "\n").encode())
            batch.output_file = f"files/{name}"
    finally:
        batch.finished = emu.clock()


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
        row = dict(result or {})
        if meta is not None:
            row["metadata"] = meta
        rows.append(row)
    return {"inlinedResponses": {"inlinedResponses": rows}}


def operation(emu: GeminiEmulator, batch: Batch) -> dict[str, Any]:
    """The batch as the API answers it: an Operation whose metadata is the batch."""
    now = emu.clock()
    state = batch.state(now)
    meta: dict[str, Any] = {"@type": _TYPE + "GenerateContentBatch", "model": batch.model}
    if batch.display_name is not None:
        meta["displayName"] = batch.display_name
    end = batch.end(now)
    if state == "SUCCEEDED":
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
    elif state in ("FAILED", "EXPIRED"):
        why = "The batch failed." if state == "FAILED" else "The batch expired before finishing."
        op["error"] = {"code": 13 if state == "FAILED" else 4, "message": why}
    return op
