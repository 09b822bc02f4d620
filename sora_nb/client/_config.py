"""Where the relay is and which key to use: arguments, then the environment,
then the emulator.

With no ``SORA_BASE_URL`` the embedded emulator is started once per process on a
free loopback port, so the extension works offline and before anyone pays for a
key.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import httpx

from .._exceptions import InvalidRequest
from .._messages import t
from .._secret import Secret, shown_url

if TYPE_CHECKING:
    from ..emulator import EmulatorServer

__all__ = [
    "EMULATOR_API_KEY",
    "check_base_url",
    "embedded_emulator",
    "embedded_emulator_seconds",
    "env_api_key",
    "env_base_url",
    "env_dialect",
]

#: The token sent to the embedded emulator when no key is set (it accepts any
#: non-empty one).
EMULATOR_API_KEY = "sk-emulator"

#: About how long the embedded emulator takes a video at speed 1 (``Timing``).
EMULATOR_SECONDS = 5.0

_lock = threading.Lock()
_server: EmulatorServer | None = None


def env_base_url() -> str | None:
    """``$SORA_BASE_URL`` without a trailing slash; None if unset or empty."""
    value = os.environ.get("SORA_BASE_URL", "").strip()
    return value.rstrip("/") or None


def env_dialect() -> str | None:
    """``$SORA_DIALECT`` (docs/dialects.md), or None when unset."""
    return os.environ.get("SORA_DIALECT", "").strip().lower() or None


def check_base_url(url: str, what: str | None = None) -> str:
    """``url`` if it is an http(s) URL httpx can send to (a valid host and
    port), else refuse.
    """
    # never a password
    shown = shown_url(url)[:80] if isinstance(url, str) else url
    try:
        what = what or t("config.what_base_url")
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        detail = shown_url(str(exc)) if isinstance(url, str) else exc
        raise InvalidRequest(t("config.bad_url", what=what, url=shown, detail=detail)) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidRequest(t("config.not_http", what=what, url=shown))
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise InvalidRequest(t("config.bad_port", what=what, url=shown, port=parsed.port))
    return url


def env_api_key() -> Secret | None:
    """``$SORA_API_KEY`` as a masked ``Secret``, or None when unset or empty."""
    return Secret.of(os.environ.get("SORA_API_KEY"))


def embedded_emulator() -> EmulatorServer:
    """The process's embedded emulator, started on first use on a free loopback
    port.

    ``$SORA_EMULATOR_SPEED`` speeds it up (tests and headless runs use a high
    value).
    """
    global _server
    with _lock:
        if _server is None:
            from ..emulator import serve_in_thread

            _server = serve_in_thread(speed=_emulator_speed())
        return _server


def embedded_emulator_seconds() -> float:
    """About how long the embedded emulator takes per video, at its speed."""
    return EMULATOR_SECONDS / _emulator_speed()


def _emulator_speed() -> float:
    return float(os.environ.get("SORA_EMULATOR_SPEED", "1") or 1)
