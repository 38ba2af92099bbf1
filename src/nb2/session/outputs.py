"""A backend's output into the store: ``fill`` writes the file (its parameters and lineage
spliced into its metadata) and describes it on the record.

Several outputs of one prediction (a text-to-image model's ``num_outputs``): the first is the
run's own output; each other one is stored as a sibling run, with the same request, parent and
prediction id, its own run id (``<run>-o<i>``) and ``output_index``. The first record lists them
in ``siblings``, so a cache hit brings them all back and the tree shows them side by side."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import models
from ..backends import Output
from ..errors import GenerationError
from ..imaging import image_size
from ..request.turns import stored_parts
from ..store import codec as metadata

if TYPE_CHECKING:
    from ..store import Store


def store_siblings(record: dict[str, Any], out: Output, wall: float, store: Store) -> None:
    """Write a sibling record for each of ``out.more`` and list them on ``record``."""
    ids = []
    for i, data in enumerate(out.more, start=1):
        sib = copy.deepcopy({k: v for k, v in record.items() if k != "output"})
        sib.update(
            run_id=f"{record['run_id']}-o{i}",
            cache_key=f"{record['cache_key']}-o{i}",  # never the answer to a request itself
            sibling_of=record["run_id"],
            output_index=i,
            estimated_cost=0.0,  # the prediction is paid once, on the first record
        )
        part = Output(**{**vars(out), "data": data, "more": []})
        fill(sib, part, wall, store)
        store.save(sib)
        ids.append(sib["run_id"])
    record["siblings"] = ids
    record["output_index"] = 0


def sibling_records(store: Store, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored sibling records of ``record`` (those whose image is still there)."""
    out = []
    for run_id in record.get("siblings") or []:
        sib = store.get(run_id)
        if sib is not None and sib.get("status") == "succeeded":
            out.append(sib)
    return out


def fill(record: dict[str, Any], out: Output, wall: float, store: Store) -> None:
    """A succeeded record: the output stored (with its metadata spliced in) and described."""
    ext = _ext(out.data, out.format)
    try:  # junk (an HTML page, a truncated file) is refused before anything is written
        w, h = image_size(out.data)
    except Exception as exc:
        raise GenerationError(
            f"prediction {out.prediction_id}: the output is not an image "
            f"({type(exc).__name__}, {len(out.data)} bytes starting {out.data[:16]!r}); not kept",
            prediction_id=out.prediction_id,
        ) from None
    if record["params"].get("google_search"):
        # a grounded image is a snapshot of the web at this moment
        record["grounded_at"] = out.completed_at or now()
    record.update(version=out.model_version)
    # the file carries its own parameters and lineage (spliced in: pixels untouched)
    data = metadata.embed(out.data, metadata.build(record, store))
    sha, path = store.put_image(data, ext)
    record.update(
        status="succeeded",
        error=None,
        prediction_id=out.prediction_id,
        version=out.model_version,
        created_at=out.created_at,
        started_at=out.started_at,
        completed_at=out.completed_at,
        predict_time=out.predict_time,
        wall_time=round(wall, 3),
        logs=out.logs,
        image_inputs=out.image_inputs,
        output={
            "sha256": sha,
            "file": str(path.relative_to(store.root)),
            "format": ext,
            "width": w,
            "height": h,
            "bytes": len(data),
            # the bytes as the backend delivered them: equal across runs of a
            # deterministic backend, where the file (with its run id inside) is not
            "raw_sha256": hashlib.sha256(out.data).hexdigest(),
        },
    )
    answered(record, out, store)


def answered(record: dict[str, Any], out: Output, store: Store) -> None:
    """What a Gemini API answer adds: its usage and exact cost, grounding, the text it said,
    and its turn (stored beside the images: thought signatures never go into the record)."""
    if out.usage is not None:
        priced(record, out.usage, image=True)
    if out.grounding is not None:
        record["grounding"] = out.grounding
    if out.text:
        record["text"] = out.text[:2000]
    if out.turn is not None:
        parts = stored_parts(out.turn.get("parts") or [], lambda d, e: store.put_image(d, e)[0])
        blob = json.dumps({"role": "model", "parts": parts}, sort_keys=True).encode()
        record["turn"] = store.put_image(blob, "json")[0]


def priced(record: dict[str, Any], usage: dict[str, Any], *, image: bool) -> None:
    """The answer's tokens on the record, and its exact cost where they say enough; else the
    estimate stands and the record says why (an exact 0 from a silent answer would be a lie)."""
    record["usage"] = usage
    batch = bool(record.get("batch"))  # the Batch API bills half
    cost = models.token_cost(record["model"], usage, batch=batch, image=image)
    if cost is None:
        record.pop("cost", None)
        record["cost_note"] = "the answer's usage does not say enough for an exact cost"
    else:
        record["cost"] = cost


def _ext(data: bytes, fmt: str) -> str:
    """The file's real type (a model may answer in another format than asked)."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "jpg" if data.startswith(b"\xff\xd8") or fmt != "png" else "png"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def close(store: Store, record: dict[str, Any], status: str, why: str) -> str:
    """Settle a run that made no image (failed, lost, canceled, ...); returns what was done."""
    record.update(status=status, error=why[:2000], completed_at=now())
    store.save(record)
    return f"recorded as {status}: {why}"
