"""new-api (QuantumNous/new-api): the OpenAI Videos shape in front of many
upstreams.

``POST /v1/videos`` with ``input_reference``; public ids ``task_…``; a finished
status with no link (the file is ``GET /v1/videos/{id}/content`` with the key);
``POST /v1/videos/{id}/remix`` where the upstream has one. Fields the OpenAI
shape lacks go in ``metadata``, which new-api hands to the upstream adaptor
(docs/dialects.md, "new-api"). Its own unified route, ``GET
/v1/video/generations/{id}``, wraps the task record as ``{"code": "success",
"data": {...}}``: a status URL on it (pasted, or polled when the OpenAI route
answers 501) is read the same way.
"""

from __future__ import annotations

from typing import Any

from ..records._model import Request
from ..records._video import Video
from ._catalog import ContinuationKind
from ._gateway import Gateway, GatewayDialect, Route, size_of

__all__ = ["GATEWAY"]


def _body(request: Request, parent: Video | None) -> dict[str, Any]:
    options = request.options
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
    if options.get("duration") is not None:
        body["seconds"] = str(options["duration"])
    size = size_of(options, request.orientation)
    if size:
        body["size"] = size
    if request.image:
        body["input_reference"] = request.image
    metadata = {
        key: value
        for key, value in (
            ("aspect_ratio", options.get("aspect_ratio")),
            ("resolution", options.get("resolution")),
            ("last_frame", options.get("last_frame")),
            ("generate_audio", options.get("audio")),
        )
        if value is not None
    }
    if metadata:
        body["metadata"] = metadata
    return body


def _remix(request: Request, parent: Video | None) -> dict[str, Any]:
    return {"prompt": request.prompt}


def _remixes(model: str, kind: ContinuationKind) -> bool:
    # Only OpenAI-shaped upstreams have a remix; Sora's names are what a relay
    # still maps.
    return kind != "remix" or model.startswith("sora")


GATEWAY = Gateway(
    name="newapi",
    title="new-api",
    create_path="/v1/videos",
    status_path="/v1/videos/{id}",
    body=_body,
    content_path="/v1/videos/{id}/content",
    routes={"remix": Route("/v1/videos/{id}/remix", _remix)},
    route_for_model=_remixes,
    # Its own route answers for every channel; the OpenAI one is 501 for a
    # channel that has no OpenAI shape (new-api's relay/relay_task.go).
    fallback_status_path="/v1/video/generations/{id}",
    file_fields=("input_reference",),
)


class NewAPI(GatewayDialect):
    """new-api as a dialect (``SoraClient(dialect="newapi")``)."""

    name = "newapi"
    title = "new-api"
    gateway = GATEWAY
