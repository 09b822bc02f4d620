"""The video gateways people run, one module each, on one small engine
(docs/dialects.md).

``GATEWAYS`` maps a dialect setting to its ``Gateway``; flow2api is a chat
dialect and lives with the chat parser (``flow2api`` here only names its models
and its extend).
"""

from __future__ import annotations

from . import grok2api, litellm, newapi, openrouter, reseller, xai
from ._catalog import CATALOG, Capabilities, capabilities_for
from ._gateway import Created, Gateway, GatewayAPI, GatewayDialect
from ._words import STATUS_WORDS, percent, phase

__all__ = [
    "CATALOG",
    "GATEWAYS",
    "GATEWAY_DIALECTS",
    "STATUS_WORDS",
    "Capabilities",
    "Created",
    "Gateway",
    "GatewayAPI",
    "capabilities_for",
    "percent",
    "phase",
]

GATEWAYS: dict[str, Gateway] = {
    gateway.name: gateway
    for gateway in (
        newapi.GATEWAY,
        litellm.GATEWAY,
        openrouter.GATEWAY,
        xai.GATEWAY,
        xai.GROK2API,
        reseller.GATEWAY,
    )
}

#: The same gateways as ``Dialect`` classes, for the client's registry.
GATEWAY_DIALECTS: dict[str, type[GatewayDialect]] = {
    cls.name: cls
    for cls in (
        newapi.NewAPI, litellm.LiteLLM, openrouter.OpenRouter, xai.XAI, grok2api.Grok2api,
        reseller.Reseller,
    )
}  # fmt: skip
