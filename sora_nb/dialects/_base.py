"""What a dialect is: how one kind of relay is asked for a video and answers.

A dialect is one module in ``sora_nb/dialects/`` with one ``Dialect`` subclass,
listed in ``sora_nb/dialects/__init__.py``. The client builds exactly one when
it is built (from its ``dialect=`` setting or ``$SORA_DIALECT``) and from then
on only calls the methods below; it never asks which dialect it holds. What
every relay shares (configuration, the key and its origin rule, retries before
an answer begins, the limiter, HTTP, redaction) stays in the client and reaches
the dialect as a ``Relay``, as httpx's transports all share
``handle_async_request`` whatever they speak.

A generation goes through a dialect in four steps (docs/architecture.md):

1. ``place_image(ask)``: put the Ask's image where this relay takes it (fetched
   and inlined, refused, or passed as a link). Runs before anything is recorded.
2. ``request(ask, parent)``: the exact ``Request`` (prompt, model, messages)
   that is recorded and then sent; ``parent`` is the ``Video`` an edit
   continues, and its ``continuations`` and ``handle`` say how (a remix id, a
   task id), so no transcript is read again.
3. ``run(request, parent, on_event, deadline)``: send it, report typed events
   (from a stream or from polls) and return the finished ``Video``, with
   ``dialect``, ``continuations`` and ``handle`` filled in. A task whose id is
   known is never sent again: a lost stream or poll raises ``StreamInterrupted``
   carrying a ``PendingTask``.
4. ``resume(pending, on_event, deadline)``: collect such a task by its id.

A new dialect overrides ``run``, ``resume`` and ``pending_for``; the rest have
defaults that fit a relay which takes the request as given. Its emulator file is
``sora_nb/emulator/_<name>.py``, its fixtures ``tests/fixtures/<name>/`` and its
section is in ``docs/dialects.md``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from .._exceptions import InvalidRequest
from .._messages import t
from ..records._ask import Ask, extras
from ..records._model import Message, PendingTask, Request
from ..records._video import Video
from ..wire._events import Event, JobEvent
from ..wire._limits import CappedRedactor
from ._catalog import Capabilities, capabilities_for
from ._shape import shaped

if TYPE_CHECKING:
    import httpx

__all__ = [
    "Content", "Continuation", "Dialect", "EventCallback", "Files", "Relay", "RelayRefused",
]  # fmt: skip

#: What a relay can do with a video it made, for the next turn
#: (``Video.continuations``).
Continuation = Literal["remix", "edit", "extend"]
EventCallback = Callable[[Event | JobEvent], object]
#: A user message's content: the prompt, or ``[text, image_url]`` parts.
Content = str | list[dict[str, Any]]
#: A multipart body's file parts: field name → (file name, bytes, media type).
Files = Mapping[str, tuple[str, bytes, str]]


T = TypeVar("T")


class RelayRefused(Exception):
    """A 429: the relay started nothing, so the request may wait and retry."""


class Relay(Protocol):
    """What the client lends its dialect: HTTP to one relay, with the key and
    its rules.

    Every answer is already masked of the key (``redact`` is for text read
    otherwise), and the key goes only to the relay's own origin, whatever URL a
    dialect asks for.
    """

    @property
    def base_url(self) -> str:
        """The relay's root URL (no trailing slash)."""
        ...

    @property
    def poll_interval(self) -> float:
        """The longest wait between two polls, in seconds."""
        ...

    def open(
        self, path: str, body: dict[str, Any], on_event: EventCallback | None = None
    ) -> Awaitable[httpx.Response]:
        """``POST``; the open 2xx answer, to read as a stream and close
        (retried before it).
        """
        ...

    async def post(
        self, path: str, body: dict[str, Any], files: Files | None = None
    ) -> httpx.Response:
        """``POST`` and read the 2xx answer whole, with the same retries and
        refusals; with ``files``, as a multipart form whose text fields are
        ``body``.
        """
        ...

    async def get(self, url: str) -> httpx.Response:
        """One ``GET`` with the key (a poll), never retried."""
        ...

    async def fetch(self, url: str, limit: int) -> bytes:
        """Bytes from another origin (an image to inline), without the key."""
        ...

    def inflow(self, limit: int) -> CappedRedactor:
        """A stream's content for a parser: key masked, capped at ``limit``."""
        ...

    def slot(self) -> AbstractAsyncContextManager[None]:
        """A place among the relay's concurrent generations (the limiter)."""
        ...

    async def admitted(
        self,
        on_event: EventCallback | None,
        attempt: Callable[[], Awaitable[T]],
        refusal: list[str],
        deadline: float | None = None,
    ) -> T:
        """``attempt()`` in a slot, after the "sending" event (a batch journals
        the item then). A 429 (``RelayRefused``: nothing started) gives the slot
        back and waits its turn again; ``refusal`` keeps the last refusal while
        it waits, and past ``deadline`` that wait ends in a ``RateLimitError``.
        """
        ...

    def redact(self, text: str) -> str:
        """``text`` with the key masked, should the relay echo it."""
        ...


