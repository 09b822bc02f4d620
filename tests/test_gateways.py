"""Every gateway end to end: the client against the emulator speaking it, over
loopback.

For each gateway (docs/dialects.md, "Gateways"): text and image to video make a
playable local copy, progress rises from 0 to 100, a failure raises a SoraError
with the gateway's reason, the continuation it offers works and one it lacks is
refused before sending, a 429 on create is paid once, an expiring link still
plays afterwards, the key never reaches the other origin its links are on, and
models are listed where the gateway lists them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from sora_nb import GenerationFailed, InvalidRequest, ProgressEvent, Session, SoraClient
from sora_nb.emulator import EmulatorServer, serve_in_thread

from .conftest import ROOT

KEY = "sk-gateway-test"
MEADOW = ROOT / "notebooks" / "meadow.png"
# the emulator's content-policy reason, in each gateway's shape
POLICY = "内容违反使用政策"


@dataclass(frozen=True)
class Case:
    dialect: str
    model: str
    image_model: str
    continuation: str  # the one offered first
    lacks: str | None  # one it does not offer (refused before sending)
    signed: bool  # results on another origin (signed links)
    listed: str | None  # a name its model listing must hold


CASES = [
    Case("newapi", "veo-3.1-generate-preview", "kling-v2-1", "last-frame", "remix", False,
         "doubao-seedance-1-0-pro-250528"),
    Case("litellm", "gemini/veo-3.1-generate-preview", "runwayml/gen4_turbo", "last-frame",
         "remix", False, "runwayml/gen4_turbo"),
    Case("openrouter", "google/veo-3.1", "kwaivgi/kling-v2.1", "last-frame", "remix", True,
         "alibaba/wan-2.6"),
    Case("xai", "grok-imagine-video", "grok-imagine-video", "edit", "remix", True,
         "grok-imagine-video"),
    Case("grok2api", "grok-imagine-video", "grok-imagine-video", "edit", "remix", False,
         "grok-imagine-video"),
    Case("reseller", "kling-v2-1", "wan2.6-i2v", "last-frame", "extend", True, "kling-v2-1"),
    Case("flow2api", "veo_3_1_t2v_fast_landscape", "veo_3_1_i2v_s_fast_fl", "extend", "remix",
         False, "veo_3_1_extend"),
]  # fmt: skip
IDS = [case.dialect for case in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def gateway(request: pytest.FixtureRequest) -> Iterator[tuple[Case, EmulatorServer]]:
    case: Case = request.param
    with serve_in_thread(speed=400, api_key=KEY, dialect=case.dialect) as server:  # type: ignore[arg-type]
        yield case, server


def client_for(case: Case, server: EmulatorServer, **extra: Any) -> SoraClient:
    return SoraClient(server.url, KEY, dialect=case.dialect, poll_interval=0.05, **extra)


def plays(path: str | Path) -> int:
    """Frames PyAV decodes from a local copy (a playable mp4 has many)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_text_and_image_make_playable_copies(gateway, tmp_path: Path) -> None:
    case, server = gateway

    async def both() -> tuple[Any, Any]:
        async with client_for(case, server) as client:
            session = Session("gw", client=client, save_dir=tmp_path)
            text = await session.generate("a cow in a meadow", model=case.model)
            image = await session.generate(
                "the meadow at dawn", model=case.image_model, image=MEADOW
            )
            return text, image

    text, image = run(both())
    for video in (text, image):
        assert video.local_path and Path(video.local_path).is_file()
        assert plays(video.local_path) > 10
        # LiteLLM's long ids are cut safely
        assert len(Path(video.local_path).name) < 100
    assert text.model == case.model  # sent as written, never renamed


def test_progress_rises_from_0_to_100(gateway) -> None:
    case, server = gateway
    seen: list[int] = []

    async def go() -> None:
        async with client_for(case, server) as client:
            await client.generate(
                "a slow pan over hills",
                model=case.model,
                on_event=lambda e: seen.append(e.percent) if isinstance(e, ProgressEvent) else None,
            )

    run(go())
    assert seen[0] == 0
    assert seen[-1] == 100
    assert seen == sorted(seen)


def test_failure_raises_with_the_gateways_reason(gateway) -> None:
    case, server = gateway

    async def go() -> None:
        async with client_for(case, server) as client:
            await client.generate("a forbidden scene [fault:content-policy]", model=case.model)

    with pytest.raises(GenerationFailed) as caught:
        run(go())
    assert POLICY in str(caught.value)


