"""Each gateway's recorded shapes (tests/fixtures/<gateway>/, written from its
code or docs) read by the client, and the emulator answering in the same shapes
(docs/dialects.md).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from sora_nb import GenerationFailed, ProgressEvent, SoraClient
from sora_nb.emulator import serve_in_thread

from .conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
BASE = "https://gateway.example"
TASK_GATEWAYS = ["newapi", "litellm", "openrouter", "xai", "grok2api", "reseller"]
MODELS = {"newapi": "veo-3.1-generate-preview", "litellm": "runwayml/gen4_turbo",
          "openrouter": "google/veo-3.1", "xai": "grok-imagine-video",
          "grok2api": "grok-imagine-video", "reseller": "kling-v2-1"}  # fmt: skip


def flow(gateway: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / gateway / "flow.json").read_text("utf-8"))
    return data


def replay(gateway: str, polls: list[dict[str, Any]]) -> tuple[httpx.MockTransport, list[str]]:
    """The gateway's create answer, then its polls in order, over a mock
    transport.
    """
    recorded = flow(gateway)["create"]
    answers = list(polls)
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            headers = recorded.get("headers", {})
            return httpx.Response(recorded["status"], json=recorded["body"], headers=headers)
        return httpx.Response(200, json=answers.pop(0) if len(answers) > 1 else answers[0])

    return httpx.MockTransport(handle), seen


def generate(gateway: str, transport: httpx.MockTransport, events: list[Any]) -> Any:
    async def go() -> Any:
        async with SoraClient(BASE, "sk-fixture", dialect=gateway, poll_interval=0.01,
                              transport=transport) as client:  # fmt: skip
            return await client.generate("a cow", model=MODELS[gateway], on_event=events.append)

    return asyncio.run(go())


@pytest.mark.parametrize("gateway", TASK_GATEWAYS)
def test_the_recorded_flow_ends_in_the_recorded_video(gateway: str) -> None:
    recorded = flow(gateway)
    transport, seen = replay(gateway, recorded["polls"])
    events: list[Any] = []
    video = generate(gateway, transport, events)
    expected = recorded["video"]
    assert video.video_url == (BASE + expected if expected.startswith("/") else expected)
    # the gateway's own create path
    assert seen[0] == f"POST {recorded['create']['path']}"
    percents = [e.percent for e in events if isinstance(e, ProgressEvent)]
    assert percents[0] == 0 and percents[-1] == 100 and percents == sorted(percents)


@pytest.mark.parametrize("gateway", TASK_GATEWAYS)
def test_the_recorded_failure_raises_its_reason(gateway: str) -> None:
    failed = flow(gateway)["failed"]
    transport, _ = replay(gateway, [failed])
    with pytest.raises(GenerationFailed) as caught:
        generate(gateway, transport, [])
    error = failed.get("error")
    reason = (error.get("message") if isinstance(error, dict) else error) or failed.get(
        "fail_reason"
    )
    assert (reason or failed["status"]) in str(caught.value)


def test_a_resellers_other_family_of_words_is_read() -> None:
    transport, _ = replay("reseller", flow("reseller")["other_family"])
    events: list[Any] = []
    video = generate("reseller", transport, events)
    assert video.video_url == "https://oss.example/out/task_8842.mp4"
    assert 35 in [e.percent for e in events if isinstance(e, ProgressEvent)]


@pytest.mark.parametrize(("name", "ends"), [("success", "completed"), ("failure", "failed")])
def test_flow2apis_recorded_streams(name: str, ends: str) -> None:
    body = (FIXTURES / "flow2api" / f"{name}.sse").read_bytes()

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async def go() -> Any:
        async with SoraClient(BASE, "sk-fixture", dialect="flow2api",
                              transport=httpx.MockTransport(handle)) as client:  # fmt: skip
            return await client.generate("a cow", model="veo_3_1_t2v_fast_landscape")

    if ends == "failed":
        with pytest.raises(GenerationFailed, match="PUBLIC_ERROR_UNSAFE_GENERATION"):
            asyncio.run(go())
        return
    video = asyncio.run(go())
    assert video.video_url.startswith("https://storage.googleapis.com/flow-output/abc.mp4?")
    assert "data-media-id='CAUSJGM0'" in video.transcript  # what extend needs


_OPTIONAL = {"generation_id", "usage", "seconds", "size", "completed_at", "progress", "error",
             "fail_reason", "polling_url"}  # fmt: skip


@pytest.mark.parametrize("gateway", TASK_GATEWAYS)
def test_the_emulator_answers_in_the_recorded_shape(gateway: str) -> None:
    """The emulator's finished status carries every key the recorded one has."""
    recorded = flow(gateway)["polls"][-1]
    with serve_in_thread(speed=400, dialect=gateway) as server:  # type: ignore[arg-type]
        events: list[Any] = []

        async def go() -> Any:
            async with SoraClient(server.url, "sk-x", dialect=gateway, poll_interval=0.05) as c:
                video = await c.generate("a cow", model=MODELS[gateway], on_event=events.append)
                assert video.task is not None and video.task.source_url
                response = await c._client().get(video.task.source_url, auth=c._auth)
                return response.json()

        live = asyncio.run(go())
    missing = set(recorded) - set(live) - _OPTIONAL
    assert not missing, missing
    if "video" in recorded:
        assert set(recorded["video"]) <= set(live["video"])


def test_flow2apis_emulated_stream_has_the_recorded_lines() -> None:
    recorded = (FIXTURES / "flow2api" / "success.sse").read_text("utf-8")
    with serve_in_thread(speed=400, dialect="flow2api") as server:
        body = {"model": "veo_3_1_t2v_fast_landscape", "stream": True,
                "messages": [{"role": "user", "content": "a cow"}]}  # fmt: skip
        live = httpx.post(f"{server.url}/v1/chat/completions", json=body,
                          headers={"Authorization": "Bearer sk-x"}, timeout=30).text  # fmt: skip
    for marker in ('"model": "flow2api"', "生成进度: ", "data-media-id=", '"finish_reason": "stop"',
                   "data: [DONE]"):  # fmt: skip
        assert marker in recorded and marker in live
