"""The emulator's other dialects over a real loopback port: sora2api chat and
the Videos API.

The recorded streams in tests/fixtures/sora2api/ were written from the relays'
own code; the emulator's chunks must have the same bytes' shape
(docs/dialects.md).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sora_nb import CompletedEvent, FailedEvent, TextEvent, TranscriptParser
from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.emulator._command import add_arguments
from sora_nb.wire._protocol import parse_chunk

from .conftest import SEED

KEY = "sk-dialect-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
FIXTURES = SEED.parent / "sora2api"
SID = re.compile(r"^s_[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def sora2api() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=500, dialect="sora2api") as server:
        yield server


@pytest.fixture(scope="module")
def videos() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=500, dialect="videos") as server:
        yield server


def chat(url: str, prompt: str, **extra: Any) -> tuple[int, list[str]]:
    body = {
        "model": "sora2-portrait-10s",
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
    }
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{url}/v1/chat/completions", json=body | extra, headers=AUTH)
    payloads = [e[len("data: ") :] for e in response.text.split("\n\n") if e.startswith("data: ")]
    return response.status_code, payloads


def events(payloads: list[str]) -> tuple[list[object], TranscriptParser]:
    parser = TranscriptParser()
    found: list[object] = []
    for payload in payloads:
        chunk = parse_chunk(payload)
        if chunk.done:
            break
        if chunk.error:
            found.append(FailedEvent(chunk.error, parser.task_id))
            break
        found += parser.feed_chunk(chunk)
    return found + parser.flush(), parser


def fixture_payloads(name: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [e[len("data: ") :] for e in text.split("\n\n") if e.startswith("data: ")]


def keys(payload: str) -> list[object]:
    chunk = json.loads(payload)
    choice = chunk["choices"][0]
    return [list(chunk), list(choice), [k for k in choice["delta"] if k != "role"]]


# -- sora2api chat -------------------------------------------------------------


def test_sora2api_chunks_have_the_relays_bytes_shape(sora2api: EmulatorServer) -> None:
    status, payloads = chat(sora2api.url, "a cow dancing")
    assert status == 200 and payloads[-1] == "[DONE]"
    recorded = fixture_payloads("shakechandev.sse") + fixture_payloads("watermark_free.sse")
    shapes = {json.dumps(keys(p)) for p in recorded if p != "[DONE]"}
    for payload in payloads[:-1]:
        chunk = json.loads(payload)
        # Python's defaults: ", " / ": ", ASCII escaped
        assert payload == json.dumps(chunk)
        assert json.dumps(keys(payload)) in shapes
        assert chunk["model"] == "sora" and chunk["id"].startswith("chatcmpl-")
    first = json.loads(payloads[0])["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["reasoning_content"].startswith("**Generation")


def test_sora2api_stream_ends_with_a_signed_link_and_a_post_id(sora2api: EmulatorServer) -> None:
    _, payloads = chat(sora2api.url, "a cow dancing")
    found, parser = events(payloads)
    done = found[-1]
    assert isinstance(done, CompletedEvent)
    assert done.sid is not None and SID.match(done.sid)
    assert "/cdn/" in done.video_url and "&sig=" in done.video_url
    assert not done.video_url.split("?")[0].endswith(".mp4")
    assert parser.task_id is not None and parser.dialect == "sora2api"
    assert json.loads(payloads[-2])["choices"][0]["finish_reason"] == "STOP"
    with httpx.Client(timeout=30) as client:
        video = client.get(done.video_url)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"


def test_sora2api_refuses_an_unknown_model_as_the_relay_does(sora2api: EmulatorServer) -> None:
    status, payloads = chat(sora2api.url, "a cow", model="sora-2")
    assert status == 500
    # not a stream at all
    assert json.loads(payloads[0] if payloads else "{}") == {}
    with httpx.Client(timeout=30) as client:
        body = {"model": "sora-2", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        response = client.post(f"{sora2api.url}/v1/chat/completions", json=body, headers=AUTH)
    assert response.json()["error"]["message"] == "400: Invalid model: sora-2"


def test_sora2api_without_stream_generates_nothing(sora2api: EmulatorServer) -> None:
    with httpx.Client(timeout=30) as client:
        body = {
            "model": "sora2-landscape-10s",
            "stream": False,
            "messages": [{"role": "user", "content": "a cow"}],
        }
        response = client.post(f"{sora2api.url}/v1/chat/completions", json=body, headers=AUTH)
    content = response.json()["choices"][0]["message"]["content"]
    assert "Please enable streaming" in content


@pytest.mark.parametrize("carry", ["remix_target_id", "prompt"])
def test_sora2api_remix_by_share_id(sora2api: EmulatorServer, carry: str) -> None:
    _, first = chat(sora2api.url, "a cow")
    sid = events(first)[1].completed.sid  # type: ignore[union-attr]
    assert sid is not None
    if carry == "prompt":
        _, payloads = chat(sora2api.url, f"put a halo on it {sid}")
    else:
        _, payloads = chat(sora2api.url, "put a halo on it", remix_target_id=sid)
    _, parser = events(payloads)
    assert parser.completed is not None and parser.completed.sid != sid
    task = parser.task_id
    with httpx.Client(timeout=30) as client:
        source = client.get(f"{sora2api.url}/source/{task}").json()
    assert source["parent_sid"] == sid and source["prompt"] == "put a halo on it"


def test_sora2api_unknown_share_id_fails_in_content(sora2api: EmulatorServer) -> None:
    _, payloads = chat(sora2api.url, "more", remix_target_id="s_" + "0" * 32)
    found, _ = events(payloads)
    assert isinstance(found[-1], FailedEvent) and "unknown sid" in found[-1].reason
    assert json.loads(payloads[-2])["choices"][0]["delta"]["content"].startswith("❌ 生成失败: ")


def test_sora2api_content_policy_as_the_relay_writes_it(sora2api: EmulatorServer) -> None:
    _, payloads = chat(sora2api.url, "a cow [fault:content-policy]")
    found, _ = events(payloads)
    assert isinstance(found[-1], FailedEvent) and "content policy" in found[-1].reason
    reasoning = [json.loads(p)["choices"][0]["delta"]["reasoning_content"] for p in payloads[:-1]]
    assert any(r and r.startswith("**Content Policy Violation**") for r in reasoning)


def test_sora2api_retry_notices_then_an_error_event(sora2api: EmulatorServer) -> None:
    _, payloads = chat(sora2api.url, "a cow [fault:error-in-stream]")
    found, _ = events(payloads)
    notices = [e for e in found if isinstance(e, TextEvent) and "正在重试" in e.text]
    assert len(notices) == 3
    assert isinstance(found[-1], FailedEvent) and payloads[-1] == "[DONE]"
    assert json.loads(payloads[-2])["error"]["type"] == "server_error"


def test_sora2api_reads_only_the_last_message_and_data_images(sora2api: EmulatorServer) -> None:
    history = [
        {"role": "user", "content": "ignored"},
        {"role": "assistant", "content": "> sid: s_" + "1" * 32},
    ]
    parts = [
        {"type": "text", "text": "a boat"},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}},
    ]
    body = {
        "model": "sora2-landscape-10s",
        "stream": True,
        "messages": [*history, {"role": "user", "content": parts}],
    }
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{sora2api.url}/v1/chat/completions", json=body, headers=AUTH)
        payloads = [e[6:] for e in response.text.split("\n\n") if e.startswith("data: ")]
        _, parser = events(payloads)
        source = client.get(f"{sora2api.url}/source/{parser.task_id}").json()
    assert source["parent_sid"] is None and source["orientation"] == "landscape"
    assert parser.completed is not None


# -- Videos task API -----------------------------------------------------------


def call(
    server: EmulatorServer, method: str, path: str, body: Any = None, auth: bool = True
) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.request(method, server.url + path, json=body, headers=AUTH if auth else {})


def finished(server: EmulatorServer, task_id: str) -> dict[str, Any]:
    for _ in range(400):
        status = call(server, "GET", f"/v1/videos/{task_id}").json()
        if status["status"] in ("completed", "failed"):
            return status
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} did not finish")


def test_videos_round_trip(videos: EmulatorServer) -> None:
    created = call(videos, "POST", "/v1/videos", {"model": "sora-2-landscape-10s", "prompt": "a"})
    body = created.json()
    assert created.status_code == 200
    assert list(body) == ["id", "object", "model", "status", "progress", "created_at", "size"]
    assert (body["object"], body["status"], body["progress"]) == ("video", "queued", 0)
    assert body["size"] == "1280x720"
    status = finished(videos, body["id"])
    assert (status["status"], status["progress"]) == ("completed", 100)
    content = call(videos, "GET", f"/v1/videos/{body['id']}/content")
    assert content.status_code == 200 and content.content[4:8] == b"ftyp"
    post = call(videos, "POST", "/v1/posts", {"task_id": body["id"]}).json()
    assert SID.match(post["post_id"])
    remix = call(
        videos,
        "POST",
        "/v1/videos/remix",
        {"model": "sora-2-landscape-10s", "prompt": "a halo", "remix_target": post["post_id"]},
    ).json()
    assert finished(videos, remix["id"])["status"] == "completed"
    source = call(videos, "GET", f"/source/{remix['id']}").json()
    assert source["parent_sid"] == post["post_id"] and source["turn"] == 2


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        pytest.param("POST", "/v1/chat/completions", {}, 404, None, id="no-chat"),
        pytest.param(
            "POST", "/v1/videos", {"model": "sora-2", "prompt": "a"}, 400, "未找到方向", id="model"
        ),
        pytest.param(
            "POST",
            "/v1/videos",
            {"model": "sora-2-portrait", "prompt": "a"},
            400,
            "未找到时长",
            id="duration",
        ),
        pytest.param("POST", "/v1/videos", {"model": "x"}, 400, "请求参数错误", id="no-prompt"),
        pytest.param("GET", "/v1/videos/task_nope", None, 404, "任务不存在", id="unknown-task"),
        pytest.param(
            "POST",
            "/v1/videos/remix",
            {"model": "sora-2-portrait-10s", "prompt": "a", "remix_target": "nope"},
            400,
            "无效的 remix_target",
            id="remix-target",
        ),
    ],
)
def test_videos_errors_in_the_relays_shape(
    videos: EmulatorServer, method: str, path: str, body: Any, status: int, message: str | None
) -> None:
    response = call(videos, method, path, body)
    assert response.status_code == status
    if message is None:
        assert response.json() == {"error": "not found"}
    else:
        assert message in response.json()["error"]["message"]


def test_videos_needs_the_key(videos: EmulatorServer) -> None:
    response = call(videos, "GET", "/v1/videos/task_x/content", auth=False)
    assert response.status_code == 401
    assert response.json() == {"error": {"message": "缺少 Authorization 头"}}


def test_videos_content_and_post_wait_for_completion(videos: EmulatorServer) -> None:
    # Held in its queue (slow-queue), so the early read is early on any machine:
    # at speed 500 a task's whole timeline is a few milliseconds.
    body = {"model": "sora-2-portrait-10s", "prompt": "a [fault:slow-queue]"}
    task = call(videos, "POST", "/v1/videos", body)
    task_id = task.json()["id"]
    early = call(videos, "GET", f"/v1/videos/{task_id}/content")
    assert early.status_code == 400 and "任务尚未完成" in early.json()["error"]["message"]
    finished(videos, task_id)


def test_videos_failure_carries_the_relays_reason(videos: EmulatorServer) -> None:
    body = {"model": "sora-2-portrait-10s", "prompt": "a [fault:content-policy]"}
    task_id = call(videos, "POST", "/v1/videos", body).json()["id"]
    status = finished(videos, task_id)
    assert status["status"] == "failed"
    assert status["error"]["message"].startswith("获取下载链接失败: 内容违规: ")


def test_videos_cut_drops_two_polls_then_answers(videos: EmulatorServer) -> None:
    body = {"model": "sora-2-portrait-10s", "prompt": "a [fault:cut]"}
    task_id = call(videos, "POST", "/v1/videos", body).json()["id"]
    broken = 0
    with httpx.Client(timeout=30) as client:
        for _ in range(400):
            try:
                status = client.get(f"{videos.url}/v1/videos/{task_id}", headers=AUTH).json()
            except httpx.TransportError:
                broken += 1
                continue
            if status["status"] == "completed":
                break
            time.sleep(0.01)
    assert broken == 2 and status["status"] == "completed"


def test_command_line_chooses_the_dialect() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).dialect == "transcript"
    assert parser.parse_args(["--dialect", "videos"]).dialect == "videos"
    with pytest.raises(SystemExit):
        parser.parse_args(["--dialect", "klingon"])


# -- the Videos API's recorded answers (tests/fixtures/videos, from
# go-sora2api's code) ---------

VIDEOS = SEED.parent / "videos"


def recorded(name: str) -> tuple[int, Any]:
    record = json.loads((VIDEOS / name).read_text(encoding="utf-8"))
    return record["status"], record["body"]


def test_videos_answers_have_the_recorded_shapes(videos: EmulatorServer) -> None:
    created = call(videos, "POST", "/v1/videos", {"model": "sora-2-landscape-10s", "prompt": "a"})
    status, body = recorded("create.json")
    assert created.status_code == status and list(created.json()) == list(body)
    finished(videos, created.json()["id"])
    done = call(videos, "GET", f"/v1/videos/{created.json()['id']}")
    assert list(done.json()) == list(recorded("status_completed.json")[1])
    post = call(videos, "POST", "/v1/posts", {"task_id": created.json()["id"]})
    assert list(post.json()) == list(recorded("post.json")[1])
    refused = call(videos, "POST", "/v1/videos", {"model": "sora-2", "prompt": "a"})
    assert (refused.status_code, refused.json()) == recorded("error_model.json")
    keyless = call(videos, "POST", "/v1/videos", {"model": "x", "prompt": "a"}, auth=False)
    assert (keyless.status_code, keyless.json()) == recorded("error_no_key.json")
    chat = call(videos, "POST", "/v1/chat/completions", {})
    assert (chat.status_code, chat.json()) == recorded("chat_404.json")
    failed = finished(
        videos,
        call(
            videos,
            "POST",
            "/v1/videos",
            {"model": "sora-2-landscape-10s", "prompt": "a [fault:content-policy]"},
        ).json()["id"],
    )
    assert list(failed) == list(recorded("status_failed.json")[1])
