"""Nothing paid twice, nothing lost: rate limits, journals, shared files, odd
text, local copies.

Each test reproduces one way a batch or a generation used to pay twice or lose a
paid video, against a misbehaving relay on a loopback port (``hostile``,
``scripted``), real files and real child processes; the emulator's ``paid``
counter is the relay's own bill per prompt.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_nb import RateLimitError, SoraClient, SoraError, Video
from sora_nb.client._download import download, part_path
from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.records._journal import read_journal
from sora_nb.session._batch import Batch
from sora_nb.session._history import Session

from .conftest import SEED
from .hostile import (
    HostileRelay,
    clip_mp4,
    gated_emulator,
    linked_transcript,
    media_bytes,
    paid,
    split_character_script,
)
from .scripted import Send, serve, sse_script

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_sessions")]

KEY = "sk-test-paid-once-0123456789"


@pytest.fixture
def relay() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=100) as server:
        yield server


def prompts(what: str, count: int) -> list[str]:
    return [f"{what} {n}" for n in range(count)]


def run_child(code: str, *args: object) -> subprocess.Popen[str]:
    """A Python child process (a second kernel) running ``code`` with
    ``args``.
    """
    command = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# -- 1. a relay that takes only a few streams at once --------------------------


async def test_a_relay_with_three_slots_makes_all_twenty_each_paid_once() -> None:
    with gated_emulator(slots=3) as (gate, url):
        async with SoraClient(url, api_key=KEY) as client:
            session = Session("slots", client=client, download=False)
            results = await session.generate_many(prompts("a goat", 20), concurrency=8)
            learned = client._limiter.limit
    assert [type(result).__name__ for result in results] == ["Video"] * 20
    assert paid(gate) == dict.fromkeys(prompts("a goat", 20), 1)
    assert gate.peak <= 3
    # The limit is learned from the refusals, not probed again after every
    # accepted stream.
    assert 1 <= learned <= 3
    # the first wave over the limit, and a few races
    assert gate.refused <= 5 + 3


async def test_items_the_relay_never_accepted_are_sent_on_resume(tmp_path: Path) -> None:
    journal = tmp_path / "batch.jsonl"
    # refuses every stream: nothing is paid
    with gated_emulator(slots=0) as (gate, url):
        async with SoraClient(url, api_key=KEY, deadline=1.5) as client:
            session = Session("refused", client=client, download=False)
            results = await session.generate_many(prompts("a hen", 4), journal=journal)
        assert all(isinstance(result, RateLimitError) for result in results)
        assert "never accepted" in str(results[0])
        assert {record.stage for record in read_journal(journal).items} == {"planned"}
        gate.slots = 3
        async with SoraClient(url, api_key=KEY) as client:
            session = Session("refused", client=client, download=False)
            results = await session.resume_many(journal)
    assert [type(result).__name__ for result in results] == ["Video"] * 4
    assert paid(gate) == dict.fromkeys(prompts("a hen", 4), 1)


# -- 2. a journal that cannot be written stops the batch -----------------------

FULL_DISK = """
import asyncio, resource, sys
from pathlib import Path
import sora_nb
from sora_nb.session._batch import Batch
from sora_nb.session._batch import Batch
from sora_nb.session._history import Session

url, journal = sys.argv[1], Path(sys.argv[2])

async def main():
    async with sora_nb.SoraClient(url, api_key="sk-full-disk") as client:
        session = Session("full", client=client, download=False)
        batch = Batch.start(session, [f"a mole {n}" for n in range(6)], journal=journal)
        size = journal.stat().st_size  # the plan is on disk; not one byte more fits
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        try:
            await batch.run()
        except sora_nb.SoraError as exc:
            print(exc)
        await batch.aclose()

