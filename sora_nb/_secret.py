"""The API key as a secret: masked wherever it is shown, read only where the
header is built.

The key travels as a ``Secret`` from the environment or the magic's settings to
the one place that reads it, ``BearerAuth.auth_flow``; so a repr, a ``%config``
listing or an ``%xmode Verbose`` traceback shows ``sk-…abcd``, never the key.
Text that came from the relay (error pages, failure lines, transcripts, status
JSON) is redacted of the key before it is stored or shown, in case the relay
echoes the bearer token back (docs/protocol.md, "Promises"). The key is sent
only to the relay's own origin, compared in httpx's normalised form.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Generator
from functools import lru_cache
from typing import Any

import httpx

from ._messages import t

__all__ = [
    "BearerAuth",
    "MessageRedactor",
    "Redactor",
    "Secret",
    "mask",
    "origin",
    "redact",
    "shown_url",
]

#: Keys shorter than this are not redacted from relay text: a 3-letter test key
#: such as ``any`` would mangle every word holding it, and is no secret.
MIN_REDACTED = 6


def mask(value: str | None) -> str:
    """``sk-…abcd``: enough to tell keys apart, never enough to use one."""
    if not value:
        return ""
    return "***" if len(value) < 12 else f"{value[:3]}…{value[-4:]}"


class Secret:
    """A str-like holder of an API key whose repr, str and format are masked."""

    __slots__ = ("__value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(t("secret.not_str", kind=type(value).__name__))
        self.__value = value

    @classmethod
    def of(cls, value: str | Secret | None) -> Secret | None:
        """``value`` as a Secret, stripped; None for None or an empty key."""
        if value is None or isinstance(value, Secret):
            return value or None
        return cls(value.strip()) if value.strip() else None

    def reveal(self) -> str:
        """The key itself: only for building the ``Authorization`` header."""
        return self.__value

    def __repr__(self) -> str:
        return f"<secret {mask(self.__value)}>"

    def __str__(self) -> str:
        return mask(self.__value)

    def __format__(self, spec: str) -> str:
        return format(mask(self.__value), spec)

    def __bool__(self) -> bool:
        return bool(self.__value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            other = other.reveal()
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(self.__value.encode(), other.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self.__value))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: Any) -> Secret:
        return self

    def __reduce__(self) -> Any:
        raise TypeError(t("secret.no_pickle"))

    def redact(self, text: str) -> str:
        """``text`` with every copy of the key replaced by its mask, also a copy
        written JSON-escaped (``\\u0073k-…``, ``\\/``), so raw JSON can be
        masked before decoding.
        """
        value = self.__value
        if len(value) < MIN_REDACTED:
            return text
        if value in text:
            text = text.replace(value, mask(value))
        if "\\" in text:
            text = _escaped_pattern(value).sub(mask(value), text)
        return text


@lru_cache(maxsize=8)
def _escaped_pattern(key: str) -> re.Pattern[str]:
    """The key with any of its characters written as a JSON escape (``\\u00XX``,
    ``\\/``).
    """
    return re.compile("".join(_escaped_char(char) for char in key))


def _escaped_char(char: str) -> str:
    digits = "".join(f"[{d.lower()}{d.upper()}]" for d in f"{ord(char):04x}")
    forms = [re.escape(char), r"\\u" + digits]
    if char in '/"\\':
        forms.append(re.escape("\\" + char))
    return "(?:" + "|".join(forms) + ")"


def redact(text: str, secret: Secret | None) -> str:
    """``text`` with ``secret`` masked (unchanged when there is no key)."""
    return secret.redact(text) if secret is not None else text


class Redactor:
    """Redacts a stream of fragments, even when the key is split across two of
    them.

    A fragment's end that could be the start of the key is held back until the
    next fragment shows whether it is; any other text passes at once, so
    progress dots and status words are never delayed.
    """

    def __init__(self, secret: Secret | None) -> None:
        # a key too short to mask is never looked for
        short = secret is None or len(secret.reveal()) < MIN_REDACTED
        self._secret = None if short else secret
        self._held = ""

    def feed(self, fragment: str) -> str:
        """The redacted text that is safe to pass on now."""
        secret = self._secret
        if secret is None:
            return fragment
        text = secret.redact(self._held + fragment)
        keep = _key_prefix_at_end(text, secret.reveal())
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """Whatever was held back, at the end of the stream."""
        held, self._held = self._held, ""
        return held


class MessageRedactor:
    """Redacts a stream of whole messages (sora2api's ``reasoning_content``),
    even when a relay cuts the key across two of them.

    A message whose end could start the key is held back; if the next one
    completes the key, the two are one message (the relay cut it mid-word), else
    they pass as two.
    """

    def __init__(self, secret: Secret | None) -> None:
        self._secret = secret
        self._held = ""

    def feed(self, message: str) -> list[str]:
        """The redacted messages safe to pass on now."""
        secret = self._secret
        if secret is None or len(secret.reveal()) < MIN_REDACTED:
            return [message]
        key, held, self._held = secret.reveal(), self._held, ""
        joined = held + message
        if held and _key_prefix_at_end(joined, key) > len(message):
            self._held = joined  # the key may still go on in the next message
            return []
        if held and secret.redact(joined) != secret.redact(held) + secret.redact(message):
            # the key ran across both
            return self._pass(secret.redact(joined), key)
        out = [secret.redact(held)] if held else []
        return out + self._pass(secret.redact(message), key)

    def _pass(self, message: str, key: str) -> list[str]:
        if _key_prefix_at_end(message, key):
            self._held = message
            return []
        return [message]

    def flush(self) -> list[str]:
        """Whatever was held back, at the end of the stream."""
        held, self._held = self._held, ""
        return [held] if held else []


def shown_url(url: str) -> str:
    """``url`` as it may be shown: a password in it becomes ``***``."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):([^/?#@]*)@", url)
    if match is None:
        return url
    return f"{match.group(1)}:***@{url[match.end() :]}"


def _key_prefix_at_end(text: str, key: str) -> int:
    """The longest end of ``text`` that starts ``key`` (short of all of it)."""
    start = max(0, len(text) - len(key) + 1)
    at = text.find(key[0], start)
    while at >= 0:
        if key.startswith(text[at:]):
            return len(text) - at
        at = text.find(key[0], at + 1)
    return 0


def origin(url: str | httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port as httpx normalises them: case-folded, default port
    implied.

    User-info is not part of an origin, so ``https://u@relay.example:443`` is
    the same origin as ``https://RELAY.example``.
    """
    parsed = httpx.URL(url)
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    port = parsed.port if parsed.port is not None else default
    return parsed.scheme, parsed.host, port


class BearerAuth(httpx.Auth):
    """The key, on requests to the relay's own origin only; never in a repr."""

    def __init__(self, key: Secret, base_url: str) -> None:
        self._key = key
        self._origin = origin(base_url)

    @property
    def secret(self) -> Secret:
        """The key, still masked."""
        return self._key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin(request.url) == self._origin:
            # The only place the key is read: no local holds it (tracebacks).
            request.headers["Authorization"] = "Bearer " + self._key.reveal()
        yield request

    def __repr__(self) -> str:
        return "<BearerAuth ***>"
