"""Session and Turn: history, branching, resume in place, persistence, batch
jobs.

Against the real emulator on a loopback port, except the seed test, which
replays the seed's own streams through the scripted relay so the request can be
compared byte for byte.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sora_nb import (
    AuthenticationError,
    Event,
    GenerationFailed,
    InvalidRequest,
    JobEvent,
    Request,
    SoraClient,
    StreamInterrupted,
    Task,
    TaskEvent,
    Video,
)
from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.session._history import SCHEMA_VERSION, Session, SessionFileError, Turn, get_session

from .conftest import SEED
from .scripted import Script, ScriptedRelay, Step, json_script, serve, sse_script

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_sessions")]

KEY = "sk-test-SECRET-history-0123456789"
FIRST_PROMPT = "生成一段高清的，牛马跳舞的视频"
EDIT_PROMPT = "让牛的头上顶着光圈，马的脚下踩着祥云"
FIRST = (SEED / "first_turn.content.md").read_text(encoding="utf-8")
EDIT = (SEED / "edit_stream.content.md").read_text(encoding="utf-8")
EDIT_REQUEST = json.loads((SEED / "edit_request.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def relay() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=50) as server:
        yield server


@pytest.fixture
def scripted() -> Iterator[tuple[ScriptedRelay, str]]:
    app = ScriptedRelay()
    for url in serve(app):
        yield app, url


@pytest.fixture
async def client(relay: EmulatorServer) -> AsyncIterator[SoraClient]:
    async with SoraClient(base_url=relay.url, api_key=KEY, poll_interval=0.05) as client:
        yield client


@pytest.fixture
def session(client: SoraClient, request: pytest.FixtureRequest) -> Session:
    return Session(request.node.name, client=client)


class Recorder:
    """An on_event callback that keeps what it saw."""

    def __init__(self) -> None:
        self.events: list[Event | JobEvent] = []
        self.task = asyncio.Event()

    def __call__(self, event: Event | JobEvent) -> None:
        self.events.append(event)
        if isinstance(event, TaskEvent):
            self.task.set()

    def phases(self) -> list[str]:
        return [event.phase for event in self.events if isinstance(event, JobEvent)]


# -- the seed: an edit's request rebuilt exactly from its first turn -----------


def test_next_messages_rebuild_the_seed_edit_request() -> None:
    first = Video(
        Request(
            FIRST_PROMPT, "sora-2", "portrait", None, [{"role": "user", "content": FIRST_PROMPT}]
        ),
        Task("task_01k7dzptgwf2z87wj2c3t36qk0"),
        sid="s_68ec8accd80c8191ae1fc957af78caaa",
        video_url="https://filesystem.site/cdn/20251013/5781a601c5ce5e216e914fef119c99.mp4",
        transcript=FIRST,
    )
    assert first.next_messages(EDIT_PROMPT) == EDIT_REQUEST["messages"]


async def test_session_edit_sends_the_seed_request_exactly(
    scripted: tuple[ScriptedRelay, str],
) -> None:
    app, url = scripted
    app.scripts += [sse_script(FIRST, piece=3), sse_script(EDIT, piece=5)]
    async with SoraClient(base_url=url, api_key=KEY) as client:
        session = Session("seed", client=client, download=False)
        first = await session.generate(FIRST_PROMPT)
        assert first.transcript == FIRST
        assert session.turn(0).messages == [{"role": "user", "content": FIRST_PROMPT}]
        edited = await session.edit(first, EDIT_PROMPT)
    assert json.dumps(app.requests[1], sort_keys=True) == json.dumps(EDIT_REQUEST, sort_keys=True)
    assert edited.messages == EDIT_REQUEST["messages"]
    assert (edited.parent, session.turn(1).parent) == (first, 0)
    assert edited.sid == "s_68eca3f141808191b1fd30fea1b731bd"
    assert edited.echo == {
        "prompt": EDIT_PROMPT,
        "orientation": "portrait",
        "sid": "s_68ec8accd80c8191ae1fc957af78caaa",
    }


async def test_saved_history_still_rebuilds_the_seed_request(
    scripted: tuple[ScriptedRelay, str], tmp_path: Path
) -> None:
    app, url = scripted
    app.scripts += [sse_script(FIRST), sse_script(EDIT), sse_script(EDIT)]
    async with SoraClient(base_url=url, api_key=KEY) as client:
        session = Session("seed-saved", client=client, download=False)
        await session.generate(FIRST_PROMPT)
        session.save(tmp_path / "history.json")
        loaded = Session.load(tmp_path / "history.json", client=client, download=False)
        await loaded.edit(0, EDIT_PROMPT)
        await loaded.edit(1, "再加一只鸭子")
    assert app.requests[1] == EDIT_REQUEST
    reloaded = Session.load(loaded.save(tmp_path / "again.json"))
    assert reloaded.turns == loaded.turns
    assert reloaded.turn(2).messages == app.requests[2]["messages"]


# -- branches ------------------------------------------------------------------


async def test_editing_an_older_turn_branches(session: Session) -> None:
    root = await session.generate("a cow and a horse dancing")
    halo = await session.edit(root, "put a halo on the cow")
    snow = await session.edit(0, "make it snow")
    clouds = await halo.edit("add clouds under the horse")
    assert [turn.parent for turn in session.turns] == [None, 0, 0, 1]
    assert snow.messages == root.next_messages("make it snow")
    assert halo.transcript not in json.dumps(snow.messages, ensure_ascii=False)
    assert clouds.messages == halo.next_messages("add clouds under the horse")
    assert clouds.messages[:3] == halo.messages
    # The relay remixed the sid of each branch's own base.
    assert snow.echo is not None and snow.echo["sid"] == root.sid
    assert clouds.echo is not None and clouds.echo["sid"] == halo.sid
    assert clouds.parent == halo and clouds.parent.parent == root
    assert clouds.session is session and clouds.turn == 3


async def test_edit_defaults_to_the_latest_finished_turn(session: Session) -> None:
    await session.generate("a cow", name="cow")
    second = await session.generate("a horse")
    edited = await session.edit(None, "make it dance")
    assert session.turn(-1).parent == 1 and edited.parent == second
    by_name = await session.edit("cow", "make it sing")
    assert session.turn(-1).parent == 0
    assert session.video(by_name.task_id or "") == by_name == session.latest()
    assert session.video("cow").prompt == "a cow"


async def test_video_edit_goes_through_its_session(session: Session) -> None:
    video = await session.generate("a cow")
    edited = await video.edit("put a halo on the cow", save=False, name="halo")
    assert len(session.turns) == 2 and session.turn("halo").parent == 0
    assert edited.session is session and get_session(session.name) is not session


async def test_a_video_made_elsewhere_is_adopted_as_a_turn(
    session: Session, client: SoraClient
) -> None:
    outside = await client.generate("a cow")
    edited = await session.edit(outside, "put a halo on the cow")
    assert [turn.status for turn in session.turns] == ["done", "done"]
    assert session.turn(0).transcript == outside.transcript
    assert edited.messages == outside.next_messages("put a halo on the cow")


# -- failures, interrupts, resume ----------------------------------------------


async def test_invalid_requests_record_nothing(session: Session) -> None:
    with pytest.raises(InvalidRequest):
        await session.generate("   ")
    with pytest.raises(InvalidRequest):
        await session.generate("a cow", model="sora 3")
    with pytest.raises(InvalidRequest, match="no finished video"):
        await session.edit(None, "make it snow")
    assert session.turns == []


async def test_a_real_relay_without_a_key_records_nothing(relay: EmulatorServer) -> None:
    keyless = Session("keyless", client=SoraClient(base_url=relay.url))
    with pytest.raises(InvalidRequest, match="No API key"):
        await keyless.generate("a cow")
    assert keyless.turns == []


async def test_a_failed_turn_is_kept_but_never_an_edit_base(session: Session) -> None:
    done = await session.generate("a cow")
    seen = Recorder()
    with pytest.raises(GenerationFailed):
        await session.generate("a horse [fault:content-policy]", on_event=seen)
    failed = session.turn(1)
    assert failed.status == "failed" and failed.task_id and failed.error
    assert failed.video is None
    assert seen.phases()[-1] == "failed"
    with pytest.raises(InvalidRequest, match="failed"):
        await session.edit(1, "make it snow")
    with pytest.raises(InvalidRequest, match="failed"):
        session.video(failed.task_id)
    edited = await session.edit(None, "make it snow")
    assert session.turn(2).parent == 0 and edited.parent == done
    assert len(session.turns) == 3


async def test_an_interrupted_job_keeps_its_task_and_resumes_in_place(session: Session) -> None:
    seen = Recorder()
    job = asyncio.ensure_future(session.generate("a slow cow [fault:slow-queue]", on_event=seen))
    await seen.task.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    turn = session.turn(0)
    assert turn.status == "interrupted" and turn.task_id and turn.source_url
    assert seen.phases()[-1] == "interrupted"
    with pytest.raises(InvalidRequest, match="interrupted"):
        await session.edit(None, "make it snow")

    resumed = Recorder()
    video = await session.resume(on_event=resumed)
    assert len(session.turns) == 1 and session.turn(0).status == "done"
    assert (video.turn, video.task_id, video.prompt) == (0, turn.task_id, turn.prompt)
    assert "sid:" in video.transcript and video.local_path
    assert resumed.phases()[0] == "resuming" and resumed.phases()[-1] == "done"
    with pytest.raises(InvalidRequest, match="done"):
        await session.resume(0)


async def test_a_stream_interrupted_turn_resumes_by_task_id(relay: EmulatorServer) -> None:
    # The deadline passes in the slow queue, so polling cannot finish it either.
    async with (
        SoraClient(base_url=relay.url, api_key=KEY, deadline=0.3) as hasty,
        SoraClient(base_url=relay.url, api_key=KEY, poll_interval=0.05) as patient,
    ):
        session = Session("interrupted", client=hasty, download=False)
        seen = Recorder()
        with pytest.raises(StreamInterrupted):
            await session.generate("a cow [fault:slow-queue]", on_event=seen)
        turn = session.turn(0)
        assert turn.status == "interrupted" and turn.task_id
        assert seen.phases()[-1] == "interrupted"
        session.client = patient
        video = await session.resume(turn.task_id)
    assert session.turn(0).status == "done" and video.task_id == turn.task_id
    assert session.turn(0).started_at == turn.started_at


async def test_an_unknown_task_id_is_collected_as_a_new_turn(
    session: Session, client: SoraClient
) -> None:
    seen = Recorder()
    job = asyncio.ensure_future(client.generate("a cow [fault:slow-queue]", on_event=seen))
    await seen.task.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    task_id = next(e.task_id for e in seen.events if isinstance(e, TaskEvent))
    video = await session.resume(task_id)
    assert session.turn(0).status == "done" and video.task_id == task_id
    with pytest.raises(InvalidRequest):
        await session.resume("not a task")
    assert len(session.turns) == 1


# -- batch ---------------------------------------------------------------------


async def test_generate_many_keeps_every_turn_when_one_fails(session: Session) -> None:
    prompts = ["a cow", "a horse [fault:content-policy]", "a duck", "a goat", ""]
    results = await session.generate_many(prompts, concurrency=2, save=False)
    kinds = [type(result).__name__ for result in results]
    assert kinds == ["Video", "GenerationFailed", "Video", "Video", "InvalidRequest"]
    assert sorted(turn.prompt for turn in session.turns) == sorted(prompts[:4])
    statuses = {turn.prompt: turn.status for turn in session.turns}
    assert statuses["a horse [fault:content-policy]"] == "failed"
    assert [statuses[p] for p in ("a cow", "a duck", "a goat")] == ["done"] * 3
    assert all(isinstance(r, Video) and r.session is session for r in results[::2][:2])


# -- local copies --------------------------------------------------------------


async def test_finished_videos_are_copied_beside_the_notebook(
    session: Session, client: SoraClient
) -> None:
    seen = Recorder()
    video = await session.generate("a cow", on_event=seen)
    assert video.local_path == f"sora_outputs/{video.task_id}.mp4"
    assert video.local_thumbnail == f"sora_outputs/{video.task_id}.webp"
    remote = await client._client().get(video.video_url)
    assert Path(video.local_path).read_bytes() == remote.content
    assert Path(video.local_thumbnail).read_bytes()[8:12] == b"WEBP"
    downloading = [e for e in seen.events if isinstance(e, JobEvent) and e.phase == "downloading"]
    assert downloading[0].fraction == 0.0 and downloading[-1].fraction == 1.0
    assert seen.phases()[-1] == "done"
    assert not list(Path("sora_outputs").glob("*.part"))


async def test_copies_can_be_turned_off(client: SoraClient, tmp_path: Path) -> None:
    off = Session("no-copies", client=client, download=False)
    video = await off.generate("a cow")
    assert video.local_path is None and not Path("sora_outputs").exists()
    elsewhere = Session("elsewhere", client=client, save_dir=tmp_path / "media" / "clips")
    assert (await elsewhere.generate("a cow", save=False)).local_path is None
    copied = await elsewhere.generate("a horse")
    assert copied.local_path == f"media/clips/{copied.task_id}.mp4"


# -- persistence ---------------------------------------------------------------


async def test_save_and_load_round_trip(session: Session, tmp_path: Path) -> None:
    root = await session.generate("a cow", name="cow")
    await session.edit(root, "put a halo on the cow")
    with pytest.raises(GenerationFailed):
        await session.generate("a horse [fault:content-policy]")
    path = session.save(tmp_path / "history.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("sora_nb.session", SCHEMA_VERSION)
    loaded = Session.load(path)
    assert loaded.name == session.name and loaded.turns == session.turns
    assert loaded.video(1) == session.video(1) and loaded.video(1).parent == root
    assert loaded.video(1).session is loaded and get_session(session.name) is not loaded


async def test_the_file_never_holds_the_api_key(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_API_KEY", KEY)
    await session.generate("a cow")
    session.save(tmp_path / "history.json")
    text = (tmp_path / "history.json").read_text(encoding="utf-8")
    assert KEY not in text and "SECRET" not in text and "Bearer" not in text


async def test_autosave_survives_a_restart(client: SoraClient, tmp_path: Path) -> None:
    path = tmp_path / "autosave.json"
    first = Session("kernel", client=client, autosave=path)
    seen_on_disk: list[dict[str, Any]] = []

    def peek(event: Event | JobEvent) -> None:
        if isinstance(event, TaskEvent):  # recorded before the video exists
            # The autosave record: a change appends the turn as one line.
            seen_on_disk.append(json.loads(path.read_text(encoding="utf-8").splitlines()[-1]))

    await first.generate("a cow", on_event=peek)
    assert seen_on_disk[0]["status"] == "running" and seen_on_disk[0]["task"]["task_id"]
    restarted = Session("kernel", client=client, autosave=path)
    assert restarted.turns == first.turns
    await restarted.edit(0, "put a halo on the cow")
    assert len(Session.load(path).turns) == 2


async def test_a_running_turn_on_disk_loads_as_interrupted(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "crash.json"
    session.autosave = path
    seen = Recorder()
    job = asyncio.ensure_future(session.generate("a cow [fault:slow-queue]", on_event=seen))
    await seen.task.wait()
    crashed = path.read_text(encoding="utf-8")  # what a killed kernel leaves
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    path.write_text(crashed, encoding="utf-8")
    restored = Session.load(path, client=session.client)
    assert restored.turn(0).status == "interrupted" and restored.turn(0).task_id
    video = await restored.resume()
    assert restored.turn(0).status == "done" and video.turn == 0


async def test_an_image_is_stored_once_however_long_the_branch(
    session: Session, tmp_path: Path
) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 120, 40)).save(picture, "PNG")
    first = await session.generate("a dog running in this picture", image=picture.getvalue())
    assert first.image is not None and first.image.startswith("data:image/png;base64,")
    second = await first.edit("make it rain", save=False)
    await second.edit("make it night", save=False)
    text = session.save(tmp_path / "history.json").read_text(encoding="utf-8")
    # turn 0's image field and its request, nowhere else
    assert text.count(first.image) == 2
    loaded = Session.load(tmp_path / "history.json")
    assert loaded.turns == session.turns
    assert loaded.turn(2).messages[0]["content"][1]["image_url"]["url"] == first.image


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session("atomic")
    path = session.save(tmp_path / "history.json")
    before = path.read_bytes()
    session._turns.append(Turn(0, Request("a cow", "sora-2")))

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    # one sentence
    with pytest.raises(SessionFileError, match=f"{path}: No space left"):
        session.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param("{not json", "corrupt", id="not-json"),
        pytest.param(
            '{"format": "sora_nb.session", "version": 1, "turns": [{"index": 3}]}',
            "corrupt",
            id="bad-turn",
        ),
        pytest.param('{"format": "something else"}', "not a sora_nb session", id="foreign"),
        pytest.param(
            '{"format": "sora_nb.session", "version": "1"}', "no valid schema", id="bad-version"
        ),
        pytest.param(
            json.dumps({"format": "sora_nb.session", "version": SCHEMA_VERSION + 1, "turns": []}),
            "newer sora_nb",
            id="newer",
        ),
    ],
)
def test_a_bad_file_is_refused_and_left_untouched(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "history.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SessionFileError, match=match):
        Session.load(path)
    with pytest.raises(SessionFileError, match=match):
        Session("restart", autosave=path)
    with pytest.raises(SessionFileError, match=match):
        Session("other").save(path)
    assert path.read_text(encoding="utf-8") == content


def test_lookups_explain_what_is_missing() -> None:
    session = Session("lookups")
    with pytest.raises(InvalidRequest, match="No turn 0"):
        session.turn(0)
    with pytest.raises(InvalidRequest, match="No turn 'halo'"):
        session.video("halo")
    assert session.latest() is None
    session.clear()
    assert "lookups" in repr(session) and get_session("lookups") is not session


# -- ownership: a Session belongs to whoever made it ---------------------------


def test_making_a_session_registers_nothing() -> None:
    remembered = get_session("mine")
    mine = Session("mine")
    again = Session("mine")
    loaded = Session.load(mine.save("mine.json"))
    assert get_session("mine") is remembered
    assert len({id(remembered), id(mine), id(again), id(loaded)}) == 4


async def test_video_edit_uses_the_relay_and_key_that_made_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one = serve_in_thread(speed=500, api_key="sk-relay-one")
    two = serve_in_thread(speed=500, api_key="sk-relay-two")
    with one, two:
        monkeypatch.setenv("SORA_BASE_URL", one.url)
        monkeypatch.setenv("SORA_API_KEY", "sk-relay-one")
        session = Session("two-relays", download=False)
        cow = await session.generate("a cow")
        # The environment now points at another relay, with another key, and a
        # second Session of the same name exists: neither may take the video's
        # edit elsewhere.
        monkeypatch.setenv("SORA_BASE_URL", two.url)
        monkeypatch.setenv("SORA_API_KEY", "sk-relay-two")
        newcomer = Session("two-relays", download=False)
        default = get_session("two-relays")
        halo = await cow.edit("put a halo on the cow")
        assert halo.session is session and halo.parent == cow and halo.video_url.startswith(one.url)
        assert len(session.turns) == 2 and newcomer.turns == default.turns == []
        # The same edit sent the other way is refused by relay two: the key is
        # relay one's.
        async with SoraClient(two.url, "sk-relay-one") as wrong:
            with pytest.raises(AuthenticationError):
                await wrong.edit(cow, "put a halo on the cow")
        await session.aclose()


def test_a_video_from_a_bare_client_has_no_session_to_edit_through() -> None:
    video = Video(Request("a cow", "sora-2"), Task("task_1"), "s_1", "https://r/v.mp4")
    with pytest.raises(InvalidRequest, match="not made by a Session"):
        asyncio.run(video.edit("add a hat"))


# -- generate_many: each item ends as a Video or a SoraError -------------------


async def test_generate_many_survives_bad_headers_and_unexpected_errors(
    scripted: tuple[ScriptedRelay, str],
) -> None:
    app, url = scripted
    slow = {"error": {"message": "slow down"}}
    broken = Script(headers={"content-type": "text/event-stream", "content-encoding": "gzip"})
    broken.steps.append(Step(b"data: this is not gzip\n\n"))
    app.scripts += [
        # a: a bad header, then the video
        json_script(429, slow, {"retry-after": "soon"}),
        sse_script(FIRST),
        # b: the body cannot be decoded: a connection error, in one sentence
        broken,
        # c: twice
        json_script(429, slow, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        json_script(429, slow, {"retry-after": "garbage"}),
        # c: a 429 started nothing, so c waits for its turn, then d
        sse_script(FIRST),
        sse_script(FIRST),
    ]
    async with SoraClient(url, KEY, max_retries=1) as client:
        session = Session("many", client=client, download=False)
        results = await session.generate_many(["a", "b", "c", "d"], concurrency=1)
    assert [type(result).__name__ for result in results] == [
        "Video",
        "APIConnectionError",
        "Video",
        "Video",
    ]
    assert "cannot be decoded" in str(results[1])
    assert [turn.status for turn in session.turns] == ["done", "failed", "done", "done"]


def test_a_schema_1_file_still_loads(tmp_path: Path) -> None:
    """Version 1 kept every field flat on the turn; it loads into the same
    records.
    """
    first = {"role": "user", "content": FIRST_PROMPT}
    common = {"orientation": "portrait", "image": None, "preview_url": None, "echo": None}
    done = {**common, "status": "done", "error": None, "local_thumbnail": None, "name": None}
    turns: list[dict[str, Any]] = [
        {
            **done,
            "index": 0,
            "prompt": FIRST_PROMPT,
            "model": "sora-2",
            "messages": [first],
            "transcript": FIRST,
            "task_id": "task_01k7dzptgwf2z87wj2c3t36qk0",
            "sid": "s_68ec8accd80c8191ae1fc957af78caaa",
            "video_url": "https://cdn.example/v/0.mp4",
            "thumbnail_url": "https://cdn.example/v/0.webp",
            "source_url": "https://relay.example/source/task_01k7dzptgwf2z87wj2c3t36qk0",
            "parent": None,
            "started_at": 1760338775.5,
            "finished_at": 1760338850.0,
            "elapsed": 72.5,
            "local_path": "sora_outputs/task_01k7dzptgwf2z87wj2c3t36qk0.mp4",
        },
        {
            **common,
            "index": 1,
            "prompt": EDIT_PROMPT,
            "model": "sora-2",
            "messages": {"branch_of": 0, "then": [{"role": "user", "content": EDIT_PROMPT}]},
            "transcript": "> 任务 ID: task_2\n",
            "status": "running",
            "task_id": "task_2",
            "source_url": "https://relay.example/source/task_2",
            "parent": 0,
            "started_at": 1760339000.0,
        },
    ]
    document = {"format": "sora_nb.session", "version": 1, "name": "old", "turns": turns}
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    loaded = Session.load(path)
    video = loaded.video(0)
    assert (video.prompt, video.task_id, video.sid, video.elapsed) == (
        FIRST_PROMPT,
        "task_01k7dzptgwf2z87wj2c3t36qk0",
        "s_68ec8accd80c8191ae1fc957af78caaa",
        72.5,
    )
    assert video.local_path == turns[0]["local_path"] and video.session is loaded
    edit = loaded.turn(1)
    assert edit.status == "interrupted" and edit.error and edit.parent == 0
    # the branch came back whole
    assert edit.messages == EDIT_REQUEST["messages"]
    assert (edit.task_id, edit.source_url, edit.transcript) == (
        "task_2",
        "https://relay.example/source/task_2",
        "> 任务 ID: task_2\n",
    )
    resaved = json.loads(loaded.save(tmp_path / "v2.json").read_text(encoding="utf-8"))
    assert resaved["version"] == SCHEMA_VERSION == 2
    assert Session.load(tmp_path / "v2.json").turns == loaded.turns


async def test_autosave_to_an_earlier_file_merges_its_turns(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "earlier.json"
    earlier = Session("earlier", client=session.client, download=False, autosave=path)
    await earlier.generate("a cow")
    await session.generate("a horse", save=False)
    # the kernel's session takes the file
    remembered = get_session(session.name, autosave=path)
    assert remembered is not session and [t.prompt for t in remembered.turns] == ["a cow"]
    session_file = tmp_path / "mine.json"
    session.save(session_file)
    mine = get_session("mine", autosave=session_file)
    assert [t.prompt for t in get_session("mine", autosave=path).turns] == ["a horse", "a cow"]
    assert mine.video(1).session is mine and mine.video(1).turn == 1
    assert [t.prompt for t in Session.load(path).turns] == ["a horse", "a cow"]