asyncio.run(main())
"""


async def test_an_unwritable_journal_sends_nothing_and_resume_pays_each_once(
    relay: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.jsonl"
    child = run_child(FULL_DISK, relay.url, journal)
    out, err = await asyncio.to_thread(child.communicate, timeout=120)
    assert child.returncode == 0, err
    assert out.count("\n") == 1 and "journal" in out and str(journal) in out, out
    # no item went out without its sent line
    assert relay.app.state.emulator.paid == {}
    async with SoraClient(relay.url, api_key=KEY) as client:
        session = Session("full", client=client, download=False)
        results = await session.resume_many(journal)
    assert [type(result).__name__ for result in results] == ["Video"] * 6
    assert dict(relay.app.state.emulator.paid) == dict.fromkeys(prompts("a mole", 6), 1)


# -- 3. one writer per journal, across processes -------------------------------

BATCH = """
import asyncio, sys
from pathlib import Path
import sora_nb
from sora_nb.session._batch import Batch
from sora_nb.session._history import Session

url, journal, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])

async def main():
    async with sora_nb.SoraClient(url, api_key="sk-one-writer") as client:
        session = Session("writer", client=client, download=False)
        try:
            if journal.exists() and sys.argv[4:] == ["resume"]:
                results = await session.resume_many(journal)
            else:
                results = await session.generate_many(
                    [f"a wren {n}" for n in range(count)], journal=journal
                )
        except sora_nb.SoraError as exc:
            print("refused:", exc)
            return
    print("ran:", len(results.videos))

