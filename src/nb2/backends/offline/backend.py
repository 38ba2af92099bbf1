"""The offline backend: the deterministic local renderer, no network, no token."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ...errors import CanceledError, GenerationError
from ...imaging import release_freed_memory
from .. import Output, StatusCallback

if TYPE_CHECKING:
    from ...request.params import Params


class OfflineBackend:
    """Draws a stand-in image locally. Its images and records say they are offline.

    ``latency`` (seconds) pretends the model takes that long, so progress and Stop can be tried
    without a network; a Stop during it raises CanceledError.
    """

    name = "offline"
    offline = True

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = float(latency)
        self.calls = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OfflineBackend(latency={self.latency})"

    def model_schema(self, model: str) -> Any:
        """A stand-in's schema (approximated from public pages, and marked so)."""
        from ...errors import ValidationError
        from ...models import schemas
        from . import standins

        if model not in standins.MODELS:
            raise ValidationError(
                f"model: {model!r} has no offline stand-in; offline, these run: "
                f"{', '.join(standins.MODELS)} (set REPLICATE_API_TOKEN for any other)",
                field="model", value=model, allowed=list(standins.MODELS),
            )  # fmt: skip
        version = standins.VERSIONS[model]
        return schemas.from_openapi(model, version, standins.openapi(model), source="stand-in")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "offline": True, "latency": self.latency}

    def run(
        self,
        params: Params,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        on_created: Any = None,  # nothing is billed, so nothing to journal
    ) -> Output:
        from .render import render

        with self._lock:
            self.calls += 1
        created = _now()
        if on_status:
            on_status("processing")
        if self.latency and cancel is not None and cancel.wait(self.latency):
            raise CanceledError("stopped before the offline render finished")
        if cancel is not None and cancel.is_set():
            raise CanceledError("stopped before the offline render started")
        t0 = time.perf_counter()
        more: list[bytes] = []
        try:
            if getattr(params, "schema", None) is not None:  # a stand-in for a non-Gemini model
                data, *more = _standin(params)
            else:
                data = render(
                    params.scalar_input(),
                    [r.data for r in params.references],
                    model=params.model,
                    variant=params.repeat,
                )
        finally:
            # Every image the render made is freed by now (no cycles hold them), but glibc
            # keeps the freed pixels of this worker thread's arena: without this, 20 4K
            # edits left the kernel ~200 MB larger (benchmarks figure 7).
            release_freed_memory()
        return Output(
            data=data,
            more=more,
            format=str(params.output_format or "jpg"),
            prediction_id=f"offline-{params.cache_key[:20]}",
            model_version="offline",
            created_at=created,
            started_at=created,
            completed_at=_now(),
            predict_time=round(time.perf_counter() - t0, 4),
            image_inputs=["inline"] * len(params.references),
        )


def _standin(params: Any) -> list[bytes]:
    from . import standins

    if params.model not in standins.MODELS:
        raise GenerationError(f"{params.model} has no offline stand-in")
    images = {n: [r.data for r in refs] for n, refs in params.images.items()}
    return standins.run(params.model, params.scalar_input(), images)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
