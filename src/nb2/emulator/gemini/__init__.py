"""A Gemini-API-compatible server on loopback for the image models, backed by nb2's offline
renderer: the official ``google-genai`` SDK works against it unchanged
(``genai.Client(api_key="k", http_options=types.HttpOptions(base_url=emu.base_url))``, with or
without ``api_version="v1beta"``). ``python -m nb2.emulator --api gemini`` runs it.

What it holds: ``server.py`` (:class:`GeminiEmulator`: state, clock, counters), ``faults.py``
(:class:`GeminiFaults`: knobs; defaults are the real API, faults opt-in), ``http.py`` (routes,
key, connection faults), ``request.py`` (a request read and checked), ``respond.py`` (the
answer: parts, signatures, usage, refusals, stream chunks), ``images.py`` (the renderer at the
table's exact size), ``tables.py`` (the three model families), ``signatures.py`` (verifiable
thought signatures), ``grounding.py``, ``files.py`` (Files API), ``batches.py`` (Batch API),
``errors.py`` (Google's error bodies; key casing).

Served: ``POST /{v1|v1beta}/models/{m}:generateContent`` and ``:streamGenerateContent``
(``?alt=sse`` or a JSON array), ``:batchGenerateContent``, ``GET models/{m}``; ``batches``
(get, list, ``:cancel``, delete); ``files`` (resumable upload under ``/upload/``, get, list,
delete, ``:download?alt=media``). Any path prefix before the version is accepted.

Where each answer comes from (shared/reference/gemini-api.md: [IMG] Google's image-generation
docs, [SDK] google-genai's source and captures, [PRICE] the pricing page; "guess" is ours):

==========================================================  ================================
answer                                                      source
==========================================================  ================================
sizes per family, ratio and tier; 512 is 3.1 Flash only     [IMG]
21:9 at 512 = 792x336 (docs: 792x168, a likely typo)        guess
output tokens 747/1120/1680/2520, Pro 1120/1120/2000, 1290  [IMG], [PRICE]
"1k" (lowercase) refused; imageSize on 2.5 refused          [IMG] (message wording: guess)
candidateCount > 1: "Multiple candidates is not enabled"    issue threads (verbatim)
thinkingLevel minimal|high on 3.1 Flash; low|high on Pro    [IMG]; Pro: guess
imageSearch only on 3.1 Flash; search refused on 2.5        [IMG]; 2.5: guess
input image tokens: Pro 560; 3.1 Flash 560; 2.5 258/tile    [PRICE]; Flash: guess; 2.5 docs
text tokens = ceil(chars / 4); thought token counts         guess
thoughtsTokenCount apart; total = prompt + out + thoughts   guess (the Gemini text models')
signature placement (every image, first text before them)   [IMG]
missing/wrong signature -> finish MISSING_THOUGHT_SIGNATURE  guess (enum exists; knob: "400")
signature size 256 bytes (a capture saw ~1.1 MB: a knob)    guess
image/jpeg answers; a thought image is image/png            third-party captures
IMAGE_OTHER with content {} and finishMessage               third-party capture (verbatim)
IMAGE_SAFETY / PROHIBITED_CONTENT with no content key       [IMG] notes, captures
NO_IMAGE with a text-only content; block: PROHIBITED_CONTENT guess
429 with Help, QuotaFailure, RetryInfo; the bare form       third-party captures
bad key 400 API_KEY_INVALID; no key 403 "unregistered"      well-known real answers
503 overloaded, 500 internal wording                        well-known real answers
unknown field names -> 400 "Unknown name ..."               proto-JSON's behaviour
grounding keys (web uri/title/domain; image sourceUri...)   [SDK] types; the links: fake
batch Operation, states, inlinedResponses, responsesFile    [SDK] captures, cookbook
batch output file lines {"key", "response"|"error"}         cookbook; error shape: guess
batch errors per request {"code": 400, ...} (HTTP code)     reference's capture (⚠)
batch timings (batch_pending, batch_latency)                knobs (real: up to 24 h)
cancelled batch: no output; FAILED/EXPIRED: no output       guess
files: resumable protocol, x-goog-upload-* headers          [SDK]
file uri / downloadUri point at the emulator                deliberate difference
uploaded files refuse :download (generated ones only)       [SDK] docstring; wording: guess
==========================================================  ================================
"""

from .faults import GeminiFaults
from .server import GeminiEmulator

__all__ = ["GeminiEmulator", "GeminiFaults"]
