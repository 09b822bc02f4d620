"""The LiteLLM proxy (BerriAI/litellm): OpenAI's Videos API in front of Veo,
Runway and more.

Exact model names (``gemini/veo-3.1-generate-preview``); ids are ``video_`` and
a base64 of provider, model and upstream id, often 250-330 characters; the file
is ``/v1/videos/{id}/content``; remix only where the provider has one
(docs/dialects.md).
"""

from __future__ import annotations

from typing import Any

from ..records._model import Request
from ..records._video import Video
from ._catalog import ContinuationKind
from ._gateway import Gateway, GatewayDialect, Route, openai_body

__all__ = ["GATEWAY"]


def _remix(request: Request, parent: Video | None) -> dict[str, Any]:
    return {"prompt": request.prompt}


def _remixes(model: str, kind: ContinuationKind) -> bool:
    # Only the OpenAI and Azure providers implement remix; the rest answer 500.
    return kind != "remix" or model.startswith(("openai/", "azure/", "sora"))


GATEWAY = Gateway(
    name="litellm",
    title="LiteLLM",
    create_path="/v1/videos",
    status_path="/v1/videos/{id}",
    body=openai_body,
    content_path="/v1/videos/{id}/content",
    routes={"remix": Route("/v1/videos/{id}/remix", _remix)},
    route_for_model=_remixes,
    no_field=("last_frame", "audio"),  # OpenAI's shape has no field for them
    # OpenAI's shape takes the image as a file
    file_fields=("input_reference",),
)


class LiteLLM(GatewayDialect):
    """LiteLLM as a dialect (``SoraClient(dialect="litellm")``)."""

    name = "litellm"
    title = "LiteLLM"
    gateway = GATEWAY
