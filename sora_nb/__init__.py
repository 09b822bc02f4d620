"""sora_nb: make and refine short sora-2 videos from a Jupyter notebook.

``%load_ext sora_nb`` adds the ``%%sora`` magic; ``SoraClient`` is the async core.
"""

from . import _render  # noqa: F401  (registers how a Video and a Session display)
from ._client import SoraClient
from ._events import (
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
from ._history import Session, Turn, TurnStatus, get_session
from ._model import PendingTask, Request, Task
from ._notebook import batch, edit, generate, panel
from ._protocol import TranscriptParser, parse_transcript
from ._request import MAX_IMAGE_BYTES, MODELS
from ._video import Video

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
    "panel",
    "parse_transcript",
]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext sora_nb``: register the ``%%sora`` magics."""
    from ._notebook import load_ipython_extension as load

    load(ipython)


# Public names say ``sora_nb.Video``, not ``sora_nb._video.Video``, in reprs and tracebacks
# (as httpx does for its own private modules).
for _name in __all__:
    if isinstance(globals()[_name], type) or callable(globals()[_name]):
        globals()[_name].__module__ = "sora_nb"
del _name
