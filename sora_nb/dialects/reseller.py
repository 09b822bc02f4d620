"""Resellers on the OpenAI Videos shape, with their upstreams' words passed
through.

``POST /v1/videos`` as JSON; statuses such as
``Success``/``Fail``/``NOT_START``/``SUCCEEDED`` (the one table in ``_words``);
progress as 0-100, 0-1, ``"50%"`` or nothing; the result link in the status
answer, often one that expires (docs/dialects.md, "Resellers").
"""

from __future__ import annotations

from ._gateway import Gateway, GatewayDialect, openai_body

__all__ = ["GATEWAY"]


GATEWAY = Gateway(
    name="reseller",
    title="the reseller",
    create_path="/v1/videos",
    status_path="/v1/videos/{id}",
    body=openai_body,
    content_path="/v1/videos/{id}/content",
    no_field=("last_frame", "audio"),
)


class Reseller(GatewayDialect):
    """a reseller as a dialect (``SoraClient(dialect="reseller")``)."""

    name = "reseller"
    title = "a reseller"
    gateway = GATEWAY
