"""The emulator's knobs. Defaults are the real API's behaviour; every fault is opt-in.

Counters (``int`` knobs named for "the next N ...") count down as they fire, so a test can set
one, run, and assert it reached 0. Every knob may be changed while the server runs, except
``delivery_scheme``, which is read once when the :class:`~nb2.emulator.Emulator` is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Faults:
    """Knobs; counters count down as they fire. Change them at any time."""

    # -- the model ---------------------------------------------------------------------------
    latency: float = 0.0  # seconds from create to a finished prediction
    # prompts containing a key take that many seconds instead of `latency`
    slow_words: dict[str, float] = field(default_factory=dict)
    processing_after: float = 0.05  # seconds a prediction stays "starting" (its queue time)
    moderation_words: tuple[str, ...] = ("[flag]",)  # prompts with these end failed with E005
    fail_next: int = 0  # the next N predictions fail with a model error

    # -- real rules, with the API's own numbers as defaults ----------------------------------
    # What a sync create answers when its hold expires before the model is done: the API's
    # docs say "starting"; "processing" (output null) is also seen in the wild.
    sync_expired_status: str = "starting"
    cancel_after_min: float = 5.0  # the shortest Cancel-After the API accepts (seconds)
    data_retention: float = 3600.0  # seconds after completion until input/output are removed
    file_ttl: float = 86400.0  # seconds a Files API upload lives (its expires_at)
    page_size: int = 100  # predictions and files per list page
    # The server's clock runs this many seconds off the client's (e.g. -3.0): created_at,
    # started_at, completed_at, the Date header and created_after/created_before all shift.
    clock_skew: float = 0.0
    # Output URLs live on a second loopback server (the delivery origin). "https" serves it
    # over TLS with a self-signed certificate made at start (see Emulator.cafile).
    delivery_scheme: str = "http"

    # -- accounts ----------------------------------------------------------------------------
    credit: bool = True  # False: creates answer 402
    tokens: tuple[str, ...] | None = None  # accepted tokens (None: any non-empty)
    refuse_field: str | None = None  # creates answer 422 naming this input field

    # -- throttling (429) ----------------------------------------------------------------------
    # (creates, window seconds): creates beyond that many in any such window answer 429,
    # '{"detail": "Request was throttled. Your rate limit resets in ~Ns.", "status": 429}'.
    rate_limit: tuple[int, float] | None = None
    rate_limit_other: tuple[int, float] | None = None  # the same for every other API call
    throttle_creates: int = 0  # the next N creates answer 429 whatever the window says
    retry_after: float = 1.0  # the "~Ns" of a throttle_creates 429 (and its field/header)
    retry_after_field: bool = False  # also put "retry_after": N in 429 bodies
    retry_after_header: bool = False  # also send a Retry-After: N header with 429s
    # 429 bodies in the older form: "Request was throttled. Expected available in 1 second."
    throttle_old_message: bool = False

    # -- the network ---------------------------------------------------------------------------
    drop_create_responses: int = 0  # the next N creates are made but their answer is lost
    drop_connections: int = 0  # the next N requests are dropped unanswered (socket closed)
    drop_every: int = 0  # also drop every Nth request (0: never); creates never run then
    # The next N API requests are accepted and never answered: the server holds the
    # connection until the client gives up (or the emulator stops). 10**9 means "always".
    hang_requests: int = 0

    # -- polls -----------------------------------------------------------------------------------
    poll_errors: int = 0  # the next N prediction GETs answer `poll_error_status`
    poll_errors_forever: bool = False  # every prediction GET answers `poll_error_status`
    poll_error_status: int = 503  # the status of those errors (a 5xx)
    poll_retry_after: float | None = None  # those errors carry a Retry-After: N header

    # -- garbage answers to a create (each counter: the next N creates) -------------------------
    create_aborted: int = 0  # the prediction is aborted at once; the answer says "aborted"
    create_null_url: int = 0  # the answer's urls holds a null ("web": null)
    create_malformed: int = 0  # the prediction is made; the answer is JSON cut in half
    # The prediction is made; the answer is an HTML page (a proxy or portal on the way back)
    # with status `create_html_status`.
    create_html: int = 0
    create_html_status: int = 200

    # -- garbage output downloads (delivery origin) ----------------------------------------------
    output_not_image: int = 0  # the next N downloads answer 200 "image/jpeg" with HTML bytes
    output_slow: float = 0.0  # downloads dribble out 1 byte every N seconds (0: off)
    output_huge: int = 0  # downloads answer this many bytes, streamed (0: off)
    output_unsized: bool = False  # downloads carry no Content-Length (read to the close)
    output_redirects: int = 0  # the next N downloads answer 302 to the file's other address