def test_the_offered_continuation_works_and_a_missing_one_is_refused(gateway) -> None:
    case, server = gateway
    emulator = server.app.state.emulator

    async def go() -> tuple[Any, Any, tuple[str, ...]]:
        async with client_for(case, server) as client:
            offered = client.continuations(case.model)
            first = await client.generate("a cow grazing", model=case.model)
            second = await client.edit(first, "put a halo on the cow")
            paid = sum(emulator.paid.values())
            with pytest.raises(InvalidRequest) as refused:
                await client.edit(first, "make it rain", how=case.lacks)
            # refused before anything was sent
            assert sum(emulator.paid.values()) == paid
            assert "\n" not in str(refused.value)
            return first, second, offered

    first, second, offered = run(go())
    assert offered[0] == case.continuation
    assert second.parent is first
    assert second.video_url != first.video_url


def test_a_429_on_create_is_paid_once(gateway) -> None:
    case, server = gateway
    emulator = server.app.state.emulator
    prompt = f"a busy relay for {case.dialect}"

    async def go() -> None:
        async with client_for(case, server) as client:
            await client.generate(f"{prompt} [fault:429x1]", model=case.model)

    run(go())
    assert emulator.paid[prompt] == 1


def test_an_expiring_link_still_plays_afterwards(gateway, tmp_path: Path) -> None:
    case, server = gateway

    async def go() -> Any:
        async with client_for(case, server) as client:
            session = Session("expiring", client=client, save_dir=tmp_path)
            return await session.generate("a river [fault:one-time-link]", model=case.model)

    video = run(go())
    assert plays(video.local_path) > 10
    # the link answered once: the copy made at the first fetch is what plays
    if case.signed:
        assert httpx.get(video.video_url).status_code == 410
    links = server.app.state.links
    assert links.keyed == 0  # the key never went to the other origin
    assert (links.fetches > 0) == case.signed


def test_models_are_listed_with_capabilities(gateway) -> None:
    case, server = gateway

    async def go() -> list[Any]:
        async with client_for(case, server) as client:
            return await client.models()

    models = {m.model: m for m in run(go())}
    assert case.listed in models
    if case.dialect == "openrouter":  # the gateway's own capabilities
        assert models["google/veo-3.1"].durations == (4, 6, 8)
        assert models["google/veo-3.1"].source == "gateway"


def test_a_value_the_model_does_not_take_is_refused_before_sending(gateway) -> None:
    case, server = gateway
    emulator = server.app.state.emulator
    before = sum(emulator.paid.values())

    async def go() -> None:
        async with client_for(case, server) as client:
            await client.models()  # OpenRouter's listing, the table elsewhere
            await client.generate("a cow", model=case.model, duration=37)

    with pytest.raises(InvalidRequest, match="duration"):
        run(go())
    assert sum(emulator.paid.values()) == before


# -- one gateway at a time -----------------------------------------------------


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=request.param[1], api_key=KEY, dialect=request.param[0]) as s:
        yield s


@pytest.mark.parametrize("served", [("reseller", 400)], indirect=True)
def test_a_resellers_other_status_words_and_fractions_are_read(served: EmulatorServer) -> None:
    seen: list[int] = []

    async def go() -> Any:
        async with SoraClient(served.url, KEY, dialect="reseller", poll_interval=0.05) as client:
            return await client.generate(
                "a lake [fault:synonyms]", model="kling-v2-1",
                on_event=lambda e: seen.append(e.percent) if isinstance(e, ProgressEvent) else None,
            )  # fmt: skip

    video = run(go())
    assert video.video_url.startswith("http://localhost:")
    # 0.35 is 35 %, not 0
    assert seen[-1] == 100 and any(0 < p < 100 for p in seen)


@pytest.mark.parametrize("served", [("openrouter", 400), ("xai", 400)], indirect=True)
def test_an_expired_task_fails_in_one_sentence(served: EmulatorServer) -> None:
    dialect = served.app.state.emulator.dialect
    model = "google/veo-3.1" if dialect == "openrouter" else "grok-imagine-video"

    async def go() -> None:
        async with SoraClient(served.url, KEY, dialect=dialect, poll_interval=0.05) as client:
            await client.generate("a sunset [fault:expired]", model=model)

    with pytest.raises(GenerationFailed, match="expired"):
        run(go())


