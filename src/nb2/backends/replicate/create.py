"""Creating a prediction without ever paying twice (the create half of ReplicateBackend).

A create runs in a thread of its own so a Stop acts during the sync hold. Its outcomes: made (a
prediction, held by this process); unreached (a connection that never opened: safe to send
again); an error answer (429: wait as asked, capped; 4xx: a named error); or lost (a 5xx, a cut
connection, an unreadable answer): the server's list is read (lost.py) and the create is sent
again only when the list shows it made nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from ... import errors
from .answers import map_answer
from .api import Answer, Prediction
from .lost import Ambiguous, find, request_key, since_for, wait_for_others

log = logging.getLogger("nb2.replicate")
_UNSETTLED = (
    "; its create's answer never came and the server lists no prediction for it yet, so the "
    "run stays pending: nb2.recover() looks for it in the server's list and cancels or "
    "collects it"
)
CANCEL_UNCONFIRMED = (
    "; the cancel got no answer, so the prediction may run on and be billed: the run stays "
    "pending with its id, and nb2.recover() collects or cancels it"
)


class Creating:
    """The create half of :class:`~nb2.backends.replicate.backend.ReplicateBackend` (which sets the
    attributes used here: api, claims, limiter, wait, create_retries, max_retry_after,
    lost_create_grace, and ``_cancel``)."""

    api: Any
    claims: Any
    limiter: Any
    wait: int
    create_retries: int
    max_retry_after: float
    lost_create_grace: float

    def _cancel(self, prediction_id: str) -> Prediction | None:  # pragma: no cover
        raise NotImplementedError

    def _create(
        self, model: str, data: dict[str, Any], cancel: threading.Event, deadline: float
    ) -> Prediction:
        key = request_key(model, data)
        backoff = 1.0
        throttled: Answer | None = None
        why = "no answer"  # why the last try made nothing (when it was not throttled)
        for attempt in range(self.create_retries + 1):
            self.limiter.acquire(cancel, deadline)
            since = since_for(self.api)
            kind, value = self._send_create(model, data, key, cancel, deadline)
            if kind == "made":
                self.limiter.passed()
                return value
            if kind == "unreached":  # it never reached the server: sending again is safe
                throttled, why = None, "the server could not be reached"
            elif kind == "answer" and value.status == 429:
                throttled = value
                if attempt == self.create_retries:
                    break
                asked = value.retry_after()
                pause = min(asked if asked is not None else backoff, self.max_retry_after)
                backoff = min(backoff * 2, 30)
                log.info("throttled on create; waiting %.1f s", pause)
                self.limiter.pause(pause)
                self._pause(pause, cancel, deadline, retry_after=asked)
                continue
            elif kind == "answer" and value.status < 500:
                raise map_answer(value)
            else:  # a 5xx, a lost or unreadable answer: it may have made a prediction; look
                with self.claims.looking(key):  # the grace lets identical lost ones join
                    found = self._find_lost(model, data, key, since, cancel, deadline)
                if found is not None:
                    return found
                log.info("create answer lost and the server lists no such prediction")
                throttled, why = None, "its answers were lost and the server lists no prediction"
            if attempt < self.create_retries:  # no pause after the last try
                self._pause(backoff, cancel, deadline, why=why)
                backoff = min(backoff * 2, 8)
        if throttled is not None:
            raise errors.RateLimitError(
                f"Replicate is still throttling after {self.create_retries} retries: "
                f"{throttled.detail()}",
                retry_after=throttled.retry_after(),
            )
        raise errors.GenerationError(
            f"no prediction could be created after {self.create_retries + 1} tries: {why}"
        )

    def _send_create(
        self, model: str, data: dict[str, Any], key: str, cancel: threading.Event, deadline: float
    ) -> tuple[str, Any]:
        """One create, in a thread of its own so a Stop can act during the sync hold."""
        import httpx

        left = deadline - time.monotonic()
        hold = max(1, min(self.wait, int(left)))
        # the answer comes when the hold ends: wait a second past it even near the deadline,
        # or a create sent with a second left is lost by construction (made, never recorded)
        read = max(hold + 1.0, min(hold + 5.0, left))
        headers = {"Prefer": f"wait={hold}", "Cancel-After": f"{max(5, math.ceil(left))}s"}
        box: dict[str, Any] = {}
        lock, done = threading.Lock(), threading.Event()
        since = since_for(self.api)
        self.claims.sending(key)

        def post() -> None:
            pred, mine = None, False
            try:
                path, body = f"/v1/models/{model}/predictions", {"input": data}
                if ":" in model:  # a pinned version goes to /v1/predictions
                    path, body = "/v1/predictions", {"version": model, "input": data}
                a = self.api.request(
                    "POST", path, json_body=body,
                    headers=headers, timeout=read,
                )  # fmt: skip
                if a.ok:
                    pred = Prediction.parse(a.body)
                    mine = self.claims.hold(pred.id)  # else a stopped caller found it first
                    box["made"] = pred
                else:
                    box["answer"] = a
            except (httpx.ConnectError, httpx.ConnectTimeout):
                box["unreached"] = True
            except Exception as exc:  # a lost, cut or unreadable answer
                box["lost"] = f"{type(exc).__name__}: {exc}"[:200]
            finally:
                self.claims.done_waiting(key)
                with lock:
                    abandoned = box.get("abandoned")
                done.set()
            if abandoned and pred is not None and mine:  # its stopped caller gave up on it
                if not pred.terminal:
                    self._cancel(pred.id)
                # its run is pending with no id: let nb2.recover find it in the server's list
                self.claims.release(pred.id)
                log.info("prediction %s answered after its run was stopped", pred.id)

        threading.Thread(target=post, name="nb2-create", daemon=True).start()
        kept = None
        try:
            while not done.wait(0.05):
                if cancel.is_set():
                    kept = self._stop_create(model, data, key, since, done)
                    break
        finally:
            # one decision with post(): either the prediction is taken here or post() lets
            # go of it (when done is set, post() has already decided: nothing was abandoned)
            with lock:
                got = dict(box)
                box["abandoned"] = "made" not in got
        if "made" in got:
            return "made", got["made"]  # even when stopped: _follow cancels or keeps it
        if kept is not None:
            return "made", kept
        if cancel.is_set():
            found = self._find_quietly(model, data, since)
            if found is not None:
                return "made", self._cancel_or_keep(found.id, "stopped while the create was "
                                                    "in flight; canceled")  # fmt: skip
            made_nothing = "unreached" in got or ("answer" in got and got["answer"].status < 500)
            raise errors.CanceledError(
                "stopped while the create was in flight" + ("" if made_nothing else _UNSETTLED),
                unsettled=not made_nothing,
            )
        if "answer" in got:
            return "answer", got["answer"]
        if "unreached" in got:
            return "unreached", None
        log.info("create answer lost (%s)", got.get("lost"))
        return "lost", None

    def _stop_create(
        self, model: str, data: dict[str, Any], key: str, since: Any, done: threading.Event
    ) -> Prediction | None:
        """A Stop during the sync hold: cancel the prediction the create made without waiting
        for the hold to end, when it is ours beyond doubt; else wait for the create's answer.
        The prediction is returned if it had already finished (paid for, so it is kept)."""
        give_up = time.monotonic() + self.wait + 5.0
        while not done.is_set() and time.monotonic() < give_up:
            if self.claims.others_waiting(key) <= 1:
                found = self._find_quietly(model, data, since)
                if found is not None:
                    return self._cancel_or_keep(found.id, "stopped during the create; canceled")
            done.wait(0.2)
        return None

    def _cancel_or_keep(self, prediction_id: str, stopped: str) -> Prediction:
        """Cancel; the prediction if the cancel's answer says it had already succeeded (paid
        for, so kept), else CanceledError: unsettled when the cancel got no answer."""
        final = self._cancel(prediction_id)
        if final is not None and final.ready:
            log.info("prediction %s finished before its cancel; keeping it", prediction_id)
            return final
        if final is None:
            raise errors.CanceledError(
                stopped + CANCEL_UNCONFIRMED, prediction_id=prediction_id, unsettled=True
            )
        raise errors.CanceledError(stopped, prediction_id=prediction_id)

    def _find_quietly(self, model: str, data: dict[str, Any], since: Any) -> Prediction | None:
        """For a Stop: the prediction beyond doubt ours, or None (unreadable or ambiguous)."""
        try:
            return find(self.api, self.claims, model, data, since, timeout=3.0, mine_at_most=1)
        except Exception:
            return None

    def _find_lost(
        self, model: str, data: dict[str, Any], key: str, since: Any, cancel: threading.Event,
        deadline: float,
    ) -> Prediction | None:  # fmt: skip
        """The prediction a lost create made, or None when the server's list shows none."""
        wait_for_others(self.claims, key, deadline, cancel.is_set)
        cancel.wait(self.lost_create_grace)  # a server still handling it lists it a moment later
        for attempt in range(3):
            try:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no time left to read the list")
                found = find(self.api, self.claims, model, data, since,
                             timeout=min(10.0, left),
                             mine_at_most=self.claims.lookers(key))  # fmt: skip
                break
            except Ambiguous as exc:  # not sent again, and not someone else's taken for ours
                raise errors.UncollectedError(
                    f"the create's answer was lost and the server lists several identical "
                    f"predictions ({exc}); which is this run's cannot be told, so the run stays "
                    "pending: nb2.recover() settles it"
                ) from None
            except Exception as exc:
                if cancel.is_set():  # stopped: no more tries, and nothing known either way
                    raise errors.CanceledError("stopped" + _UNSETTLED, unsettled=True) from None
                if attempt == 2 or time.monotonic() > deadline:
                    raise errors.UncollectedError(
                        "the create's answer was lost and the prediction list could not be "
                        f"read ({type(exc).__name__}); not sent again, so nothing is billed "
                        "twice, and the run stays pending: nb2.recover() looks for it later"
                    ) from None
                cancel.wait(0.5 * (attempt + 1))
        if found is not None:
            log.info("found prediction %s made by a create whose answer was lost", found.id)
        if cancel.is_set():
            if found is None:  # read at once, without the grace: it may be listed later
                raise errors.CanceledError("stopped" + _UNSETTLED, unsettled=True)
            return self._cancel_or_keep(found.id, "stopped")
        return found

    def _pause(
        self, seconds: float, cancel: threading.Event, deadline: float,
        retry_after: float | None = None, why: str | None = None,
    ) -> None:  # fmt: skip
        """Wait before the next try; ``why`` names a pause that is not a throttle (an
        unreachable server is not "Replicate asks to wait")."""
        if time.monotonic() + seconds > deadline:
            if why is not None:
                raise errors.GenerationError(
                    f"no prediction could be created within this run's time limit: {why}"
                )
            raise errors.RateLimitError(
                f"Replicate asks to wait {seconds:.0f} s, past this run's time limit",
                retry_after=retry_after,
            )
        if cancel.wait(seconds):
            raise errors.CanceledError("stopped before the create was sent")

    def find_orphan(self, model: str, data: dict[str, Any], since: Any) -> Prediction | None:
        """A prediction of this request made since ``since`` that nobody recorded (its
        create's answer never reached a kernel that then died); claimed, or None."""
        return find(self.api, self.claims, model, data, since, timeout=10.0)
