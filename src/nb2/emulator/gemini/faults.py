"""The Gemini emulator's knobs. Defaults are the real API's behaviour (per
shared/reference/gemini-api.md); every fault is opt-in.

Counters (``int`` knobs named for "the next N ...") count down as they fire, so a test can set
one, run, and assert it reached 0. Every knob may be changed while the server runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .tables import RETIRED

# Prompt words that make the model refuse, and how (the last user turn's text is searched).
# "BLOCK" is a prompt block (promptFeedback, no candidates); the rest are finish reasons.
MODERATION = {
    "[image_safety]": "IMAGE_SAFETY",
    "[prohibited]": "PROHIBITED_CONTENT",
    "[image_other]": "IMAGE_OTHER",
    "[no_image]": "NO_IMAGE",
    "[block]": "BLOCK",
}


@dataclass
class GeminiFaults:
    """Knobs; counters count down as they fire. Change them at any time."""

    # -- the model ---------------------------------------------------------------------------
    latency: float = 0.0  # seconds a generateContent takes (and each request of a batch)
    # prompts containing a key take that many seconds instead of `latency`
    slow_words: dict[str, float] = field(default_factory=dict)
    moderation_words: dict[str, str] = field(default_factory=lambda: dict(MODERATION))
    # Real 3.x renders are reported as JPEG (a third-party capture); "image/png" also works.
    output_mime: str = "image/jpeg"
    # None: thought parts appear when the request's thinkingConfig.includeThoughts asks;
    # True/False: always / never, whatever the request says.
    include_thoughts: bool | None = None
    images_per_answer: int = 1  # final images in one answer (2: the model gave a second one)
    # "full" (the token tables), "empty" (usageMetadata: {}), "no_details" (no
    # candidatesTokensDetails): answers that say less of their tokens than the docs show
    usage: str = "full"
    # the next N calls answer 400 with the request's API key in the message, as a misbehaving
    # proxy or gateway may (nb2 must never pass it on)
    echo_key_next: int = 0

    # -- which models are served ------------------------------------------------------------
    # ids that answer 404 NOT_FOUND (Google's shut-down ones; add "gemini-3.1-flash-image" to
    # play the reported shutdown of 2026-10-29), and ids models.list names beyond the known
    # families (a model nb2's table lacks: what nb2.models.check() calls drift)
    retired: tuple[str, ...] = RETIRED
    extra_models: tuple[str, ...] = ()

    # -- thought signatures ------------------------------------------------------------------
    # What an echoed model turn with a missing or wrong signature gets: "finish" (200,
    # finishReason MISSING_THOUGHT_SIGNATURE, no image), "400" (INVALID_ARGUMENT) or "ignore".
    # "finish" by default: that finish reason exists in the Gemini API only, the docs say
    # missing signatures "may cause the response to fail", and the 400 is a third-party report.
    missing_signature: str = "finish"
    signature_bytes: int = 256  # decoded size of each signature (a capture saw ~1.1 MB: opt in)
    signature_secret: bytes = b"nb2-gemini-emulator"  # fixed: signatures survive a restart

    # -- accounts and request rules ----------------------------------------------------------
    api_keys: tuple[str, ...] | None = None  # accepted keys (None: any non-empty key)
    permission_denied: bool = False  # every API call answers 403 PERMISSION_DENIED
    # Unknown field names answer 400 "Invalid JSON payload received. Unknown name ...", as
    # proto-JSON parsing does (checked at the top level, generationConfig and imageConfig).
    strict_fields: bool = True
    max_inline_bytes: int = 20 * 1024 * 1024  # a request (or an inline batch) over it: 400

    # -- throttling and server errors (generateContent and stream calls) ---------------------
    throttle_next: int = 0  # the next N calls answer 429 RESOURCE_EXHAUSTED
    throttle_bare: bool = False  # those 429s in the bare form (no details, no retry delay)
    retry_delay: float = 1.0  # the RetryInfo retryDelay of a 429 (the real one said 25s)
    rate_limit: tuple[int, float] | None = None  # (calls, window seconds) beyond it: 429
    unavailable_next: int = 0  # the next N calls answer 503 UNAVAILABLE (model overloaded)
    internal_next: int = 0  # the next N calls answer 500 INTERNAL

    # -- the network (every request) ---------------------------------------------------------
    drop_connections: int = 0  # the next N requests are read and the socket closed unanswered
    # The next N requests are held unanswered until the client leaves, the emulator stops or
    # `hang_timeout` seconds pass (then the socket is closed). 10**9 means "always".
    hang_requests: int = 0
    hang_timeout: float = 600.0
    garble_next: int = 0  # the next N calls answer 200 with the JSON cut in half
    slow_body: float = 0.0  # answers to calls dribble out over this many seconds (0: off)

    # -- files and batches -------------------------------------------------------------------
    file_ttl: float = 48 * 3600.0  # documented: uploads are kept 48 hours
    files_page_size: int = 10  # documented default pageSize of files.list (max 100)
    batches_page_size: int = 50  # best guess: the default pageSize of batches.list
    batch_pending: float = 0.1  # seconds a batch stays BATCH_STATE_PENDING
    # seconds from create to BATCH_STATE_SUCCEEDED (the real target is 24 h, "most cases much
    # quicker"); each request also takes `latency`
    batch_latency: float = 1.0
    # "auto": inline requests answer inlinedResponses, a file answers a responsesFile;
    # "file" / "inline": always that
    batch_output: str = "auto"
    # a canceled batch hands back the answers that finished before the cancel (our guess, see
    # batches.py's table); False: it hands back nothing, though its counts say they succeeded
    cancelled_output: bool = True
    # the next N batches write a responses line of junk in place of one answer: "html" (an
    # image that is a web page), "json" (not JSON), "utf8" (not UTF-8), "base64", "list"
    batch_junk: tuple[str, ...] = ()
    batch_fail: int = 0  # the next N batches end BATCH_STATE_FAILED (no output)
    judge_refuse: int = 0  # the next N judge calls are refused (finishReason SAFETY, billed)
    judge_junk: int = 0  # the next N judge answers are cut short (not the JSON asked for)
    batch_expire: int = 0  # the next N batches end BATCH_STATE_EXPIRED (no output)
