"""What each gateway's own routes need of the client, against the emulator over
loopback: new-api's unified route, multipart uploads on the OpenAI Videos shape,
and xAI's continuations when the parent's link was good for one fetch only
(docs/dialects.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sora_nb import APIStatusError, ProgressEvent, Session, SoraClient
from sora_nb.emulator import EmulatorServer, serve_in_thread

from .test_gateway_fixtures import FIXTURES
from .test_gateways import KEY, MEADOW, plays

HEADERS = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=400, api_key=KEY, dialect=request.param) as server:
        yield server


def client(server: EmulatorServer, dialect: str, **extra: Any) -> SoraClient:
    return SoraClient(server.url, KEY, dialect=dialect, poll_interval=0.05, **extra)


# -- new-api's own route -------------------------------------------------------


@pytest.mark.parametrize("served", ["newapi"], indirect=True)
def test_a_task_made_on_new_apis_own_route_is_collected_by_its_id_or_url(
    served: EmulatorServer,
) -> None:
    body = {"model": "kling-v2-1", "prompt": "a kite over dunes", "duration": 5}
    made = httpx.post(f"{served.url}/v1/video/generations", json=body, headers=HEADERS)
    assert made.status_code == 200 and made.json()["object"] == "video"
    task_id = made.json()["task_id"]
    unified = f"{served.url}/v1/video/generations/{task_id}"

    async def go() -> tuple[Any, Any, list[int]]:
        seen: list[int] = []
        async with client(served, "newapi") as c:
            by_url = await c.resume(unified, on_event=lambda e: seen.append(e.percent)
                                    if isinstance(e, ProgressEvent) else None)  # fmt: skip
            return by_url, await c.resume(task_id), seen

    by_url, by_id, seen = asyncio.run(go())
    # its result_url
    assert by_url.video_url == f"{served.url}/v1/videos/{task_id}/content"
    # the record's model, for a task resumed by its URL
    assert by_url.model == "kling-v2-1"
    assert by_id.video_url == by_url.video_url
    assert seen[-1] == 100
    # collected, never re-sent
    assert served.app.state.emulator.paid["a kite over dunes"] == 1
    record = httpx.get(unified, headers=HEADERS).json()
    assert record["code"] == "success" and record["data"]["status"] == "SUCCESS"


@pytest.mark.parametrize("served", ["newapi"], indirect=True)
def test_a_channel_without_an_openai_status_is_followed_on_new_apis_own_route(
    served: EmulatorServer,
) -> None:
    seen: list[int] = []

    async def go() -> Any:
        async with client(served, "newapi") as c:
            return await c.generate(
                "a lighthouse [fault:no-openai-video]", model="kling-v2-1",
                on_event=lambda e: seen.append(e.percent) if isinstance(e, ProgressEvent) else None,
            )  # fmt: skip

    video = asyncio.run(go())
    task_id = video.task.task_id
    assert httpx.get(f"{served.url}/v1/videos/{task_id}", headers=HEADERS).status_code == 501
    assert video.video_url == f"{served.url}/v1/videos/{task_id}/content"
    assert seen[0] == 0 and seen[-1] == 100 and seen == sorted(seen)
    assert served.app.state.emulator.paid["a lighthouse"] == 1


def test_new_apis_recorded_task_record_is_read() -> None:
    """tests/fixtures/newapi/unified.json, written from new-api's task
    record.
    """
    recorded = json.loads((FIXTURES / "newapi" / "unified.json").read_text("utf-8"))
    polls = list(recorded["polls"])

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/video/generations/task_9Kq2"
        return httpx.Response(200, json=polls.pop(0) if len(polls) > 1 else polls[0])

    seen: list[int] = []

    async def go() -> Any:
        async with SoraClient(
            "https://gateway.example",
            "sk-fixture",
            dialect="newapi",
            poll_interval=0.01,
            transport=httpx.MockTransport(handle),
        ) as c:
            return await c.resume(
                "https://gateway.example/v1/video/generations/task_9Kq2",
                on_event=lambda e: seen.append(e.percent) if isinstance(e, ProgressEvent) else None,
            )  # fmt: skip

    video = asyncio.run(go())
    assert video.video_url == recorded["polls"][-1]["data"]["result_url"]
    assert 30 in seen and seen[-1] == 100


@pytest.mark.parametrize("served", ["newapi"], indirect=True)
def test_an_unknown_id_on_new_apis_own_route_says_so(served: EmulatorServer) -> None:
    async def go() -> None:
        async with client(served, "newapi") as c:
            await c.resume(f"{served.url}/v1/video/generations/task_nothere")

    with pytest.raises(APIStatusError, match="task_not_exist"):
        asyncio.run(go())


# -- multipart uploads on the OpenAI Videos shape ------------------------------


@pytest.mark.parametrize(
    ("served", "model"),
    [("newapi", "kling-v2-1"), ("litellm", "runwayml/gen4_turbo")],
    indirect=["served"],
)
def test_a_local_image_goes_as_a_file_part(
    served: EmulatorServer, model: str, tmp_path: Path
) -> None:
    async def go() -> Any:
        async with client(served, served.app.state.emulator.dialect) as c:
            video = await c.generate("the meadow wakes", model=model, image=MEADOW,
                                     duration=5, aspect_ratio="16:9")  # fmt: skip
            return video, await c.download(video.video_url, tmp_path / "out.mp4")

    video, path = asyncio.run(go())
    size = MEADOW.stat().st_size
    # sent once
    assert served.app.state.uploads == [("input_reference", "image/png", size)]
    assert served.app.state.emulator.paid["the meadow wakes"] == 1
    assert video.request.options == {"duration": 5, "aspect_ratio": "16:9"}
    assert plays(path) > 10


@pytest.mark.parametrize("served", ["newapi"], indirect=True)
def test_new_apis_gate_on_a_multipart_create_waits_and_pays_once(served: EmulatorServer) -> None:
    prompts = [f"upload under the gate {n}" for n in range(5)]

    async def go() -> list[Any]:
        async with client(served, "newapi", max_retries=8) as c:
            return await asyncio.gather(
                *(c.generate(p, model="kling-v2-1", image=MEADOW) for p in prompts)
            )

    assert len(asyncio.run(go())) == 5
    state = served.app.state
    # some creates were answered 429 and sent again later
    assert state.gated > 0
    assert all(state.emulator.paid[p] == 1 for p in prompts)
    # each 429'd form was read, none paid
    assert len(state.uploads) == 5 + state.gated


@pytest.mark.parametrize("served", ["newapi"], indirect=True)
def test_the_emulator_refuses_a_file_part_that_is_no_image(served: EmulatorServer) -> None:
    form = {"model": "kling-v2-1", "prompt": "a cow"}
    files = {"input_reference": ("cow.png", b"not a picture", "image/png")}
    answer = httpx.post(f"{served.url}/v1/videos", data=form, files=files, headers=HEADERS)
    assert answer.status_code == 400 and "not an image" in answer.json()["error"]["message"]
    assert sum(served.app.state.emulator.paid.values()) == 0


# -- xAI: continuing a video whose link was good for one fetch -----------------


@pytest.mark.parametrize("served", ["xai"], indirect=True)
def test_an_xai_edit_sends_the_local_copy_when_the_link_was_one_time(
    served: EmulatorServer, tmp_path: Path
) -> None:
    async def go() -> tuple[Any, Any]:
        async with client(served, "xai") as c:
            session = Session("waves", client=c, save_dir=tmp_path)
            first = await session.generate("a wave [fault:one-time-link]",
                                           model="grok-imagine-video")  # fmt: skip
            assert first.local_path is not None  # its one fetch made the copy
            return first, await session.edit(first, "the wave at night", how="edit")

    first, second = asyncio.run(go())
    state = served.app.state
    # the parent's link is spent
    assert httpx.get(first.video_url).status_code == 410
    assert state.inline_parents == 1 and second.request.options["how"] == "edit"
    assert state.emulator.paid["the wave at night"] == 1
    assert state.links.keyed == 0  # the key never went to the links' origin


@pytest.mark.parametrize("served", ["xai"], indirect=True)
def test_an_xai_extension_without_a_copy_sends_the_link_its_status_gives_now(
    served: EmulatorServer,
) -> None:
    async def go() -> tuple[Any, Any]:
        async with client(served, "xai") as c:
            first = await c.generate("a cliff [fault:one-time-link]", model="grok-imagine-video")
            # someone used its one fetch
            assert httpx.get(first.video_url).status_code == 200
            return first, await c.edit(first, "the cliff crumbles", how="extend", duration=6)

    first, second = asyncio.run(go())
    state = served.app.state
    assert state.inline_parents == 0 and second.parent is first
    assert second.video_url.split("?")[0] != first.video_url.split("?")[0]
    assert state.emulator.paid["the cliff crumbles"] == 1


@pytest.mark.parametrize("served", ["xai"], indirect=True)
def test_the_emulated_xai_refuses_a_spent_one_time_link(served: EmulatorServer) -> None:
    async def go() -> Any:
        async with client(served, "xai") as c:
            return await c.generate("a dune [fault:one-time-link]", model="grok-imagine-video")

    first = asyncio.run(go())
    assert httpx.get(first.video_url).status_code == 200
    body = {"model": "grok-imagine-video", "prompt": "more", "video": {"url": first.video_url}}
    answer = httpx.post(f"{served.url}/v1/videos/edits", json=body, headers=HEADERS)
    assert answer.status_code == 400 and "expired" in answer.json()["error"]["message"]