@pytest.mark.parametrize("served", [("newapi", 60)], indirect=True)
def test_new_apis_per_key_gate_waits_and_pays_each_task_once(served: EmulatorServer) -> None:
    emulator = served.app.state.emulator
    prompts = [f"gate test {n}" for n in range(5)]

    async def go() -> list[Any]:
        async with SoraClient(served.url, KEY, dialect="newapi", poll_interval=0.05,
                              max_retries=8) as client:  # fmt: skip
            return await asyncio.gather(
                *(client.generate(p, model="veo-3.1-generate-preview") for p in prompts)
            )

    videos = run(go())
    assert len(videos) == 5
    assert served.app.state.gated > 0  # the gate answered 429 at least once
    assert all(emulator.paid[p] == 1 for p in prompts)


@pytest.mark.parametrize("served", [("newapi", 400), ("litellm", 400)], indirect=True)
def test_remix_where_the_upstream_has_one(served: EmulatorServer) -> None:
    dialect = served.app.state.emulator.dialect
    model = "sora-2" if dialect == "newapi" else "openai/sora-2"

    async def go() -> tuple[Any, Any, tuple[str, ...]]:
        async with SoraClient(served.url, KEY, dialect=dialect, poll_interval=0.05) as client:
            first = await client.generate("a cow", model=model)
            return (
                first,
                await client.edit(first, "a halo", how="remix"),
                client.continuations(model),
            )

    first, second, offered = run(go())
    assert offered[0] == "remix"
    assert second.parent is first and second.model == model


@pytest.mark.parametrize("served", [("flow2api", 30)], indirect=True)
def test_flow2api_keeps_its_stream_past_the_deadline(served: EmulatorServer) -> None:
    emulator = served.app.state.emulator

    async def go() -> Any:
        async with SoraClient(served.url, KEY, dialect="flow2api", deadline=0.05) as client:
            return await client.generate("a long take", model="veo_3_1_t2v_fast_portrait")

    video = run(go())
    assert video.video_url and sum(emulator.cancelled.values()) == 0


@pytest.mark.parametrize("served", [("flow2api", 400)], indirect=True)
def test_flow2api_names_switch_orientation(served: EmulatorServer) -> None:
    async def go() -> Any:
        async with SoraClient(served.url, KEY, dialect="flow2api") as client:
            return await client.generate(
                "a tower", model="veo_3_1_t2v_fast_landscape", orientation="portrait"
            )

    assert run(go()).model == "veo_3_1_t2v_fast_portrait"


@pytest.mark.parametrize(
    ("served", "expected"),
    [(("newapi", 400), "newapi"), (("litellm", 400), "litellm"),
     (("openrouter", 400), "openrouter"), (("flow2api", 400), "flow2api"),
     (("grok2api", 400), "grok2api")],
    indirect=["served"],
)  # fmt: skip
def test_auto_recognises_a_gateway_by_free_gets(served: EmulatorServer, expected: str) -> None:
    async def go() -> str:
        async with SoraClient(served.url, KEY, dialect="auto") as client:
            await client.models()
            return client.dialect

    assert run(go()) == expected
    # no paid POST was a probe
    assert sum(served.app.state.emulator.paid.values()) == 0


@pytest.mark.parametrize("served", [("reseller", 400)], indirect=True)
def test_auto_says_what_to_set_when_it_cannot_tell(served: EmulatorServer) -> None:
    async def go() -> None:
        async with SoraClient(served.url, KEY, dialect="auto") as client:
            await client.generate("a cow", model="kling-v2-1")

    with pytest.raises(InvalidRequest, match="set dialect=") as caught:
        run(go())
    assert "\n" not in str(caught.value)
    assert sum(served.app.state.emulator.paid.values()) == 0


def test_well_known_hosts_are_recognised_from_the_url_alone() -> None:
    assert SoraClient("https://openrouter.ai", KEY).dialect == "openrouter"
    assert SoraClient("https://api.x.ai", KEY).dialect == "xai"
    # today's default
    assert SoraClient("https://relay.example", KEY).dialect == "chat"
    assert SoraClient("https://openrouter.ai", KEY, dialect="chat").dialect == "chat"


