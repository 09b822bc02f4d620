"""What a chat-completions body asks for, read the way the relay reads it.

See docs/protocol.md, "Request": the prompt is the last user message, the
orientation comes from words in it, an image is an ``image_url`` part, and an
edit is recognised by the last ``sid`` in the assistant turns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ._faults import Fault, parse_fault, strip_fault_tag

__all__ = [
    "MODELS",
    "BadRequest",
    "ChatReader",
    "ChatRequest",
    "Dialect",
    "Message",
    "Orientation",
    "last_sid",
    "media_model",
    "model_orientation",
    "orientation_from_prompt",
    "parse_chat_request",
    "remix_id",
    "seed_model",
    "sora2api_model",
    "without_remix_id",
]

Orientation = Literal["portrait", "landscape"]
Message = dict[str, Any]
Dialect = Literal[
    "transcript", "sora2api", "videos",
    "newapi", "litellm", "openrouter", "xai", "grok2api", "flow2api", "reseller",
]  # fmt: skip
MODELS = ("sora-2", "sora-2-pro")
# The relay's model shapes (docs/dialects.md, "Model names").
_SORA2API_MODEL = re.compile(
    r"^(?:sora2(?:pro)?-(?:landscape|portrait)-(?:10|15|25)s|sora2pro-hd-(?:landscape|portrait)-(?:10|15)s"
    r"|sora-video-(?:(?:landscape|portrait)-)?(?:10|15)s)$"
)
_REMIX_ID = re.compile(r"s_[0-9a-f]{32}")

# The last of these words in the prompt wins: relays read them "at the end".
_ORIENTATION = re.compile(
    r"(?P<landscape>横屏|宽屏|16\s*[:：]\s*9|landscape)|(?P<portrait>竖屏|窄屏|9\s*[:：]\s*16|portrait)",
    re.IGNORECASE,
)
_SID = re.compile(r"\bsid\s*[:：]\s*`?(s_[0-9a-f]{32})\b")


class BadRequest(ValueError):
    """A body the relay would answer with 400; ``param`` names the offending
    field.
    """

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One generation request: the new instruction and what it refers to."""

    model: str
    stream: bool
    prompt: str
    orientation: Orientation | None  # None: the prompt does not say
    image_url: str | None
    parent_sid: str | None
    fault: Fault | None


def orientation_from_prompt(prompt: str) -> Orientation | None:
    """``landscape`` or ``portrait`` from the prompt's words, None when it names
    neither.
    """
    found: Orientation | None = None
    for match in _ORIENTATION.finditer(prompt):
        found = "landscape" if match.group("landscape") else "portrait"
    return found


def model_orientation(model: str) -> Orientation | None:
    """The orientation a model name carries (``sora-video-10s`` was landscape),
    if any.
    """
    if "portrait" in model:
        return "portrait"
    if "landscape" in model or model.startswith("sora-video-"):
        return "landscape"
    return None


def media_model(model: str) -> str:
    """The emulator's rendering preset for any relay's model name: pro or
    not.
    """
    return "sora-2-pro" if "pro" in model else "sora-2"


