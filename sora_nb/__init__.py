"""sora_nb: make and refine short sora-2 videos from a Jupyter notebook.

``%load_ext sora_nb`` adds the ``%%sora`` magic; ``SoraClient`` is the async
core.
"""

from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    GenerationFailed,
    InvalidRequest,
    RateLimitError,
    SessionFileError,
    SoraError,
    StreamInterrupted,
)
from .client._client import SoraClient
from .notebook import batch, edit, generate, live, models, panel, studio
from .records._model import PendingTask, Request, Task
from .records._request import MAX_IMAGE_BYTES, MODELS
from .records._video import Video
from .render import _render  # noqa: F401  (registers how a Video and a Session display)
from .session._history import Session, Turn, TurnStatus, get_session
from .wire._events import (
    CompletedEvent,
    EchoEvent,
    Event,
    FailedEvent,
    JobEvent,
    ProgressEvent,
    StatusEvent,
    TaskEvent,
    TextEvent,
)
from .wire._protocol import TranscriptParser, parse_transcript

__version__ = "0.1.0"

__all__ = [
    "MAX_IMAGE_BYTES",
    "MODELS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "AuthenticationError",
    "CompletedEvent",
    "EchoEvent",
    "Event",
    "FailedEvent",
    "GenerationFailed",
    "InvalidRequest",
    "JobEvent",
    "PendingTask",
    "ProgressEvent",
    "RateLimitError",
    "Request",
    "Session",
    "SessionFileError",
    "SoraClient",
    "SoraError",
    "StatusEvent",
    "StreamInterrupted",
    "Task",
    "TaskEvent",
    "TextEvent",
    "TranscriptParser",
    "Turn",
    "TurnStatus",
    "Video",
    "__version__",
    "batch",
    "edit",
    "generate",
    "get_session",
    "live",
    "models",
    "panel",
    "parse_transcript",
    "studio",
]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext sora_nb``: register the ``%%sora`` magics."""
    from .notebook import load_ipython_extension as load

    load(ipython)


# Public names say ``sora_nb.Video``, not ``sora_nb.records._video.Video``, in
# reprs and tracebacks (as httpx does for its own private modules).
for _name in __all__:
    if isinstance(globals()[_name], type) or callable(globals()[_name]):
        globals()[_name].__module__ = "sora_nb"
del _name
