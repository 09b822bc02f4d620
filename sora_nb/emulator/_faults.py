"""Fault injection: which fault a request asked for, and whether it still
applies.

A fault is named in the ``X-Sora-Fault`` header or by a ``[fault:NAME]`` tag in
the last user prompt. ``NAMExN`` limits it to the first N requests with the same
body, so a client's retries can be seen to succeed. The list of names is
documented in the package docstring.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from typing import Literal, get_args

from starlette.responses import HTMLResponse, JSONResponse, Response

__all__ = [
    "FAULT_NAMES",
    "HTTP_FAULTS",
    "Fault",
    "FaultCounter",
    "http_fault_response",
    "openai_error",
    "parse_fault",
    "strip_fault_tag",
    "unauthorized",
]

FaultName = Literal[
    "content-policy",
    "fail-json",
    "cut",
    "no-video",
    "401",
    "429",
    "500",
    "502",
    "503",
    "error-in-stream",
    "slow-queue",
    "slow-progress",
    "expired",
    "one-time-link",
    "synonyms",
    "no-openai-video",
]
FAULT_NAMES: tuple[FaultName, ...] = get_args(FaultName)
# Answered before any task exists; the others act on the task or on its stream.
HTTP_FAULTS = frozenset({"401", "429", "500", "502", "503"})

_SPEC = re.compile(r"^\s*(?P<name>[a-z0-9-]+?)(?:x(?P<times>\d+))?\s*$", re.IGNORECASE)
_TAG = re.compile(r"\s*\[fault:(?P<spec>[^\]]*)\]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Fault:
    """A requested fault; ``times`` is None when it applies to every request."""

    name: FaultName
    times: int | None = None


def parse_fault(spec: str) -> Fault:
    """``"429x2"`` -> ``Fault("429", 2)``; raise ValueError naming the known
    faults.
    """
    match = _SPEC.match(spec)
    name = match.group("name").lower() if match else spec
    for known in FAULT_NAMES:
        if name == known:
            times = match.group("times") if match else None
            return Fault(known, int(times) if times else None)
    names = ", ".join(FAULT_NAMES)
    raise ValueError(f"Unknown fault {spec.strip()!r}: use one of {names}, optionally with xN.")


def strip_fault_tag(prompt: str) -> tuple[str, str | None]:
    """The prompt without its ``[fault:…]`` tags, and the last tag's spec if
    there was one.
    """
    specs = [match.group("spec") for match in _TAG.finditer(prompt)]
    if not specs:
        return prompt, None
    return _TAG.sub("", prompt).strip(), specs[-1]


class FaultCounter:
    """Counts requests per (fault, body) so ``NAMExN`` stops applying after N of
    them.
    """

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def applies(self, fault: Fault, body: bytes) -> bool:
        """Whether ``fault`` applies to this request (and count it if it
        does).
        """
        if fault.times is None:
            return True
        key = hashlib.sha256(fault.name.encode() + b"\0" + body).hexdigest()
        with self._lock:
            seen = self._seen.get(key, 0)
            if seen >= fault.times:
                return False
            self._seen[key] = seen + 1
            return True


def openai_error(
    status: int, message: str, *, type_: str, code: str | None, param: str | None = None
) -> JSONResponse:
    """An error in the shape OpenAI-style clients parse: ``{"error": {message,
    type, …}}``.
    """
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


_HTML_STATUS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def http_fault_response(name: str) -> Response:
    """The answer of an HTTP-level fault (401, 429, 5xx), as a real gateway
    would send it.
    """
    if name == "401":
        return unauthorized()
    if name == "429":
        response = openai_error(
            429,
            "Rate limit reached for sora-2: please retry after 1 second (emulated fault).",
            type_="rate_limit_error",
            code="rate_limit_exceeded",
        )
        response.headers["Retry-After"] = "1"
        return response
    status = int(name)
    title = f"{status} {_HTML_STATUS[status]}"
    # Relays sit behind nginx; its error pages are what a client really gets on
    # a 5xx.
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return HTMLResponse(page, status_code=status)


def unauthorized() -> JSONResponse:
    """401 in OpenAI's shape; the message never repeats the key that was
    sent.
    """
    return openai_error(
        401,
        "Incorrect API key provided: send `Authorization: Bearer <key>` with a valid key.",
        type_="invalid_request_error",
        code="invalid_api_key",
    )
