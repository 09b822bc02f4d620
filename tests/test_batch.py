"""Batches: input files, the journal, resume without paying twice, the shared
adaptive limit.

Against the real emulator on a loopback port; its ``paid`` counter is the
relay's own count of the tasks it started (billed, on a real relay), per prompt.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sora_nb import (
    CompletedEvent,
    GenerationFailed,
    InvalidRequest,
    SoraClient,
    StreamInterrupted,
    Video,
    _messages,
)
from sora_nb.client._limiter import (
    DEFAULT_MAX_STREAMS,
    REGROW_AFTER,
    AdaptiveLimiter,
    limiter_for,
)
from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.records._ask import Ask
from sora_nb.records._batch_items import BatchItem, items_from, read_items
from sora_nb.records._journal import Journal, read_journal
from sora_nb.session._batch import Batch, BatchResults
from sora_nb.session._history import Session

from .words import english_words

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_sessions")]

KEY = "sk-test-batch-0123456789"


@pytest.fixture
def relay() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=100) as server:
        yield server


def paid(relay: EmulatorServer) -> dict[str, int]:
    return dict(relay.app.state.emulator.paid)


def tagless(prompt: str) -> str:
    """The prompt as the emulator records it: its ``[fault:…]`` tag removed."""
    return re.sub(r"\s*\[fault:[^\]]*\]", "", prompt).strip()


@pytest.fixture
async def client(relay: EmulatorServer) -> AsyncIterator[SoraClient]:
    async with SoraClient(relay.url, api_key=KEY) as client:
        yield client


def make_session(client: SoraClient, **kwargs: object) -> Session:
    return Session("batch", client=client, save_dir=None, **kwargs)  # type: ignore[arg-type]


# -- input files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("p.txt", "# storyboard\na cow\n\na horse\n", id="text"),
        pytest.param(
            "p.csv", "prompt,orientation,name\na cow,,cow\na horse,landscape,\n", id="csv"
        ),
        pytest.param("p.jsonl", '{"prompt": "a cow", "name": "cow"}\n"a horse"\n', id="jsonl"),
    ],
)
def test_read_items_reads_text_csv_and_jsonl(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    items = read_items(path)
    assert [item.prompt for item in items] == ["a cow", "a horse"]
    assert all(item.problem is None for item in items)
    if name != "p.txt":
        assert items[0].name == "cow"


def test_read_items_keeps_a_bad_row_as_a_refused_item(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("prompt,model\na cow,sora 9\n,sora-2\na duck,\n", encoding="utf-8")
    items = read_items(path)
    assert [item.problem is None for item in items] == [False, False, True]
    assert "row 1" in str(items[0].problem) and "spaces" in str(items[0].problem)


def test_read_items_refuses_a_csv_without_a_prompt_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("text\na cow\n", encoding="utf-8")
    with pytest.raises(InvalidRequest, match="no 'prompt' column"):
        read_items(path)


def test_a_batch_file_refusal_speaks_chinese(tmp_path: Path) -> None:
    _messages.set_language("zh")
    try:
        (tmp_path / "p.csv").write_text("text\na cow\n", encoding="utf-8")
        (tmp_path / "q.csv").write_text("prompt,name\na cow,1x\n", encoding="utf-8")
        with pytest.raises(InvalidRequest) as caught:
            read_items(tmp_path / "p.csv")
        problems = [str(item.problem) for item in read_items(tmp_path / "q.csv")]
        with pytest.raises(InvalidRequest) as empty:
            read_items(tmp_path / "missing.txt")
    finally:
        _messages.set_language("auto")
    refusals = [str(caught.value), *problems, str(empty.value)]
    assert "的表头中没有 `prompt` 列" in refusals[0], refusals
    assert "第 1 行有误：名称" in refusals[1], refusals
    # The file's path, the user's name and the OS's own reason stay as they are.
    ours = [re.sub(r"\S*\.(csv|txt)|'[^']*'|\[Errno.*", " ", text) for text in refusals]
    assert [english_words(text) for text in ours] == [[]] * 3, refusals


def test_rows_naming_one_image_read_it_once_and_a_missing_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cow.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    path = tmp_path / "p.csv"
    rows = "".join(f"a cow {n},{tmp_path / 'cow.png'}\n" for n in range(3))
    path.write_text(f"prompt,image\n{rows}a duck,{tmp_path / 'duck.png'}\n", encoding="utf-8")
    items = read_items(path)
    first, *others, missing = [item.ask() for item in items[:3]] + [items[3]]
    assert first.image is not None and first.image.startswith("data:image/png;base64,")
    # one copy of the data URL
    assert all(ask.image is first.image for ask in others)
    assert isinstance(missing, BatchItem) and missing.checked is None
    assert "row 4" in str(missing.problem) and "duck.png" in str(missing.problem)


def test_batch_defaults_fill_empty_cells_and_an_unknown_default_is_refused() -> None:
    items = items_from([{"prompt": "a cow", "orientation": ""}], defaults={"orientation": "横屏"})
    assert items[0].orientation == "landscape" and items[0].ask().orientation == "landscape"
    with pytest.raises(InvalidRequest, match="modle"):
        items_from(["a cow"], defaults={"modle": "sora-2"})


# -- one batch -----------------------------------------------------------------


async def test_generate_many_returns_input_order_and_journals_each_item(
    relay: EmulatorServer, client: SoraClient, tmp_path: Path
) -> None:
    session = make_session(client)
    journal = tmp_path / "j.jsonl"
    prompts = [f"a cow number {n}" for n in range(6)] + ["a horse [fault:content-policy]"]
    results = await session.generate_many(
        [*prompts, {"prompt": "a fox", "model": "sora 9"}], journal=journal
    )
    assert [r.prompt for r in results[:6] if isinstance(r, Video)] == prompts[:6]
    assert isinstance(results[6], GenerationFailed)
    assert isinstance(results[7], InvalidRequest)  # refused, never sent
    assert paid(relay) == {tagless(p): 1 for p in prompts}
    state = read_journal(journal)
    assert state.finished and [r.stage for r in state.items] == ["done"] * 6 + ["failed"] * 2
    assert [r.sends for r in state.items] == [1] * 7 + [0]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


async def test_a_batch_row_builds_one_ask_checked_once(
    relay: EmulatorServer, client: SoraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    build = Ask.build.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Ask], /, prompt: object, **options: object) -> Ask:
        built.append(prompt)
        return build(cls, prompt, **options)

    monkeypatch.setattr(Ask, "build", classmethod(counted))
    session = make_session(client)
    rows: list[str | dict[str, str]] = [
        "a cow", {"prompt": "a horse", "duration": "4"}, {"prompt": "a fox", "name": "fox"}
    ]  # fmt: skip
    results = await session.generate_many(rows, orientation="portrait")
    assert [r.prompt for r in results if isinstance(r, Video)] == ["a cow", "a horse", "a fox"]
    # planned, sent and recorded: one build each
    assert built == ["a cow", "a horse", "a fox"]
    assert results[1].request.options == {"duration": 4}  # type: ignore[union-attr]


async def test_results_table_with_and_without_pandas(
    client: SoraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = make_session(client)
    results = await session.generate_many(["a cow", "a duck [fault:content-policy]"])
    frame = results.to_dataframe()
    assert list(frame["status"]) == ["done", "failed"]
    assert "content policy" in frame.loc[1, "error"]
    # as if pandas were not installed
    monkeypatch.setitem(sys.modules, "pandas", None)
    rows = results.to_dataframe()
    assert isinstance(rows, list) and [row["status"] for row in rows] == ["done", "failed"]
    assert rows[0]["task_id"] == results[0].task_id  # type: ignore[union-attr]


async def test_a_batch_refuses_an_unfinished_journal(
    relay: EmulatorServer, client: SoraClient, tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    # a killed batch
    Journal.create(journal, {"items": 1}, [{"prompt": "a cow"}]).close()
    session = make_session(client)
    with pytest.raises(InvalidRequest, match="unfinished batch"):
        await session.generate_many(["a duck"], journal=journal)
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"hello": 1}\n')
    with pytest.raises(InvalidRequest, match="not a sora_nb batch journal"):
        await session.generate_many(["a duck"], journal=foreign)
    assert foreign.read_text() == '{"hello": 1}\n' and paid(relay) == {}


async def test_autosave_is_batched_off_the_loop_during_a_batch(
    client: SoraClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    autosave = tmp_path / "history.json"
    session = make_session(client, autosave=autosave)
    saves: list[Path] = []
    real_save = Session._merge_into

    def counting_save(self: Session, path: Path) -> None:
        saves.append(path)
        real_save(self, path)

    monkeypatch.setattr(Session, "_merge_into", counting_save)
    results = await session.generate_many([f"a goat {n}" for n in range(12)])
    assert all(isinstance(r, Video) for r in results)
    # Without deferral: two saves or more per item (started, task id, done).
    assert len(saves) <= 6, saves
    assert session.autosave == autosave
    # the autosave record (docs/protocol.md)
    assert len(Session.load(autosave).turns) == 12
    # the journal beside the autosave
    assert (tmp_path / "history.batch.jsonl").exists()


# -- resume --------------------------------------------------------------------


async def test_resume_collects_started_tasks_and_sends_only_unstarted_items(
    relay: EmulatorServer, client: SoraClient, tmp_path: Path
) -> None:
    # A task the relay started whose stream the "old kernel" never finished.
    messages = [{"role": "user", "content": "a started cow"}]
    async for event in client.stream(messages):
        if event.type == "task":
            started = event
            break
    journal = tmp_path / "j.jsonl"
    items = [{"prompt": "a started cow"}, {"prompt": "a new duck"}, {"prompt": "a sent goat"}]
    j = Journal.create(journal, {"items": 3}, items)
    await j.write({"i": 0, "sent": 1.0})
    await j.write({"i": 0, "task_id": started.task_id, "source_url": started.source_url})
    # sent, and the kernel died before the task id came
    await j.write({"i": 2, "sent": 2.0})
    await j.aclose()
    with journal.open("a") as out:
        out.write('{"i": 1, "sen')  # a line cut short by the kill

    session = Session("resumed", client=client, save_dir=None)
    results = await session.resume_many(journal)
    assert isinstance(results[0], Video) and results[0].task_id == started.task_id
    assert isinstance(results[1], Video) and results[1].prompt == "a new duck"
    assert isinstance(results[2], StreamInterrupted) and "may have been billed" in str(results[2])
    assert paid(relay) == {"a started cow": 1, "a new duck": 1}
    assert read_journal(journal).torn == 1


async def test_retry_failed_resends_only_the_failed_items(
    relay: EmulatorServer, client: SoraClient, tmp_path: Path
) -> None:
    session = make_session(client)
    items = ["a cow", "a pig [fault:content-policyx1]", "a hen"]
    batch = Batch.start(session, items, journal=tmp_path / "j.jsonl")
    first = await batch.run()
    assert [type(r).__name__ for r in first] == ["Video", "GenerationFailed", "Video"]
    again = await batch.retry_failed()
    await batch.aclose()
    assert all(isinstance(r, Video) for r in again)
    assert paid(relay) == {"a cow": 1, "a pig": 2, "a hen": 1}
    assert batch.status().done == 3


# -- the shared, adaptive limit ------------------------------------------------


async def test_limiter_is_first_come_first_served_and_learns_the_limit_on_429() -> None:
    now = [0.0]
    limiter = AdaptiveLimiter(8, clock=lambda: now[0])
    order: list[int] = []

    async def job(n: int) -> None:
        async with limiter.slot():
            order.append(n)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(job(n) for n in range(10)))
    assert order == list(range(10)) and limiter.in_flight == 0
    for _ in range(6):
        await limiter.acquire()
    # one of six refused: the relay holds the other five
    limiter.rate_limited(0.0)
    assert limiter.limit == 5
    limiter.release()
    limiter.rate_limited(None)
    assert limiter.limit == 4
    for _ in range(20):
        limiter.succeeded()
    # no growth within REGROW_AFTER of a 429: no probing
    assert limiter.limit == 4
    now[0] += REGROW_AFTER
    for _ in range(4 + 5):
        limiter.succeeded()
    # then one more per full window of accepted streams
    assert limiter.limit == 6
    for _ in range(100):
        limiter.succeeded()
    assert limiter.limit == 8  # never past the ceiling


async def test_limiter_holds_new_slots_for_retry_after() -> None:
    limiter = AdaptiveLimiter(2)
    limiter.rate_limited(0.2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with limiter.slot():
        waited = loop.time() - start
    assert waited >= 0.15


async def test_limiter_gives_back_a_cancelled_waiters_slot() -> None:
    limiter = AdaptiveLimiter(1)
    await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release()
    assert limiter.in_flight == 0 and limiter.waiting == 0


async def test_clients_of_one_relay_share_one_limit(relay: EmulatorServer) -> None:
    first = SoraClient(relay.url, api_key=KEY, max_streams=3)
    second = SoraClient(relay.url, api_key=KEY)
    async with first, second:
        await _share_one_limit(first, second, relay)


async def _share_one_limit(first: SoraClient, second: SoraClient, relay: EmulatorServer) -> None:
    assert first._limiter is second._limiter is limiter_for(relay.url)
    peak = 0

    def watch(event: object) -> None:
        nonlocal peak
        peak = max(peak, first._limiter.in_flight)

    jobs = [c.generate(f"a lamb {n}", on_event=watch) for n in range(5) for c in (first, second)]
    videos = await asyncio.gather(*jobs)
    assert len(videos) == 10 and peak == 3
    transport = first._client()._transport
    # Unbounded: waits are in the limiter, never aiohttp's connector (limit=0).
    assert transport._open().connector.limit == 0  # type: ignore[attr-defined]


async def test_more_streams_than_an_httpx_pool_holds_all_succeed() -> None:
    # httpx's default pool holds 100 connections; the 101st request waits there
    # and fails after 30 s (PoolTimeout) while the first hundred stream. Here
    # the extra jobs wait in sora_nb's limiter, and past 100 the pools hold as
    # many streams as the limit allows: the relay has started that many tasks
    # before the first one ends.
    # one generation ≈ 1 s: all 150 start in time
    with serve_in_thread(speed=5) as slow:
        emulator = slow.app.state.emulator
        for ceiling, expected in ((None, DEFAULT_MAX_STREAMS), (150, 150)):
            before = sum(emulator.paid.values())
            started: list[int] = []

            def watch(event: object, before: int = before, started: list[int] = started) -> None:
                if isinstance(event, CompletedEvent) and not started:
                    started.append(sum(emulator.paid.values()) - before)

            # three encodes
            prompts = [f"a kid number {n % 3}" for n in range(150)]
            async with SoraClient(slow.url, api_key=KEY, max_streams=ceiling) as client:
                videos = await asyncio.gather(
                    *(client.generate(p, on_event=watch) for p in prompts)
                )
            assert all(isinstance(video, Video) for video in videos)
            assert started == [expected], ceiling
        assert sum(emulator.paid.values()) == 300


async def test_a_429_learns_the_relays_limit_and_the_retry_succeeds(relay: EmulatorServer) -> None:
    async with SoraClient(relay.url, api_key=KEY, max_streams=8) as client:
        video = await client.generate("a calf [fault:429x1]")
    assert isinstance(video, Video)
    assert client._limiter.rate_limits == 1
    # it held no other stream, and grows back only later
    assert client._limiter.limit == 1


def test_batch_results_rows_keep_input_order() -> None:
    items = [BatchItem("a"), BatchItem("b")]
    results = BatchResults([InvalidRequest("bad"), GenerationFailed("no")], items)
    assert [row["prompt"] for row in results.rows()] == ["a", "b"]
    assert results.videos == [] and set(results.errors) == {0, 1}


async def test_unconfirmed_bounds_items_sent_before_their_task_is_named(
    client: SoraClient,
) -> None:
    session = make_session(client)
    batch = Batch.start(session, [f"a swan {n}" for n in range(8)], unconfirmed=2, save=False)
    peak = 0

    def watch(index: int, event: object) -> None:
        nonlocal peak
        peak = max(peak, len(batch._unconfirmed))

    batch.on_event = watch
    results = await batch.run()
    await batch.aclose()
    assert all(isinstance(r, Video) for r in results)
    assert peak == 2 and batch._unconfirmed == set()