asyncio.run(main())
"""


@pytest.fixture
def slow_relay() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=4) as server:  # one generation: about a second
        yield server


async def test_a_resume_while_the_batch_runs_elsewhere_is_refused(
    slow_relay: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.jsonl"
    child = run_child(BATCH, slow_relay.url, journal, 4)
    while not (journal.exists() and read_journal(journal).items):
        await asyncio.sleep(0.05)  # the plan is written: the batch is running
    async with SoraClient(slow_relay.url, api_key=KEY) as client:
        session = Session("second", client=client, download=False)
        with pytest.raises(SoraError, match="in use by another batch"):
            await session.resume_many(journal)
    out, err = await asyncio.to_thread(child.communicate, timeout=120)
    assert out.strip() == "ran: 4", err
    assert dict(slow_relay.app.state.emulator.paid) == dict.fromkeys(prompts("a wren", 4), 1)


async def both_at_once(relay: EmulatorServer, args: list[object]) -> list[str]:
    """Two children running ``args`` at once; what each printed.

    No task completes until one child has ended: the one that took the journal
    is still running when the other tries it, however slowly either started.
    """
    with relay.holding_completions():
        pair = [run_child(*map(str, args)) for _ in range(2)]
        while all(child.poll() is None for child in pair):
            await asyncio.sleep(0.02)
    return [(await asyncio.to_thread(c.communicate, timeout=120))[0].strip() for c in pair]


async def test_two_batches_or_resumes_at_once_on_one_journal_run_once(
    slow_relay: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.jsonl"
    outs = await both_at_once(slow_relay, [BATCH, slow_relay.url, journal, 3])
    assert sorted(out.split(":")[0] for out in outs) == ["ran", "refused"], outs
    assert dict(slow_relay.app.state.emulator.paid) == dict.fromkeys(prompts("a wren", 3), 1)
    # Killed mid-batch (tasks named, none finished), then two resumes at the
    # same instant.
    journal.unlink()
    with run_child(BATCH, slow_relay.url, journal, 3) as child:
        while not (journal.exists() and '"task_id"' in journal.read_text()):
            await asyncio.sleep(0.02)
        child.kill()
    outs = await both_at_once(slow_relay, [BATCH, slow_relay.url, journal, 3, "resume"])
    assert sorted(out.split(":")[0] for out in outs) == ["ran", "refused"], outs
    assert dict(slow_relay.app.state.emulator.paid) == dict.fromkeys(prompts("a wren", 3), 2)


# -- 5. a character cut in two by the relay ------------------------------------

FIRST = (SEED / "first_turn.content.md").read_text(encoding="utf-8")


@pytest.fixture
def scripted() -> Iterator[tuple[HostileRelay, str]]:
    app = HostileRelay()
    for url in serve(app):
        yield app, url


async def test_a_character_split_between_chunks_is_saved_and_later_turns_work(
    scripted: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = scripted
    autosave, journal = tmp_path / "history.json", tmp_path / "batch.jsonl"
    app.scripts += [split_character_script(FIRST), split_character_script(FIRST, lone=True)]
    app.scripts += [sse_script(FIRST)]
    async with SoraClient(url, api_key=KEY) as client:
        session = Session("split", client=client, download=False, autosave=autosave)
        results = await asyncio.wait_for(session.generate_many(["a"], journal=journal), 60)
        video = await session.generate("b")  # the second half never came
        later = await session.generate("c")
    assert isinstance(results[0], Video) and "🏃" in results[0].transcript
    assert "\ufffd" in video.transcript and later.transcript == FIRST
    saved = Session.load(autosave, download=False)
    assert [turn.status for turn in saved.turns] == ["done"] * 3
    assert saved.turns[0].video is not None and "🏃" in saved.turns[0].video.transcript
    assert read_journal(journal).finished


# -- 6. a copy with no video stream --------------------------------------------

TASK = "task_01k7dzptgwf2z87wj2c3t36qk0"  # the seed transcript's task id


async def test_a_copy_with_no_video_stream_keeps_the_paid_item_done(
    scripted: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = scripted
    app.media["/media/sound.mp4"] = media_bytes(clip_mp4(audio_only=True))
    app.scripts.append(sse_script(linked_transcript(FIRST, f"{url}/media/sound.mp4")))
    journal = tmp_path / "batch.jsonl"
    async with SoraClient(url, api_key=KEY) as client:
        session = Session("sound", client=client, save_dir="out")
        results = await session.generate_many(["a"], journal=journal)
    video = results[0]
    assert isinstance(video, Video), video
    assert video.local_path == f"out/{TASK}.mp4" and video.local_thumbnail is None
    assert read_journal(journal).items[0].stage == "done"


# -- 8. local copies never collide ---------------------------------------------


async def test_posters_never_overwrite_a_file_nor_each_other(
    scripted: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = scripted
    app.media["/media/red.mp4"] = media_bytes(clip_mp4((220, 20, 20)))
    app.media["/media/blue.mp4"] = media_bytes(clip_mp4((20, 20, 220)))
    # one task id reused by the relay for two videos
    for colour in ("red", "blue"):
        app.scripts.append(sse_script(linked_transcript(FIRST, f"{url}/media/{colour}.mp4")))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / f"{TASK}.jpg").write_bytes(b"a picture of my own")
    async with SoraClient(url, api_key=KEY) as client:
        session = Session("posters", client=client, save_dir="out")
        red, blue = await session.generate("a"), await session.generate("b")
    assert (tmp_path / "out" / f"{TASK}.jpg").read_bytes() == b"a picture of my own"
    assert red.local_path != blue.local_path
    assert red.local_thumbnail and blue.local_thumbnail
    assert len({red.local_thumbnail, blue.local_thumbnail, f"out/{TASK}.jpg"}) == 3
    assert dominant(red.local_thumbnail) == "red" and dominant(blue.local_thumbnail) == "blue"


def dominant(path: str) -> str:
    from PIL import Image

    with Image.open(path) as image:
        pixel = image.convert("RGB").getpixel((32, 24))
    assert isinstance(pixel, tuple)
    r, _, b = pixel
    return "red" if r > b else "blue"


async def test_concurrent_downloads_of_one_url_each_get_one_whole_response(
    scripted: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = scripted
    served: list[int] = []

    async def numbered(scope: dict[str, object], send: Send) -> None:
        # each response is one byte value, sent in slow blocks
        number = len(served)
        served.append(number)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(8):
            await asyncio.sleep(0.02)
            block = bytes([number]) * 4096
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    app.media["/media/numbered.mp4"] = numbered
    dest = tmp_path / "clip.mp4"
    paths = await asyncio.gather(*(download(f"{url}/media/numbered.mp4", dest) for _ in range(6)))
    assert len(set(paths)) == 6
    for path in paths:
        data = path.read_bytes()
        # one response, whole
        assert len(data) == 8 * 4096 and len(set(data)) == 1
    assert not list(tmp_path.glob("*.part"))


async def test_planted_symlinks_are_never_followed(
    scripted: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = scripted
    app.media["/media/red.mp4"] = media_bytes(clip_mp4())
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    dest = tmp_path / "clip.mp4"
    part_path(f"{url}/media/red.mp4", dest).symlink_to(victim)
    copy = await download(f"{url}/media/red.mp4", dest)
    assert copy.read_bytes()[4:8] == b"ftyp"
    journal = tmp_path / "batch.jsonl"
    journal.symlink_to(victim)
    lock = tmp_path / ".history.json.lock"
    lock.symlink_to(tmp_path / "created-by-the-lock")
    async with SoraClient(url, api_key=KEY) as client:
        session = Session("links", client=client, download=False)
        with pytest.raises(SoraError, match="batch journal"):
            await session.generate_many(["a"], journal=journal)
        session = Session("links", client=client, download=False, autosave="history.json")
        app.scripts.append(sse_script(FIRST))
        await session.generate("b")
    # "b" only
    assert victim.read_text() == "precious" and len(app.requests) == 1
    assert not (tmp_path / "created-by-the-lock").exists()


# -- 7. resume keeps what the journal knows ------------------------------------


def write_journal(path: Path, lines: list[object]) -> None:
    """A journal as a batch leaves it: JSON lines, or raw text for a damaged
    line.
    """
    header = {"format": "sora_nb.batch", "version": 1, "created": 0, "items": 0}
    items = sum(1 for line in lines if isinstance(line, dict) and "item" in line)
    texts = [json.dumps({**header, "items": items + lines.count("PLAN?")})]
    texts += [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(t.replace("PLAN?", '{"i": 1, "item": {"prom') for t in texts) + "\n")


async def test_resume_keeps_the_plans_request_and_collects_any_task_id(
    scripted: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = scripted
    app.sources.append(
        {"status": "completed", "url": f"{url}/v.mp4", "sid": "s_9", "progress": 100}
    )
    journal = tmp_path / "batch.jsonl"
    item = {"prompt": "a lynx on a rock", "model": "sora-2-pro"}
    write_journal(
        journal, [{"i": 0, "item": item}, {"i": 0, "sent": 1}, {"i": 0, "task_id": "gen-7f3a9c"}]
    )
    async with SoraClient(url, api_key=KEY, poll_interval=0.05) as client:
        session = Session("plan", client=client, download=False)  # no autosave
        results = await session.resume_many(journal)
    video = results[0]
    assert isinstance(video, Video), video
    assert (video.prompt, video.model, video.task_id) == (
        "a lynx on a rock",
        "sora-2-pro",
        "gen-7f3a9c",
    )
    assert video.messages and video.remixable  # it can be edited like any other
    assert app.requests == []  # collected, not sent


async def test_a_damaged_middle_line_neither_resends_nor_drops_an_item(
    relay: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.jsonl"
    lines: list[object] = [{"i": 0, "item": {"prompt": "a yak 0"}}, "PLAN?"]
    lines += [{"i": n, "item": {"prompt": f"a yak {n}"}} for n in (2, 3)]
    lines += ['{"i": 2, "sent": 17', {"i": 3, "sent": 1}, {"i": 3, "refused": 2}]
    write_journal(journal, lines)
    async with SoraClient(relay.url, api_key=KEY) as client:
        session = Session("damaged", client=client, download=False)
        results = await session.resume_many(journal)
    assert [type(result).__name__ for result in results] == [
        "Video",  # never sent: sent now
        "InvalidRequest",  # its plan line is damaged: kept, reported, not sent
        # its sent line is damaged: it may be billed, so not sent again
        "StreamInterrupted",
        "Video",  # refused with a 429 once: sent now
    ]
    assert "prompt is lost" in str(results[1]) and "may have been billed" in str(results[2])
    assert dict(relay.app.state.emulator.paid) == {"a yak 0": 1, "a yak 3": 1}


# -- 4. a shared autosave during a batch ---------------------------------------

OTHER_KERNEL = """
import asyncio, sys
import sora_nb
from sora_nb.session._batch import Batch
from sora_nb.session._history import Session

