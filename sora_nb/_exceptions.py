"""Errors raised by sora_nb.

Every error is a ``SoraError``; messages are one sentence and never contain the
API key::

    SoraError
    ├── InvalidRequest          bad input, caught before anything is sent
    │   └── SessionFileError    a session file is corrupt, foreign or too new
    ├── APIError                the relay answered something we cannot use
    │   ├── APIConnectionError  no connection, or a timeout before the stream
    │   └── APIStatusError      a non-2xx answer; has ``status_code``
    │       ├── AuthenticationError   401 / 403
    │       └── RateLimitError        429 after the retries
    ├── GenerationFailed        the relay reported a failure, or sent no video
    └── StreamInterrupted       the stream broke after the task began; no resume
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._messages import t

if TYPE_CHECKING:
    from .records._model import PendingTask

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "AuthenticationError",
    "GenerationFailed",
    "InvalidRequest",
    "RateLimitError",
    "SessionFileError",
    "SoraError",
    "StreamInterrupted",
]


class SoraError(Exception):
    """Base class of every error raised by sora_nb."""


class InvalidRequest(SoraError, ValueError):
    """Refused before anything was sent (empty prompt, unknown model, …)."""


class SessionFileError(InvalidRequest):
    """A session file is unreadable, corrupt or too new; it is left alone."""


class APIError(SoraError):
    """The relay could not be reached or answered with something unusable."""


class APIConnectionError(APIError):
    """No connection to the relay, or a timeout before the stream began."""


class APIStatusError(APIError):
    """The relay answered with a non-2xx status."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationError(APIStatusError):
    """The relay refused the API key (401 or 403)."""


class RateLimitError(APIStatusError):
    """The relay kept answering 429 after every retry."""


class GenerationFailed(SoraError):
    """The relay reported a failure, or its stream ended without a video."""

    def __init__(self, reason: str, *, task_id: str | None = None) -> None:
        message = t("failed.reason", reason=reason) if reason else t("failed.no_reason")
        if task_id:
            message += t("failed.task", task=task_id)
        super().__init__(message)
        self.reason = reason
        self.task_id = task_id


class StreamInterrupted(SoraError):
    """The stream broke after the task was created, and polling its source URL
    did not finish it.

    The video may still finish on the relay: ``SoraClient.resume(task_id)`` or
    ``%sora resume TASK`` collects it later.
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None,
        source_url: str | None,
        pending: PendingTask | None = None,
    ) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.source_url = source_url
        #: What the client knew when it gave up (partial transcript included),
        #: for resume().
        self.pending = pending
