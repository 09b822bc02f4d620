"""End to end in each dialect: the client against the emulator playing that kind
of relay.

Generate, edit (remix), a failure with the relay's reason, a broken stream or
poll that is recovered, and what a relay refuses, shown in one sentence
(docs/dialects.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sora_nb import (
    APIStatusError,
    CompletedEvent,
    GenerationFailed,
    InvalidRequest,
    ProgressEvent,
    Session,
    SoraClient,
    StatusEvent,
    StreamInterrupted,
    TaskEvent,
)
from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.records._ask import Ask

pytestmark = pytest.mark.anyio

KEY = "sk-dialects-e2e"


@pytest.fixture(scope="module")
def sora2api() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=500, dialect="sora2api") as server:
        yield server


@pytest.fixture(scope="module")
def videos() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=500, dialect="videos") as server:
        yield server


def client_for(server: EmulatorServer, **kwargs: object) -> SoraClient:
    return SoraClient(server.url, KEY, poll_interval=0.02, **kwargs)  # type: ignore[arg-type]


class Recorder(list[object]):
    def __call__(self, event: object) -> None:
        self.append(event)

    def kinds(self) -> list[str]:
        return [str(getattr(event, "type", "")) for event in self]


# -- sora2api chat: recognised from the stream, no setting ---------------------


async def test_sora2api_generate_and_remix(sora2api: EmulatorServer) -> None:
    events = Recorder()
    async with client_for(sora2api) as client:
        video = await client.generate(
            "a cow dancing", model="sora2-landscape-10s", orientation="portrait", on_event=events
        )
        assert video.model == "sora2-portrait-10s" and video.orientation == "portrait"
        assert video.sid is not None and video.sid.startswith("s_")
        assert "&sig=" in video.video_url and video.task_id
        assert {"task", "status", "progress", "completed"} <= set(events.kinds())
        edited = await client.edit(video, "put a halo on the cow")
    assert edited.sid not in (None, video.sid)
    with httpx.Client() as http:
        source = http.get(f"{sora2api.url}/source/{edited.task_id}").json()
    assert source["parent_sid"] == video.sid and source["prompt"] == "put a halo on the cow"
    assert source["orientation"] == "portrait"


async def test_sora2api_failure_carries_the_relays_reason(sora2api: EmulatorServer) -> None:
    async with client_for(sora2api) as client:
        with pytest.raises(GenerationFailed, match="content policy"):
            await client.generate("a cow [fault:content-policy]", model="sora2-portrait-10s")
        with pytest.raises(GenerationFailed, match="emulated upstream error"):
            await client.generate("a cow [fault:error-in-stream]", model="sora2-portrait-10s")


async def test_sora2api_broken_stream_is_recovered_by_task_id(sora2api: EmulatorServer) -> None:
    events = Recorder()
    async with client_for(sora2api) as client:
        video = await client.generate(
            "a windmill [fault:cut]", model="sora2-portrait-15s", on_event=events
        )
    assert "resuming" in [getattr(event, "phase", None) for event in events]
    assert video.video_url.endswith(".mp4") and video.task_id


async def test_sora2api_refuses_an_unknown_model_in_one_sentence(
    sora2api: EmulatorServer,
) -> None:
    async with client_for(sora2api) as client:
        with pytest.raises(APIStatusError) as info:
            await client.generate("a cow", model="sora-2")
    message = str(info.value)
    assert "Invalid model: sora-2" in message and "\n" not in message


async def test_sora2api_video_without_share_id_cannot_be_edited(
    sora2api: EmulatorServer,
) -> None:
    async with client_for(sora2api) as client:
        video = await client.generate("a cow", model="sora2-portrait-10s")
        from dataclasses import replace

        no_sid = replace(video, sid=None)
        with pytest.raises(InvalidRequest, match="share id"):
            await client.edit(no_sid, "more")


async def test_sora2api_session_downloads_a_signed_link_as_mp4_with_a_poster(
    sora2api: EmulatorServer, tmp_path: Path, isolated_sessions: None
) -> None:
    async with client_for(sora2api) as client:
        session = Session("sora2api", client=client, save_dir=str(tmp_path / "out"))
        video = await session.generate("a red kite", model="sora2-landscape-10s")
        await session.aclose()
    assert video.local_path is not None and video.local_path.endswith(".mp4")
    assert video.local_thumbnail is not None and video.local_thumbnail.endswith(".jpg")


# -- Videos task API: chosen with dialect="videos" -----------------------------


async def test_videos_generate_poll_content_and_remix(videos: EmulatorServer) -> None:
    events = Recorder()
    async with client_for(videos, dialect="videos") as client:
        video = await client.generate("a cow dancing", orientation="landscape", on_event=events)
        assert video.model == "sora-2-landscape-10s"
        assert video.video_url == f"{videos.url}/v1/videos/{video.task_id}/content"
        assert isinstance(events[1], TaskEvent)
        assert any(isinstance(e, StatusEvent) for e in events)
        assert any(isinstance(e, ProgressEvent) for e in events)
        assert isinstance(events[-1], CompletedEvent)
        edited = await client.edit(video, "put a halo on the cow")
    with httpx.Client() as http:
        source = http.get(f"{videos.url}/source/{edited.task_id}").json()
    assert source["parent_sid"] and source["parent_sid"].startswith("s_")
    assert source["turn"] == 2


async def test_a_duration_reaches_the_videos_relay_and_is_recorded(
    videos: EmulatorServer, tmp_path: Path, isolated_sessions: None
) -> None:
    async with client_for(videos, dialect="videos") as client:
        session = Session("seconds", client=client, download=False, autosave=tmp_path / "h.json")
        video = await session.generate("a cow", duration=15)
        # that relay reads it from the name
        assert video.model == "sora-2-portrait-15s"
        assert video.request.options == {"duration": 15}
        await session.aclose()
    reloaded = Session.load(tmp_path / "h.json", download=False)
    assert reloaded.turns[0].request.options == {"duration": 15}


async def test_a_batch_row_asks_for_a_duration_as_a_column(
    videos: EmulatorServer, isolated_sessions: None
) -> None:
    async with client_for(videos, dialect="videos") as client:
        session = Session("rows", client=client, download=False)
        rows = [{"prompt": "a cow", "duration": "15"}, {"prompt": "a hen", "duration": "x"}]
        results = await session.generate_many(rows, journal=False)
    assert results[0].model == "sora-2-portrait-15s"  # type: ignore[union-attr]
    assert "whole number of seconds" in str(results[1])


@pytest.mark.parametrize("seconds", ["ten", 0, "-3", True])
def test_a_duration_is_a_whole_number_of_seconds(seconds: object) -> None:
    with pytest.raises(InvalidRequest, match="whole number of seconds"):
        Ask.build("a cow", duration=seconds)
    assert Ask.build("a cow", duration="8s").duration == 8


async def test_videos_content_needs_the_key_and_gets_it(
    videos: EmulatorServer, tmp_path: Path, isolated_sessions: None
) -> None:
    async with client_for(videos, dialect="videos") as client:
        session = Session("videos", client=client, save_dir=str(tmp_path / "out"))
        video = await session.generate("a paper boat")
        await session.aclose()
    assert video.local_path is not None
    path = Path(video.local_path)
    path = path if path.is_absolute() else Path.cwd() / path
    assert path.read_bytes()[4:8] == b"ftyp"
    assert video.local_thumbnail is not None  # cut from the first frame


async def test_videos_failure_carries_the_relays_reason(videos: EmulatorServer) -> None:
    async with client_for(videos, dialect="videos") as client:
        with pytest.raises(GenerationFailed, match="内容违规"):
            await client.generate("a cow [fault:content-policy]")


async def test_videos_broken_polls_are_resumed(videos: EmulatorServer) -> None:
    events = Recorder()
    async with client_for(videos, dialect="videos") as client:
        video = await client.generate("a windmill [fault:cut]", on_event=events)
    assert "resuming" in [getattr(event, "phase", None) for event in events]
    assert video.task_id


async def test_videos_lost_task_is_kept_and_resumed_later(videos: EmulatorServer) -> None:
    async with client_for(videos, dialect="videos", deadline=0.0) as client:
        with pytest.raises(StreamInterrupted) as info:
            await client.generate("a slow cow")
    pending = info.value.pending
    assert pending is not None and pending.task_id
    async with client_for(videos, dialect="videos") as client:
        video = await client.resume(pending)
        again = await client.resume(pending.task_id)
    assert video.video_url == again.video_url
    assert video.video_url.endswith(f"/v1/videos/{pending.task_id}/content")


async def test_videos_refusals_in_one_sentence(videos: EmulatorServer) -> None:
    async with client_for(videos, dialect="videos") as client:
        with pytest.raises(APIStatusError) as info:
            await client.generate("a cow", model="sora-2-portrait")
    assert "未找到时长" in str(info.value) and "\n" not in str(info.value)
    # the wrong dialect: that relay has no chat
    async with client_for(videos) as chat:
        with pytest.raises(APIStatusError, match="404"):
            await chat.generate("a cow")


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="dialect"):
        SoraClient("http://127.0.0.1:9", KEY, dialect="grpc")


def test_dialect_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_DIALECT", "videos")
    assert SoraClient("http://127.0.0.1:9", KEY).dialect == "videos"
    monkeypatch.setenv("SORA_DIALECT", "")
    assert SoraClient("http://127.0.0.1:9", KEY).dialect == "chat"


class _ImageHost(httpx.AsyncBaseTransport):
    """An https image host in front of the real network (the emulator on
    loopback).
    """

    def __init__(self, image: bytes) -> None:
        self.image = image
        self.headers: list[httpx.Headers] = []
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "images.example":
            return await self._real.handle_async_request(request)
        self.headers.append(request.headers)
        if request.url.path == "/gone.png":
            return httpx.Response(404)
        return httpx.Response(200, content=self.image, headers={"content-type": "image/png"})

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_sora2api_image_link_goes_inline(sora2api: EmulatorServer) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 200, 0)).save(buffer, format="PNG")
    host = _ImageHost(buffer.getvalue())
    async with client_for(sora2api, transport=host) as client:
        video = await client.generate(
            "a dog", model="sora2-portrait-10s", image="https://images.example/dog.png"
        )
        with pytest.raises(InvalidRequest, match="Could not fetch the image"):
            await client.generate(
                "a dog", model="sora2-portrait-10s", image="https://images.example/gone.png"
            )
    assert video.image is not None and video.image.startswith("data:image/png;base64,")
    assert all("authorization" not in headers for headers in host.headers)


# -- model names (pure) --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "orientation", "sent", "shape", "seconds"),
    [
        pytest.param("sora-2", None, "sora-2", None, 10, id="seed"),
        pytest.param("sora-2-pro", "landscape", "sora-2-pro", "landscape", 15, id="seed-words"),
        pytest.param("sora2-landscape-10s", "portrait", "sora2-portrait-10s", "portrait", 10),
        pytest.param("sora2pro-hd-portrait-15s", None, "sora2pro-hd-portrait-15s", "portrait", 15),
        pytest.param("sora-video-15s", "portrait", "sora-video-portrait-15s", "portrait", 15),
        pytest.param(
            "sora-2-pro-landscape-hd-25s", "portrait", "sora-2-pro-portrait-hd-25s", "portrait", 25
        ),
        pytest.param("my-relay-model", "portrait", "my-relay-model", "portrait", None, id="free"),
    ],
)
def test_model_names_map_to_orientation_and_duration(
    model: str, orientation: str | None, sent: str, shape: str | None, seconds: int | None
) -> None:
    from sora_nb.dialects._shape import model_info, prepare

    turn = prepare("a cow", model, orientation, None)
    assert (turn.model, turn.orientation) == (sent, shape)
    info = model_info(sent)
    assert (info.seconds if info else None) == seconds
    # Orientation words go into the prompt only where the name lacks them.
    named = info is not None and info.orientation is not None
    assert (turn.content == "a cow") == (named or shape is None)


def test_videos_api_names_for_the_seed_models() -> None:
    from sora_nb.dialects.videos import videos_model

    assert videos_model("sora-2", None) == "sora-2-portrait-10s"
    assert videos_model("sora-2-pro", "landscape") == "sora-2-pro-landscape-hd-15s"
    assert videos_model("sora-2-landscape-25s", "portrait") == "sora-2-landscape-25s"


def test_studio_offers_a_relays_own_model_name() -> None:
    from sora_nb.notebook._magic import SoraMagics
    from sora_nb.notebook._studio import Studio

    magics = SoraMagics(shell=None)
    magics.model = "sora2-landscape-10s"
    studio = Studio(magics)
    assert studio.widget.settings["model"] == "sora2-landscape-10s"
    names = [model["name"] for model in studio.widget.models]
    assert "sora-2" in names and "sora2-landscape-10s" in names
    # Its name carries the shape, so the menu offers no shape control for it.
    (chosen,) = [m for m in studio.widget.models if m["name"] == "sora2-landscape-10s"]
    assert "orientation" not in chosen["controls"]
    studio.close()


async def test_videos_client_reads_the_recorded_answers() -> None:
    """The relay's own answers (tests/fixtures/videos), served by a stand-in
    transport.
    """
    import json

    from .conftest import SEED

    folder = SEED.parent / "videos"
    answers = {
        name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        for name in ("create", "status_queued", "status_in_progress", "status_completed")
    }
    polls = iter(["status_queued", "status_in_progress", "status_completed"])

    def handler(request: httpx.Request) -> httpx.Response:
        name = "create" if request.method == "POST" else next(polls)
        return httpx.Response(answers[name]["status"], json=answers[name]["body"])

    events = Recorder()
    client = SoraClient(
        "https://relay.example",
        KEY,
        dialect="videos",
        poll_interval=0.0,
        transport=httpx.MockTransport(handler),
    )
    async with client:
        video = await client.generate("a cow", model="sora-2-landscape-10s", on_event=events)
    assert video.task_id == "task_3f9c2a1b"
    assert video.video_url == "https://relay.example/v1/videos/task_3f9c2a1b/content"
    assert [e for e in events if isinstance(e, ProgressEvent)] == [
        ProgressEvent(0),
        ProgressEvent(46),
    ]
    assert [e.status for e in events if isinstance(e, StatusEvent)] == ["queued", "generating"]


# -- a session file saved before videos recorded their dialect -----------------


def _without_dialect_fields(path: Path) -> None:
    """``path`` as an earlier sora_nb wrote it: videos hold no dialect,
    continuations, handle.
    """
    document = json.loads(path.read_text(encoding="utf-8"))
    for turn in document["turns"]:
        for key in ("dialect", "continuations", "handle"):
            (turn["video"] or {}).pop(key, None)
        turn["request"].pop("options", None)
    path.write_text(json.dumps(document), encoding="utf-8")


@pytest.mark.parametrize("kind", ["transcript", "sora2api", "videos"])
async def test_an_older_session_file_still_edits(
    kind: str,
    sora2api: EmulatorServer,
    videos: EmulatorServer,
    emulator: EmulatorServer,
    tmp_path: Path,
    isolated_sessions: None,
) -> None:
    server = {"transcript": emulator, "sora2api": sora2api, "videos": videos}[kind]
    model = "sora2-portrait-10s" if kind == "sora2api" else "sora-2"
    setting = "videos" if kind == "videos" else None
    path = tmp_path / "old.json"
    async with client_for(server, dialect=setting) as client:
        made = Session("old", client=client, download=False)
        first = await made.generate("a cow", model=model)
        # the schema 2 document older versions wrote, autosave included
        made.save(path)
        _without_dialect_fields(path)
        old = Session.load(path, client=client, download=False)
        video = old.latest()
        assert video is not None and video.dialect == kind and video.remixable
        assert (video.continuations, video.handle) == (first.continuations, first.handle)
        edited = await old.edit(video, "put a halo on the cow")
    assert edited.parent is not None and edited.dialect == kind
