"""Google's Gemini API directly, over the official ``google-genai`` SDK: the backend
(backend.py: the call, its bounded waits and errors) and the wire (wire.py: the conversation
and config sent, the raw answer read: image, usage, grounding, the model's turn)."""

from .backend import GeminiBackend

__all__ = ["GeminiBackend"]
