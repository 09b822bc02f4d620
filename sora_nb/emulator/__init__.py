"""An offline stand-in for the sora-2 chat relay, making real, playable videos.

It speaks the relay's protocol byte for byte (see ``docs/protocol.md`` and
``tests/fixtures/transcript/``): ``POST /v1/chat/completions`` with ``stream``
true (SSE chunks of a markdown transcript) or false (one ``chat.completion``).
It is what ``sora_nb`` talks to when ``SORA_BASE_URL`` is unset.

Run it::

    python -m sora_nb.emulator --port 8765 [--speed N] [--api-key KEY]
                               [--data-dir DIR]
    sora-nb emulator --port 8765 [--dialect transcript|sora2api|videos|…]

    from sora_nb.emulator import serve_in_thread
    # port 0 (the default) is a free port; server.url says which
    with serve_in_thread(speed=50) as server:
        ...
    with serve_in_thread(dialect="videos") as server:
        ...

What it serves
--------------

``POST /v1/chat/completions``
    Bearer auth: with ``--api-key`` only that key, otherwise any non-empty
    token; else 401 in OpenAI's error shape. 400 for an unknown model or a
    malformed body. Models: ``sora-2`` (10 s, 360x640) and ``sora-2-pro`` (15 s,
    540x960). Portrait unless the prompt says ``横屏`` / ``16:9`` /
    ``landscape`` (``竖屏`` / ``9:16`` / ``portrait`` / ``窄屏``: portrait).
    Image to video: an ``image_url`` part with a ``data:`` URL or a URL of this
    emulator's files; any other URL cannot be fetched offline, so the video
    shows a labelled placeholder. Continuous modification: the last ``sid: s_…``
    in the assistant turns names the video to edit; the new video is that
    video's frames with the new instruction drawn on, so a chain of edits stays
    visible. Without orientation words an edit keeps its parent's orientation.
    An unknown sid gives a failure line. Timing at speed 1: about five seconds
    to a video; ``--speed N`` divides every delay by N. Each step is due at a
    fixed time after the request, as on a relay whose tasks run elsewhere: a
    busy emulator sends late chunks together (one write, the same chunks) rather
    than pushing every later step back.
``GET /source/{task_id}``
    The task as JSON: ``id``, ``status`` (queued, running, completed, failed),
    ``progress`` (0–100), ``url``, ``thumbnail_url``, ``failure_reason``,
    ``sid``, ``prompt``, ``model``, ``orientation``… Tasks run on the server
    whether or not anyone reads their stream.
``GET /web/{task_id}``
    A small HTML preview page.
``GET /files/{name}.mp4`` and ``.webp``
    H.264 ``yuv420p`` mp4 with ``faststart``, and its WebP thumbnail; Range
    requests get 206.

Media are rendered in worker threads, never on the event loop, and named by a
hash of what they depend on: identical requests share one encode. Frames show
each turn's instruction, a numbered badge per turn and some motion. CJK text
needs a CJK font (``$SORA_NB_FONT``, Noto CJK, WenQuanYi, Droid Sans Fallback,
PingFang, Microsoft YaHei, or any that ``fc-list :lang=zh`` finds); without one,
Pillow's default font draws boxes for those characters.

Fault injection
---------------

Choose a fault per request with the header ``X-Sora-Fault: NAME`` or by writing
``[fault:NAME]`` anywhere in the last user prompt (the tag is removed from the
echoed prompt; the header wins over the tag). ``NAMExN`` (``429x2``, ``500x1``,
``cutx1``) applies the fault to the first N requests with the same body only,
then they succeed: a client's retries can be seen to work.

=================== ============================================================
name                what happens
=================== ============================================================
``content-policy``  after the queue: ``> ❌ 生成失败: 内容违反使用政策 (content
                    policy violation)``
``fail-json``       after two progress numbers: ``> 生成失败，错误原因如下`` and
                    a ```json block with ``failure_reason``, ``code``,
                    ``task_id``
``cut``             the connection drops once progress has started, mid chunked
                    body (no final chunk, no ``[DONE]``); the task still
                    finishes and ``/source`` has the video. With ``stream:
                    false``, half of the JSON body then the drop
``no-video``        the stream ends with ``stop`` and ``[DONE]`` after the
                    progress, with no sid and no links; the task still finishes
                    and ``/source`` has the video
``401``             401 with an OpenAI-shaped error, as for a wrong key
``429``             429 with ``Retry-After: 1`` and an OpenAI-shaped
                    ``rate_limit_exceeded``
``500`` ``502``     that status with an nginx-style HTML body, as a gateway
                    sends
``503``             and ``error-in-stream``: after the first progress number,
                    ``data: {"error": {"message", "type"}}``, then the stream
                    ends (no ``[DONE]``); with ``stream: false``, a 500 error
``slow-queue``      a silent gap in the queue phase, 60 s at speed 1 (divided by
                    the speed)
``slow-progress``   the same gap after the second progress number: a bar held
                    part-way
``expired``         (gateways) the task ends with the gateway's expired status
                    instead of a video
``one-time-link``   (gateways) the signed result link answers once, then 410
``synonyms``        (resellers) the other family of status words, with a 0-1
                    progress
``no-openai-video`` (new-api) ``GET /v1/videos/{id}`` answers 501; its own route
                    answers
=================== ============================================================

An unknown fault name is a 400. The gateways (``--dialect newapi``, ``litellm``,
``openrouter``, ``xai``, ``grok2api``, ``flow2api``, ``reseller``;
docs/dialects.md, "Gateways") also gate each key at three running tasks (new-api
answers the fourth 429) and put signed result links on the other loopback name,
which is another origin.
"""

from __future__ import annotations

from ._app import create_app
from ._command import main
from ._server import EmulatorServer, serve_in_thread

__all__ = ["EmulatorServer", "create_app", "main", "serve_in_thread"]