class Dialect(ABC):
    """One kind of relay. Subclasses set ``name`` and implement ``run``,
    ``resume`` and ``pending_for``; a dialect holds no state between generations
    but what it caches.
    """

    #: The setting that chooses it (``SoraClient(dialect=…)``,
    #: ``$SORA_DIALECT``).
    name: ClassVar[str]
    #: Other settings that choose it.
    aliases: ClassVar[tuple[str, ...]] = ()
    #: How sentences name it ("a Videos API relay").
    title: ClassVar[str]

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    # -- before anything is recorded -------------------------------------------

    async def place_image(self, ask: Ask) -> Ask:
        """``ask`` with its image where this relay takes it (default: as is)."""
        return ask

    def request(self, ask: Ask, parent: Video | None = None) -> Request:
        """The exact request to record and send: a new video, or an edit of
        ``parent``.

        The default is the seed's shape: the model variant the orientation
        names, the prompt (and image) as the one user message, and for an edit
        the parent's branch, its answer, then the change (docs/protocol.md,
        "Continuous modification").
        """
        turn = shaped(ask.prompt, ask.model, ask.orientation, ask.image)
        content = turn.content if parent is None else self.edit_content(turn.content, parent)
        messages: list[Message] = (
            parent.next_messages(content) if parent else [{"role": "user", "content": content}]
        )
        options = extras(ask)
        return Request(turn.prompt, turn.model, turn.orientation, turn.image_url, messages, options)

    def edit_content(self, content: Content, parent: Video) -> Content:
        """An edit's user content (default: as it is, since the relay reads the
        history).
        """
        return content

    # -- sending and recovering ------------------------------------------------

    @abstractmethod
    async def run(
        self,
        request: Request,
        parent: Video | None,
        on_event: EventCallback | None,
        deadline: float,
    ) -> Video:
        """Send ``request`` and return the finished video (``deadline``:
        ``time.monotonic``).

        Raises ``GenerationFailed`` when the relay says no, and
        ``StreamInterrupted`` (with a ``PendingTask``) when the answer is lost
        after the task id is known.
        """

    @abstractmethod
    def pending_for(self, task: str) -> PendingTask:
        """What ``resume`` needs for a pasted task id or status URL."""

    async def lookup(self, task: str) -> None:
        """Ask the relay once whether it knows ``task``; raise
        ``APIStatusError`` if not.

        A ``Session`` records a turn for a pasted task id only after this. The
        default trusts the id: relays whose polls answer for unknown ids need
        nothing more.
        """
        self.pending_for(task)

    @abstractmethod
    async def resume(
        self, pending: PendingTask, on_event: EventCallback | None, deadline: float
    ) -> Video:
        """Collect a task whose answer was lost: poll until it ends."""

    # -- optional --------------------------------------------------------------

    async def stream(
        self, messages: list[Message], model: str, *, stream: bool = True
    ) -> AsyncGenerator[Event, None]:
        """The raw events of one chat request, if the relay streams."""
        raise InvalidRequest(t("dialect.no_stream", title=self.title))
        yield  # pragma: no cover  (an async generator, like the ones that stream)

    async def models(self) -> list[str] | None:
        """The model names the relay lists; None if it lists none."""
        return None

    async def capabilities(self) -> list[Capabilities]:
        """The relay's video models with what each takes: its listed names, with
        the documented table's capabilities (docs/dialects.md, "Models");
        gateways read more.
        """
        names = await self.models() or []
        return [capabilities_for(name) or Capabilities(name, source="listed") for name in names]

    def continuations(self, model: str) -> tuple[str, ...]:
        """How a video of ``model`` continues here (default: remix)."""
        return ("remix",)

    @property
    def cancels_on_disconnect(self) -> bool:
        """Whether the relay cancels a generation when its stream drops: an
        interrupt then costs the job, and the views say so while it runs
        (default: no).
        """
        return False

    async def continue_from(self, ask: Ask, parent: Video) -> Ask:
        """An edit's Ask, with what continuing ``parent`` needs."""
        return ask

    @classmethod
    def recognise(cls, video: Video) -> Video | None:
        """``video``, saved before videos recorded their dialect, with what this
        dialect says of it; None if this dialect did not make it (the default).
        """
        return None