async def main():
    async with sora_nb.SoraClient(sys.argv[1], api_key="sk-other-kernel") as client:
        session = Session("shared", client=client, download=False, autosave=sys.argv[2])
        await session.generate("a turn of the other kernel")

asyncio.run(main())
"""


async def test_a_batch_keeps_the_turns_another_kernel_autosaved_meanwhile(
    relay: EmulatorServer, tmp_path: Path
) -> None:
    autosave = tmp_path / "history.json"
    # the batch waits here until the gate opens
    with gated_emulator(slots=0) as (gate, url):
        async with SoraClient(url, api_key=KEY) as client:
            session = Session("shared", client=client, download=False, autosave=autosave)
            batch = asyncio.ensure_future(session.generate_many(prompts("an ibis", 3)))
            other = run_child(OTHER_KERNEL, relay.url, autosave)
            _, err = await asyncio.to_thread(other.communicate, timeout=120)
            assert other.returncode == 0, err
            gate.slots = 3
            results = await batch
    assert [type(result).__name__ for result in results] == ["Video"] * 3
    prompts_saved = {turn.prompt for turn in Session.load(autosave, download=False).turns}
    assert prompts_saved == {*prompts("an ibis", 3), "a turn of the other kernel"}


HOLDS_A_TEMPORARY = """
import os, sys, tempfile
from pathlib import Path
from sora_nb.records._autosave import locked