class ChatReader(Protocol):
    """How one chat dialect reads a body (its file here, ``_transcript`` or
    ``_sora2api``).
    """

    def model(self, value: Any) -> str:
        """The model name, or ``BadRequest`` in the relay's own words."""
        ...

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages the relay reads."""
        ...

    def parent(
        self, messages: list[dict[str, Any]], obj: dict[str, Any], prompt: str
    ) -> str | None:
        """The share id of the video an edit remixes, if it is one."""
        ...

    def clean(self, prompt: str, image_url: str | None) -> tuple[str, str | None]:
        """The prompt and image as the relay keeps them."""
        ...


def parse_chat_request(body: bytes, fault_header: str | None, reader: ChatReader) -> ChatRequest:
    """Validate a ``POST /v1/chat/completions`` body; raise BadRequest as the
    relay would.
    """
    obj = _json_object(body)
    model = reader.model(obj.get("model"))
    stream = obj.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("`stream` must be true or false.", param="stream")
    messages = reader.messages(_messages(obj.get("messages")))
    text, image_url = _last_user_content(messages)
    prompt, tag = strip_fault_tag(text)
    if not prompt and image_url is None:
        raise BadRequest("The last user message has no prompt: send some text.", param="messages")
    parent = reader.parent(messages, obj, prompt)
    prompt, image_url = reader.clean(prompt, image_url)
    return ChatRequest(
        model=model,
        stream=stream,
        prompt=prompt,
        orientation=model_orientation(model) or orientation_from_prompt(prompt),
        image_url=image_url,
        parent_sid=parent,
        fault=_fault(fault_header, tag),
    )


def sora2api_model(model: Any) -> str:
    """A sora2api model name, or its relay's refusal."""
    if not (isinstance(model, str) and _SORA2API_MODEL.match(model)):
        # The relay's own wording, from an HTTPException its handler caught.
        raise BadRequest(f"400: Invalid model: {model}", param="model", code="server_error")
    return model


def seed_model(model: Any) -> str:
    """One of the seed relay's two names, or its refusal."""
    if not isinstance(model, str) or model not in MODELS:
        raise BadRequest(
            f"Unknown model {model!r}: use 'sora-2' or 'sora-2-pro'.",
            param="model",
            code="model_not_found",
        )
    return model


def without_remix_id(prompt: str) -> str:
    """The prompt with the ``s_…`` id a sora2api relay remixes by taken out."""
    return " ".join(_REMIX_ID.sub("", prompt).split())


def remix_id(obj: dict[str, Any], prompt: str) -> str | None:
    target = obj.get("remix_target_id")
    if isinstance(target, str) and target:
        return target
    found = _REMIX_ID.search(prompt)
    return found.group(0) if found else None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except ValueError:
        raise BadRequest("The body is not valid JSON: send a chat-completions object.") from None
    if not isinstance(obj, dict):
        raise BadRequest("The body must be a JSON object with `model` and `messages`.")
    return obj


def _messages(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise BadRequest("`messages` must be a non-empty array of messages.", param="messages")
    for index, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(
                f"messages[{index}] must be an object with a `role`.", param="messages"
            )
        if not isinstance(message.get("content"), str | list):
            raise BadRequest(
                f"messages[{index}].content must be a string or an array of parts.",
                param="messages",
            )
    return value


def _last_user_content(messages: list[dict[str, Any]]) -> tuple[str, str | None]:
    for message in reversed(messages):
        if message["role"] == "user":
            return _split_content(message["content"])
    raise BadRequest("`messages` has no user message: add the prompt as one.", param="messages")


def _split_content(content: str | list[Any]) -> tuple[str, str | None]:
    """The text of a message and its first image URL."""
    if isinstance(content, str):
        return content.strip(), None
    texts: list[str] = []
    image_url: str | None = None
    for part in content:
        if not isinstance(part, dict):
            raise BadRequest("A content part must be an object with a `type`.", param="messages")
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") == "image_url" and image_url is None:
            image_url = _image_url(part.get("image_url"))
    return " ".join(text.strip() for text in texts if text.strip()), image_url


def _image_url(value: Any) -> str:
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise BadRequest("An image_url part needs `image_url.url`.", param="messages")
    return url


def last_sid(messages: list[dict[str, Any]]) -> str | None:
    for message in reversed(messages):
        if message["role"] != "assistant":
            continue
        content = message["content"]
        text = content if isinstance(content, str) else _split_content(content)[0]
        sids = _SID.findall(text)
        if sids:
            return str(sids[-1])
    return None


def _fault(header: str | None, tag: str | None) -> Fault | None:
    spec = header if header and header.strip() else tag
    if spec is None:
        return None
    try:
        return parse_fault(spec)
    except ValueError as exc:
        raise BadRequest(str(exc), param="fault") from None