@pytest.mark.parametrize("served", [("openrouter", 400)], indirect=True)
def test_a_chain_of_last_frame_continuations_exports_as_one_mp4(
    served: EmulatorServer, tmp_path: Path
) -> None:
    import json

    async def go() -> tuple[list[Any], Path]:
        async with SoraClient(served.url, KEY, dialect="openrouter", poll_interval=0.05) as c:
            session = Session("chain", client=c, save_dir=tmp_path)
            first = await session.generate("a cow walks", model="google/veo-3.1")
            second = await session.edit(first, "the cow starts to run")
            third = await session.edit(second, "the cow jumps a fence")
            return [first, second, third], await session.export_chain(dest=tmp_path / "all.mp4")

    videos, path = run(go())
    assert plays(path) == sum(plays(v.local_path) for v in videos)
    lineage = json.loads(path.with_name("all.mp4.lineage.json").read_text())
    assert [link["continuation"] for link in lineage] == [None, "last-frame", "last-frame"]
    assert [link["parent"] for link in lineage] == [None, 0, 1]
    # the first one's last frame
    assert videos[1].request.image.startswith("data:image/png")


class _Relay:
    """The least a client lends a dialect (``sora_nb.dialects.Relay``), over
    plain httpx.
    """

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url, self.poll_interval, self._http = base_url, 0.05, http

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = await self._http.post(self.base_url + path, json=body)
        response.raise_for_status()
        return response

    async def get(self, url: str) -> httpx.Response:
        return await self._http.get(url)

    def slot(self) -> Any:
        return _NoSlot()

    async def admitted(
        self, on_event: Any, attempt: Callable[[], Awaitable[Any]], refusal: list[str],
        deadline: float | None = None,
    ) -> Any:  # fmt: skip
        # no 429s here: a stand-in for the client's own wait
        return await attempt()

    def redact(self, text: str) -> str:
        return text.replace(KEY, "***")


class _NoSlot:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("served", [("xai", 400)], indirect=True)
def test_a_gateway_is_a_dialect_on_the_shared_interface(served: EmulatorServer) -> None:
    import time

    from sora_nb.dialects._gateways import GATEWAY_DIALECTS
    from sora_nb.records._ask import Ask

    async def go() -> tuple[Any, Any, list[str] | None]:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(headers=headers) as http:
            dialect = GATEWAY_DIALECTS["xai"](_Relay(served.url, http))  # type: ignore[arg-type]
            ask = Ask.build("a wave", model="grok-imagine-video")
            first = await dialect.run(dialect.request(ask), None, None, time.monotonic() + 30)
            longer = Ask.build("the wave returns", model="grok-imagine-video", duration=6,
                               how="extend")  # fmt: skip
            second = await dialect.run(dialect.request(longer, first), first, None,
                                       time.monotonic() + 30)  # fmt: skip
            return first, second, await dialect.models()

    first, second, models = run(go())
    assert second.request.options["how"] == "extend" and second.parent is first
    # the Ask's options reach the request
    assert second.request.options["duration"] == 6
    assert models == ["grok-imagine-video"]


@pytest.mark.parametrize("served", [("litellm", 400), ("xai", 400)], indirect=True)
def test_a_task_is_collected_by_the_gateways_own_id(served: EmulatorServer) -> None:
    dialect = served.app.state.emulator.dialect
    model = "runwayml/gen4_turbo" if dialect == "litellm" else "grok-imagine-video"
    emulator = served.app.state.emulator

    async def go() -> tuple[Any, Any]:
        async with SoraClient(served.url, KEY, dialect=dialect, poll_interval=0.05) as client:
            first = await client.generate("a heron fishing", model=model)
            assert first.task_id is not None
            return first, await client.resume(first.task_id)

    first, again = run(go())
    # the same file (a signed link is signed afresh on each status answer)
    assert again.video_url.split("?")[0] == first.video_url.split("?")[0]
    assert emulator.paid["a heron fishing"] == 1  # collected, never sent again


@pytest.mark.parametrize("served", [("openrouter", 400)], indirect=True)
def test_batch_columns_carry_the_gateway_options(served: EmulatorServer, tmp_path: Path) -> None:
    rows = [
        {"prompt": "a fox", "model": "google/veo-3.1", "duration": 8, "aspect_ratio": "16:9"},
        {"prompt": "an owl", "model": "google/veo-3.1", "resolution": "1080p", "audio": True},
    ]

    async def go() -> Any:
        async with SoraClient(served.url, KEY, dialect="openrouter", poll_interval=0.05) as c:
            session = Session("batch", client=c, save_dir=tmp_path)
            return await session.generate_many(rows, journal=tmp_path / "j.jsonl")

    results = run(go())
    assert results.errors == {}, results.errors
    assert [r.request.options for r in results] == [
        {"duration": 8, "aspect_ratio": "16:9"},
        {"resolution": "1080p", "audio": True},
    ]