path = Path(sys.argv[1])
with locked(path):  # as a kernel's autosave is, mid-write
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.write(fd, path.read_bytes())
    os.close(fd)
    print("writing", flush=True)
    sys.stdin.readline()
    os.replace(tmp, path)
print("saved")
"""


async def test_starting_a_batch_leaves_another_kernels_temporary_file_alone(
    relay: EmulatorServer, tmp_path: Path
) -> None:
    autosave = tmp_path / "history.json"
    async with SoraClient(relay.url, api_key=KEY) as client:
        session = Session("shared", client=client, download=False, autosave=autosave)
        await session.generate("a first turn")
        command = [sys.executable, "-c", HOLDS_A_TEMPORARY, str(autosave)]
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        ) as writer:
            assert writer.stdin is not None and writer.stdout is not None
            assert await asyncio.to_thread(writer.stdout.readline) == "writing\n"
            batch = asyncio.ensure_future(session.generate_many(prompts("a tern", 2)))
            # the batch's first step: it sweeps stale temporaries
            await asyncio.sleep(0)
            writer.stdin.write("go\n")
            writer.stdin.flush()
            assert await asyncio.to_thread(writer.stdout.readline) == "saved\n"
        assert writer.returncode == 0  # its temporary file was there to rename
        results = await batch
    assert [type(result).__name__ for result in results] == ["Video"] * 2
    assert len(Session.load(autosave, download=False).turns) == 3


async def test_resume_collects_a_videos_task_from_the_journal_alone(tmp_path: Path) -> None:
    journal = tmp_path / "batch.jsonl"
    with serve_in_thread(speed=100, dialect="videos") as videos:
        async with SoraClient(videos.url, api_key=KEY, dialect="videos") as client:
            # the relay's task
            made = await client.generate("an otter in the reeds")
            item = {"prompt": "an otter in the reeds"}
            lines = [{"i": 0, "item": item}, {"i": 0, "sent": 1}, {"i": 0, "task_id": made.task_id}]
            # no status link: the dialect knows where to look
            write_journal(journal, lines)
            session = Session("otter", client=client, download=False)
            results = await session.resume_many(journal)
        assert dict(videos.app.state.emulator.paid) == {"an otter in the reeds": 1}
    video = results[0]
    assert isinstance(video, Video), video
    assert (video.task_id, video.prompt) == (made.task_id, "an otter in the reeds")


async def test_a_retried_batch_lets_the_next_batch_have_its_journal(
    relay: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.jsonl"
    async with SoraClient(relay.url, api_key=KEY) as client:
        session = Session("retry", client=client, download=False)
        batch = Batch.start(session, ["a pika [fault:content-policyx1]"], journal=journal)
        await batch.run()
        await batch.aclose()
        # reopens the journal
        assert isinstance((await batch.retry_failed())[0], Video)
        results = await session.generate_many(["a pika again"], journal=journal)
    assert isinstance(results[0], Video)
