"""Which gateway a base URL is, from what costs nothing: the URL, then two GETs.

A paid POST is never a probe. An explicit ``dialect=`` always wins; without one
only the URL is read. ``dialect="auto"`` also asks ``GET /api/v1/videos/models``
(OpenRouter's, with capabilities) and ``GET /v1/models`` (LiteLLM's header,
flow2api's owner, new-api's endpoint types). docs/dialects.md, "Recognition",
says what each answer looks like.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ._base import Relay

__all__ = ["by_get", "by_url", "from_models"]

_HOSTS = {"openrouter.ai": "openrouter", "api.x.ai": "xai"}


def by_url(base_url: str) -> str | None:
    """The gateway a well-known host is, else None."""
    try:
        host = httpx.URL(base_url).host
    except (httpx.InvalidURL, TypeError):
        return None
    return next((name for known, name in _HOSTS.items() if host == known or
                 host.endswith("." + known)), None)  # fmt: skip


async def by_get(relay: Relay) -> str | None:
    """The gateway that answers like one to free GETs (with the key, on its own
    origin).
    """
    found = by_url(relay.base_url)
    if found is not None:
        return found
    try:
        listing = await relay.get(relay.base_url + "/api/v1/videos/models")
        if listing.is_success and _lists_capabilities(_json(listing)):
            return "openrouter"
        response = await relay.get(relay.base_url + "/v1/models")
    except httpx.HTTPError:
        return None
    if not response.is_success:
        return None
    return from_models(response.headers, _json(response))


def _lists_capabilities(obj: dict[str, Any]) -> bool:
    data = obj.get("data")
    return isinstance(data, list) and any(
        isinstance(row, dict) and "supported_durations" in row for row in data
    )


def from_models(headers: httpx.Headers, obj: dict[str, Any]) -> str | None:
    """The gateway a ``/v1/models`` answer shows, else None."""
    if "x-litellm-version" in headers:
        return "litellm"
    rows = [row for row in obj.get("data") or [] if isinstance(row, dict)]
    owners = {str(row.get("owned_by") or "") for row in rows}
    if "flow2api" in owners:
        return "flow2api"
    if any("supported_endpoint_types" in row for row in rows):
        return "newapi"
    if any(str(row.get("id") or "").startswith("grok-imagine") for row in rows):
        return "grok2api"
    return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        obj = json.loads(response.text)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
