"""Several outputs of one prediction (a text-to-image model's ``num_outputs``): the first is the
run's own output; each other one is stored as a sibling run, with the same request, parent and
prediction id, its own run id (``<run>-o<i>``) and ``output_index``. The first record lists them
in ``siblings``, so a cache hit brings them all back and the tree shows them side by side."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..backends import Output

if TYPE_CHECKING:
    from ..store import Store


def store_siblings(record: dict[str, Any], out: Output, wall: float, store: Store) -> None:
    """Write a sibling record for each of ``out.more`` and list them on ``record``."""
    from .runner import fill

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
