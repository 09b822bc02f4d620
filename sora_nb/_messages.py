"""Every user-facing sentence and label, in English and Chinese: one catalog for
the core's errors and the notebook's words alike, importable without Jupyter.

The relay's users are largely Chinese-speaking, so the language follows the
locale (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, then ``locale``)
unless ``%sora config --language`` or ``SoraMagics.language`` chooses one. A
message is written in the language in use when it is made (an error, when it is
raised).
"""

from __future__ import annotations

import locale
import os
from typing import Literal

__all__ = ["LANGUAGES", "Language", "detect_language", "language", "set_language", "t"]

Language = Literal["en", "zh"]

LANGUAGES: tuple[str, ...] = ("auto", "en", "zh")

_CATALOG: dict[str, tuple[str, str]] = {
    # key: (English, Chinese)
    "phase.sending": ("sending", "发送中"),
    "phase.queued": ("queued", "排队中"),
    "phase.generating": ("generating", "生成中"),
    "phase.resuming": ("resuming", "恢复中"),
    "phase.downloading": ("downloading", "下载中"),
    "phase.done": ("done", "完成"),
    "phase.failed": ("failed", "失败"),
    "phase.interrupted": ("interrupted", "已中断"),
    "phase.rate_limited": (
        "rate limited — retrying in {seconds} s",
        "请求受限，{seconds} 秒后重试",
    ),
    "phase.retrying": (
        "the relay answered {status} — retrying in {seconds} s",
        "服务端返回 {status}，{seconds} 秒后重试",
    ),
    "eta.left": ("about {time} left", "约剩 {time}"),
    "eta.typical": ("usually {time}", "通常需要 {time}"),
    # The relay's observed range for one generation (docs/protocol.md, "Response
    # stream"), until this session has a video from the same model.
    "eta.range": ("usually 1–30 min", "通常需要 1–30 分钟"),
    "link.video": ("video", "视频"),
    "link.relay": ("relay link", "中转链接"),
    "link.preview": ("preview", "预览"),
    "link.status": ("status", "状态"),
    "video.no_link": ("No playable link for this video.", "这个视频没有可播放的链接。"),
    "status.running": ("running", "生成中"),
    "status.done": ("done", "完成"),
    "status.failed": ("failed", "失败"),
    "status.interrupted": ("interrupted", "已中断"),
    "history.title": ("Session {name!r} · turns: {n}", "会话 {name!r} · 共 {n} 轮"),
    "history.page": (
        "Rows {first}–{last} of {n}, page {page} of {pages}: `%sora history --page N` shows "
        "another.",
        "第 {first}–{last} 行，共 {n} 行，第 {page}/{pages} 页："
        "`%sora history --page N` 查看其他页。",
    ),
    "history.empty": (
        "Session {name!r}: nothing generated yet.",
        "会话 {name!r}：还没有生成任何视频。",
    ),
    "history.from_image": ("made from an image", "由图片生成"),
    "history.edits": ("(edits #{n})", "（修改自 #{n}）"),
    # The core's errors (a sentence each: what happened, then what to do).
    "client.no_connect": (
        "Could not connect to the relay at {url}: {detail}.",
        "无法连接中转服务 {url}：{detail}。",
    ),
    "client.no_answer": (
        "The relay at {url} did not answer: {detail}.",
        "中转服务 {url} 没有应答：{detail}。",
    ),
    "client.refused_key": (
        "The relay refused the API key ({status}): {message}; check SORA_API_KEY.",
        "中转服务拒绝了 API 密钥（{status}）：{message}；请检查 SORA_API_KEY。",
    ),
    "client.rate_limited": (
        "The relay is rate limiting requests (429): {message}; wait and try again.",
        "中转服务正在限流（429）：{message}；请稍后再试。",
    ),
    "client.never_accepted": (
        "The relay was still refusing this request (429: {message}) when the deadline passed; "
        "it was never accepted, so nothing was paid: send it again later.",
        "截止时间已到，中转服务仍在拒绝这个请求（429：{message}）；它从未被接受，因此没有计费："
        "请稍后重新发送。",
    ),
    "client.status": (
        "The relay answered {status}: {message}.",
        "中转服务返回 {status}：{message}。",
    ),
    "client.broken": (
        "The stream of task {task} broke ({detail}); `%sora resume {task}` collects it.",
        "任务 {task} 的数据流中断（{detail}）；运行 `%sora resume {task}` 即可取回。",
    ),
    "turn.interrupted_task": (
        "The job was interrupted while task {task} ran; `%sora resume {task}` collects it.",
        "任务 {task} 运行时被中断；运行 `%sora resume {task}` 即可取回。",
    ),
    "turn.cancelled_task": (
        "The job was cancelled while task {task} ran; `%sora resume {task}` collects it.",
        "任务 {task} 运行时被取消；运行 `%sora resume {task}` 即可取回。",
    ),
    "turn.interrupted_none": (
        "The job was interrupted before the relay made a task.",
        "中转服务创建任务之前，作业已被中断。",
    ),
    "turn.cancelled_none": (
        "The job was cancelled before the relay made a task.",
        "中转服务创建任务之前，作业已被取消。",
    ),
    "history.no_index": (
        "No turn {ref} in session {name!r}: it has {n}.",
        "会话 {name!r} 中没有第 {ref} 轮：共 {n} 轮。",
    ),
    "history.no_ref": (
        "No turn {ref!r} in session {name!r}: use an index, a name, a task id or a sid.",
        "会话 {name!r} 中没有 {ref!r}：请用序号、名称、任务 ID 或 sid。",
    ),
    "history.nothing_to_edit": (
        "Session {name!r} has no finished video to edit: generate one first.",
        "会话 {name!r} 还没有可修改的视频：请先生成一个。",
    ),
    "history.nothing_to_resume": (
        "Session {name!r} has no interrupted turn to resume.",
        "会话 {name!r} 没有可恢复的中断任务。",
    ),
    "history.not_interrupted": (
        "Turn #{index} is {status}: only interrupted turns resume.",
        "第 #{index} 轮状态为{status}：只有已中断的任务可以恢复。",
    ),
    "history.no_task": (
        "Turn #{index} stopped before the relay made a task, so generate it again.",
        "第 #{index} 轮在中转服务创建任务前就停止了，请重新生成。",
    ),
    "ask.unknown_option": (
        "{name!r} is not an option of a generation: see help(sora_nb.generate).",
        "{name!r} 不是生成的选项：请查看 help(sora_nb.generate)。",
    ),
    "ask.seconds": (
        "{name} must be a whole number of seconds above 0, not {value!r}.",
        "{name} 必须是大于 0 的整数秒数，而不是 {value!r}。",
    ),
    "dialect.unknown": (
        "Unknown dialect {name!r}: use {known} (docs/dialects.md).",
        "未知的中转类型 {name!r}：请使用 {known}（见 `docs/dialects.md`）。",
    ),
    "dialect.no_stream": (
        "A {title} relay has no chat stream: use generate().",
        "{title} 中转服务没有聊天流：请使用 generate()。",
    ),
    "request.empty_prompt": (
        "The prompt is empty: describe the video you want.",
        "提示词为空：请描述你想要的视频。",
    ),
    "request.orientation": (
        "Unknown orientation {value!r}: use portrait (9:16) or landscape (16:9).",
        "未知的方向 {value!r}：请用 portrait（竖屏 9:16）或 landscape（横屏 16:9）。",
    ),
    "request.not_image": (
        "The image {what} is not a PNG, JPEG, WebP or GIF file.",
        "图片 {what} 不是 PNG、JPEG、WebP 或 GIF 文件。",
    ),
    "request.no_file": (
        "No image file at {path!r}: check the path.",
        "找不到图片文件 {path!r}：请检查路径。",
    ),
    "notice.emulator": (
        "sora_nb: no SORA_BASE_URL set — using the embedded emulator at {url} "
        "(set SORA_BASE_URL and SORA_API_KEY to use a real relay).",
        "sora_nb：未设置 SORA_BASE_URL，正在使用内置模拟器 {url}"
        "（设置 SORA_BASE_URL 和 SORA_API_KEY 即可连接真实中转服务）。",
    ),
    "failed.reason": ("Generation failed: {reason}", "生成失败：{reason}"),
    "failed.no_reason": ("Generation failed.", "生成失败。"),
    "failed.task": (" (task {task})", "（任务 {task}）"),
    "plain.prompt": ("prompt: {prompt}", "提示词：{prompt}"),
    "plain.local": ("local:  {path}", "本地：{path}"),
    "plain.video": ("video:  {url}", "视频：{url}"),
    "interrupted.task": (
        "Interrupted: task {task} may still finish on the relay; "
        "run `%sora resume {task}` to collect it.",
        "已中断：任务 {task} 可能仍会在服务端完成，运行 `%sora resume {task}` 取回。",
    ),
    "interrupted.ran": (
        "Interrupted while task {task} ran.",
        "任务 {task} 运行时被中断。",
    ),
    "interrupted.none": (
        "Interrupted before the relay created a task; nothing was generated.",
        "已中断：服务端尚未创建任务，未生成任何内容。",
    ),
    "error.unknown_name": (
        "The prompt uses {{{name}}} but no variable {name!r} exists: define it first, "
        "or write {{{{ and }}}} for literal braces.",
        "提示词使用了 {{{name}}}，但变量 {name!r} 不存在："
        "请先定义它，或用 {{{{ 和 }}}} 表示花括号。",
    ),
    "error.bad_braces": (
        "The prompt has an unmatched brace ({detail}): write {{{{ and }}}} for literal braces.",
        "提示词中的花括号不配对（{detail}）：请用 {{{{ 和 }}}} 表示花括号。",
    ),
    "error.bad_field": (
        "The prompt's field {{{field}}} cannot be filled in ({detail}): "
        "write {{{{ and }}}} for literal braces.",
        "无法填入提示词中的 {{{field}}}（{detail}）：请用 {{{{ 和 }}}} 表示花括号。",
    ),
    "error.history_args": (
        "%sora history takes only --page N, not {rest!r}.",
        "%sora history 只接受 --page N，而不是 {rest!r}。",
    ),
    "error.some_file": ("(the system named none)", "（系统未给出文件名）"),
    "error.file": (
        "Cannot use the file {name}: {reason}; pick a folder you can write to.",
        "无法使用文件 {name}：{reason}；请选择可写入的文件夹。",
    ),
    "error.bad_name": (
        "--as needs a Python variable name, not {name!r}.",
        "--as 需要一个 Python 变量名，而不是 {name!r}。",
    ),
    "error.nothing_to_edit": (
        "Nothing to edit yet: make a video with %%sora first, or name one with --edit NAME.",
        "还没有可以修改的视频：请先用 %%sora 生成一个，或用 --edit 名称 指定视频。",
    ),
    "error.unknown_command": (
        "Unknown command {cmd!r}: use one of config, history, reset, resume, panel, help.",
        "未知命令 {cmd!r}：可用的有 config、history、reset、resume、panel、help。",
    ),
    "error.no_stdin": (
        "This frontend cannot prompt for the key: set SORA_API_KEY before starting Jupyter.",
        "当前前端无法输入密钥：请在启动 Jupyter 前设置 SORA_API_KEY。",
    ),
    "error.bad_ratio": (
        "Unknown ratio {ratio!r}: use 9:16 (portrait) or 16:9 (landscape).",
        "未知的宽高比 {ratio!r}：请用 9:16（竖屏）或 16:9（横屏）。",
    ),
    "error.no_shell": (
        "sora_nb.generate() and edit() show their progress in IPython or Jupyter; "
        "elsewhere use `await sora_nb.Session().generate(…)`.",
        "sora_nb.generate() 和 edit() 需要在 IPython 或 Jupyter 中显示进度；"
        "其他环境请使用 `await sora_nb.Session().generate(…)`。",
    ),
    "error.empty_cell": (
        "The prompt is empty: write the video's description in the cell body.",
        "提示词为空：请在单元格中写下视频描述。",
    ),
    "background.started": (
        "running in the background: the video shows here when it is ready",
        "后台生成中：视频完成后会显示在这里",
    ),
    "background.no_loop": (
        "--background needs a running event loop (a Jupyter kernel); running it here instead.",
        "--background 需要运行中的事件循环（Jupyter 内核）；改为在此直接运行。",
    ),
    "embed.warning": (
        "--embed stores the whole video in the notebook ({size:.1f} MB, kept in every save).",
        "--embed 会把整个视频存入笔记本（{size:.1f} MB，每次保存都会保留）。",
    ),
    "hint.key": (
        "To type the key without saving it in the notebook: %sora config --api-key",
        "如需输入密钥且不保存在笔记本中：%sora config --api-key",
    ),
    "reset.done": ("History cleared.", "历史记录已清除。"),
    "key.not_set": ("not set", "未设置"),
    "key.prompt": ("API key (input hidden): ", "API 密钥（输入不显示）："),
    "config.emulator_lazy": (
        "embedded emulator (starts on first use)",
        "内置模拟器（首次使用时启动）",
    ),
    "config.emulator": ("embedded emulator", "内置模拟器"),
    "config.relay_default": ("relay default", "中转默认"),
    "config.no_save": ("no local copies", "不保存本地副本"),
    "config.base_url": ("base URL", "服务地址"),
    "config.api_key": ("API key", "API 密钥"),
    "config.model": ("model", "模型"),
    "config.orientation": ("orientation", "方向"),
    "config.save_dir": ("save dir", "保存目录"),
    "config.language": ("language", "语言"),
    "config.session": ("session", "会话"),
    "config.autosave": ("autosave", "自动保存"),
    "config.dialect": ("dialect", "中转类型"),
    "panel.prompt": ("Describe the video…", "描述你想要的视频…"),
    "panel.model": ("Model", "模型"),
    "panel.orientation": ("Shape", "方向"),
    "panel.auto": ("relay default", "默认"),
    "panel.portrait": ("portrait 9:16", "竖屏 9:16"),
    "panel.landscape": ("landscape 16:9", "横屏 16:9"),
    "panel.image": ("Image", "参考图"),
    "panel.generate": ("Generate", "生成"),
    "panel.edit": ("Edit latest", "修改最新"),
    "panel.cancel": ("Cancel", "取消"),
    "panel.busy": (
        "A video is already being made: wait for it to finish.",
        "已有视频在生成中，请稍候。",
    ),
    # Downloads, URLs and requests (_download, wire/_limits, _config, _secret).
    "download.scheme": (
        "Cannot download {url!r}: only http(s) URLs are fetched.",
        "无法下载 {url!r}：只能下载 http(s) 链接。",
    ),
    "download.disk": (
        "Cannot write the copy of {url} to {path}: {detail}.",
        "无法把 {url} 的副本写入 {path}：{detail}。",
    ),
    "download.what": ("The link {url}", "链接 {url}"),
    "download.too_many": (
        "Too many copies named {name} in {folder}.",
        "{folder} 中名为 {name} 的副本太多了。",
    ),
    "download.broken": (
        "The download of {url} kept breaking ({detail}); "
        "run it again to continue from the part already saved.",
        "{url} 的下载多次中断（{detail}）；再运行一次即可从已保存的部分继续。",
    ),
    "download.too_big": (
        "The file at {url} is over the {mib:.0f} MiB limit "
        "(max_download_bytes); it stays playable from its link.",
        "{url} 的文件超过 {mib:.0f} MiB 上限（`max_download_bytes`）；仍可通过链接播放。",
    ),
    "download.status": (
        "The download of {url} answered {status}; the link may have expired.",
        "下载 {url} 时服务器返回 {status}；链接可能已过期。",
    ),
    "download.other_range": (
        "the server answered a different byte range",
        "服务器返回了另一段字节范围",
    ),
    "download.part_changed": (
        "the saved part no longer matches the file",
        "已保存的部分与文件不再一致",
    ),
    "download.short": ("{have} of {total} bytes arrived", "只收到 {total} 字节中的 {have} 字节"),
    "download.loop": ("more than 20 redirects", "重定向超过 20 次"),
    "download.too_local": (
        "Not fetched: {url} is on {where}, and the relay is not; it stays playable from its link.",
        "未下载：{url} 位于{where}，而中转服务不在那里；仍可通过链接播放。",
    ),
    "where.loopback": ("this machine's loopback address", "本机回环地址"),
    "where.private": ("a private network address", "私有网络地址"),
    "download.not_media": (
        "The link {url} answered {what}, not a video or image; it was not kept.",
        "链接 {url} 返回的是{what}，不是视频或图片；未保存。",
    ),
    "download.deadline": (
        "The copy of {url} did not finish by the deadline; it stays playable from its link.",
        "{url} 的副本未能在截止时间前完成；仍可通过链接播放。",
    ),
    "client.lookup_deadline": (
        "The relay did not answer about task {task} by the deadline; try again later.",
        "中转服务未在截止时间前答复任务 {task} 的状态；请稍后再试。",
    ),
    "guard.loop": (
        "{what} redirects in a loop ({detail}); the link is broken.",
        "{what} 陷入循环重定向（{detail}）；链接已失效。",
    ),
    "guard.decoding": (
        "{what} sent a body that cannot be decoded (a wrong Content-Encoding): {detail}.",
        "{what} 返回的内容无法解码（Content-Encoding 有误）：{detail}。",
    ),
    "guard.decoding_detail": (
        "a body that cannot be decoded, as its Content-Encoding says ({detail})",
        "内容无法按其 Content-Encoding 解码（{detail}）",
    ),
    "guard.bad_url": ("{what} has an invalid URL: {detail}.", "{what} 的地址无效：{detail}。"),
    "guard.timeout": ("{what} timed out ({detail}).", "{what} 超时（{detail}）。"),
    "guard.unreachable": ("Could not reach {what}: {detail}.", "无法访问 {what}：{detail}。"),
    "guard.deadline": ("the generation's deadline passed", "已超过本次生成的时限"),
    "guard.long_line": (
        "a stream line passed {mib} MiB without ending",
        "数据流中的一行超过 {mib} MiB 仍未结束",
    ),
    "guard.long_transcript": (
        "the transcript passed {mi} Mi characters",
        "回复内容超过 {mi} Mi 个字符",
    ),
    "client.what_relay": ("The relay at {url}", "中转服务 {url}"),
    "client.what_status": ("The status URL {url}", "状态地址 {url}"),
    "config.what_base_url": ("The base URL", "服务地址"),
    "config.bad_url": (
        "{what} {url!r} is not a valid URL ({detail}).",
        "{what} {url!r} 不是有效的地址（{detail}）。",
    ),
    "config.not_http": (
        "{what} {url!r} is not an http(s) URL with a host.",
        "{what} {url!r} 不是带主机名的 http(s) 地址。",
    ),
    "config.bad_port": (
        "{what} {url!r} has port {port}: use 1–65535.",
        "{what} {url!r} 的端口是 {port}：请用 1–65535。",
    ),
    "secret.not_str": (
        "A Secret holds a str, not {kind}.",
        "`Secret` 只能保存 `str`，而不是 {kind}。",
    ),
    "secret.no_pickle": (
        "A Secret is never pickled: keep the key in SORA_API_KEY.",
        "`Secret` 不能被序列化：请把密钥放在 SORA_API_KEY 中。",
    ),
    # Requests, sessions and the Videos API (_request, _history, _videos_api).
    "request.model_empty": (
        "The model name {model!r} is empty: use sora-2 or your relay's.",
        "模型名 {model!r} 为空：请用 sora-2 或中转服务提供的模型。",
    ),
    "request.model_spaces": (
        "The model name {model!r} has spaces: model names have none.",
        "模型名 {model!r} 含有空格：模型名中不能有空格。",
    ),
    "request.image_size": (
        "The image {what} is {size:.1f} MiB: images are limited to "
        "{limit} MiB, so resize it or pass an https URL.",
        "图片 {what} 有 {size:.1f} MiB：图片上限为 {limit} MiB，请缩小图片或改用 `https` 链接。",
    ),
    "request.what_bytes": ("given as bytes", "（以字节形式给出）"),
    "request.what_data_url": ("in the data URL", "（`data:` 链接中）"),
    "request.image_empty": (
        "The image is empty: give a local file's path or an https:// URL.",
        "图片为空：请给出本地文件路径或 `https://` 链接。",
    ),
    "request.image_http": (
        "The image URL {url!r} is http://: relays fetch images over https only, "
        "so use an https:// URL or a local file.",
        "图片链接 {url!r} 是 `http://`：中转服务只通过 `https` 获取图片，"
        "请改用 `https://` 链接或本地文件。",
    ),
    "request.image_unreadable": (
        "Cannot read the image {what!r}: {detail}.",
        "无法读取图片 {what!r}：{detail}。",
    ),
    "request.data_url_kind": (
        "The image data URL is not a base64 PNG, JPEG, WebP or GIF.",
        "图片的 `data:` 链接不是 `base64` 编码的 PNG、JPEG、WebP 或 GIF。",
    ),
    "request.data_url_base64": (
        "The image data URL does not hold valid base64.",
        "图片的 `data:` 链接中不是有效的 `base64` 数据。",
    ),
    "request.sora2api_link": (
        "{name} is a sora2api model, and those relays drop image links: "
        "pass the image as a local file or bytes so it goes inline.",
        "{name} 是 sora2api 模型，这类中转服务会丢弃图片链接："
        "请以本地文件或字节形式传入图片，使其内嵌在请求中。",
    ),
    "history.no_name": ("A session needs a non-empty name.", "会话需要一个非空的名称。"),
    "history.no_video": (
        "Turn #{index} is {status}, so it has no video: {hint}.",
        "第 #{index} 轮状态为{status}，因此没有视频：{hint}。",
    ),
    "history.hint.running": ("wait for it to finish", "请等待它完成"),
    "history.hint.interrupted": ("resume it first", "请先恢复它"),
    "history.hint.failed": ("edit a finished turn instead", "请改为修改一个已完成的轮次"),
    "history.hint.other": ("pick a finished turn", "请选择一个已完成的轮次"),
    "history.no_sid": (
        "Turn #{index} has no sid, so the relay cannot remix it.",
        "第 #{index} 轮没有 sid，中转服务无法基于它修改。",
    ),
    "history.nothing_to_copy": (
        "Session {name!r} has no finished video to copy.",
        "会话 {name!r} 没有可保存副本的已完成视频。",
    ),
    "history.copies_off": (
        "Local copies are off: set save_dir first.",
        "本地副本已关闭：请先设置 `save_dir`。",
    ),
    "videos.no_task_id": (
        "This video has no task id on the Videos API, so the relay cannot remix it.",
        "这个视频在 `Videos API` 上没有任务 ID，中转服务无法基于它修改。",
    ),
    "videos.no_post_id": (
        "The relay published the video but gave no post_id to remix it by.",
        "中转服务发布了视频，却没有给出用于修改的 `post_id`。",
    ),
    "videos.bad_id": (
        "The relay named its task {task}, which no URL can carry: ask the relay's operator "
        "for the video, it may have been billed.",
        "中转服务给出的任务 ID {task} 无法放进 URL：请向中转服务的运营者索取视频，可能已计费。",
    ),
    "videos.no_id": (
        "The relay accepted the request but gave no task id to follow it by.",
        "中转服务接受了请求，却没有给出可跟踪的任务 ID。",
    ),
    "videos.poll_failed": ("poll failed: {error}", "查询失败：{error}"),
    "videos.deadline": ("the deadline passed", "已超过时限"),
    "videos.not_json": ("the status was not JSON", "状态不是 JSON 格式"),
    "videos.refused_key": (
        "The relay refused the API key while polling the task ({status}); check SORA_API_KEY.",
        "查询任务时中转服务拒绝了 API 密钥（{status}）；请检查 SORA_API_KEY。",
    ),
    "videos.status": (
        "The relay answered {status} for task {task}: {message}.",
        "中转服务对任务 {task} 返回 {status}：{message}。",
    ),
    "videos.failure": ("the relay reported a failure", "中转服务报告生成失败"),
    "request.duration": (
        "duration must be a whole number of seconds, not {value!r}.",
        "`duration` 必须是整数秒，而不是 {value!r}。",
    ),
    "request.aspect_ratio": (
        "aspect_ratio must look like 16:9, not {value!r}.",
        "`aspect_ratio` 应形如 16:9，而不是 {value!r}。",
    ),
    "request.resolution": (
        "resolution must look like 720p, not {value!r}.",
        "`resolution` 应形如 720p，而不是 {value!r}。",
    ),
    "request.audio": (
        "audio must be True or False, not {value!r}.",
        "`audio` 只能是 `True` 或 `False`，而不是 {value!r}。",
    ),
    "ask.how": (
        "how must be remix, edit, extend or last-frame, not {value!r}.",
        "`how` 只能是 `remix`、`edit`、`extend` 或 `last-frame`，而不是 {value!r}。",
    ),
    "gateway.option": (
        "{model} does not take {what}={value}: use one of {allowed}.",
        "{model} 不支持 {what}={value}：可用 {allowed}。",
    ),
    "gateway.no_first_frame": (
        "{model} takes no image: drop the image or pick an image-to-video model.",
        "{model} 不接受图片：去掉图片，或换一个图生视频模型。",
    ),
    "gateway.no_last_frame": (
        "{model} takes no last frame: drop last_frame or pick a first-and-last-frame model.",
        "{model} 不接受尾帧：去掉 `last_frame`，或换一个支持首尾帧的模型。",
    ),
    "gateway.no_audio": (
        "{model} makes no audio: drop audio=True.",
        "{model} 不生成音频：去掉 `audio=True`。",
    ),
    "gateway.no_field": (
        "{gateway} has no field for {what}: leave it out with this gateway.",
        "{gateway} 没有 {what} 字段：在这个网关上请不要设置它。",
    ),
    "gateway.none": ("none", "无"),
    "gateway.no_continuation": (
        "{model} offers no {kind} here; what it offers: {offered}.",
        "{model} 在这里不支持 {kind}；它支持：{offered}。",
    ),
    "gateway.ended": ("the gateway says the task is {word}", "网关报告任务状态为 {word}"),
    "gateway.no_link": (
        "{gateway} said the video is done but gave no link to it",
        "{gateway} 报告视频已完成，却没有给出链接",
    ),
    "gateway.unknown": (
        "Unknown dialect {name!r}: use one of {names} (docs/dialects.md).",
        "未知的中转类型 {name!r}：可用 {names}（见 `docs/dialects.md`）。",
    ),
    "gateway.cannot_tell": (
        "Could not tell which gateway {url} is: set dialect= (or SORA_DIALECT) to one of {names}.",
        "无法判断 {url} 是哪种网关：请把 `dialect=`（或 SORA_DIALECT）设为 {names} 之一。",
    ),
    "gateway.no_models": (
        "{gateway} lists no models: see docs/dialects.md for the names it serves.",
        "{gateway} 不提供模型列表：可用的名称见 `docs/dialects.md`。",
    ),
    "gateway.no_parent_file": (
        "The last frame of turn {index} is needed, but its video could not be read: {detail}",
        "需要第 {index} 轮视频的最后一帧，但无法读取该视频：{detail}",
    ),
    "client.poll_lost": (
        "Task {task} did not finish while polling ({detail}); "
        "run `%sora resume {task}` or SoraClient.resume() later.",
        "轮询期间任务 {task} 没有完成（{detail}）；"
        "稍后运行 `%sora resume {task}` 或 SoraClient.resume() 取回。",
    ),
    # Batches, their files and journals (_batch, _batch_items, _journal).
    "batch.where.item": ("Item {n}", "第 {n} 项"),
    "batch.where.row": ("{path} row {n}", "{path} 第 {n} 行"),
    "batch.where.line": ("{path} line {n}", "{path} 第 {n} 行"),
    "batch.where.journal": ("{path} item {n}", "{path} 第 {n} 项"),
    "batch.at_least_one": (
        "{what} must be at least 1, not {value}.",
        "{what} 至少为 1，而不是 {value}。",
    ),
    "batch.not_run": ("This item has not run yet.", "这一项还没有运行。"),
    "batch.unexpected": (
        "This item failed unexpectedly: {detail}.",
        "这一项意外失败：{detail}。",
    ),
    "batch.journal_needs_autosave": (
        "journal=True needs a session with an autosave file.",
        "`journal=True` 需要一个带自动保存文件的会话。",
    ),
    "batch.journal_unfinished": (
        "The journal {path} holds an unfinished batch: resume it "
        "(`%sora batch --resume {path}`) or choose another journal file.",
        "日志 {path} 中有未完成的批量任务：请恢复它"
        "（`%sora batch --resume {path}`），或另选一个日志文件。",
    ),
    "batch.no_prompts": (
        "The batch has no prompts: give at least one.",
        "批量任务中没有提示词：请至少给出一个。",
    ),
    "batch.not_prompt": ("{where} is not a prompt.", "{where} 不是提示词。"),
    "batch.unknown_columns": (
        "{where} has unknown columns {unknown}: use {columns}.",
        "{where} 有未知的列 {unknown}：可用的列有 {columns}。",
    ),
    "batch.item_problem": ("{where}: {detail}", "{where}有误：{detail}"),
    "batch.not_identifier": (
        "the name {name!r} is not a Python identifier",
        "名称 {name!r} 不是合法的 Python 标识符",
    ),
    "batch.unreadable": (
        "Cannot read the batch file {path}: {detail}.",
        "无法读取批量文件 {path}：{detail}。",
    ),
    "batch.no_prompt_column": (
        "{path} has no 'prompt' column in its header row.",
        "{path} 的表头中没有 `prompt` 列。",
    ),
    "batch.extra_cells": (
        "{path} row {n} has more cells than its header.",
        "{path} 第 {n} 行的单元格比表头多。",
    ),
    "batch.not_json": (
        "{path} line {n} is not JSON: {detail}.",
        "{path} 第 {n} 行不是 JSON：{detail}。",
    ),
    "journal.unreadable": (
        "Cannot read the batch journal {path}: {detail}.",
        "无法读取批量日志 {path}：{detail}。",
    ),
    "journal.busy": (
        "The journal {path} is in use by another batch (this kernel or another one): wait "
        "for it to finish, then resume it, or choose another journal file.",
        "日志 {path} 正被另一个批量任务使用（本内核或其他内核）：请等它结束后再恢复，"
        "或另选一个日志文件。",
    ),
    "journal.cannot_open": (
        "Cannot use the batch journal {path}: {detail}.",
        "无法使用批量日志 {path}：{detail}。",
    ),
    "journal.plan_lost": (
        "The journal's plan line for item {n} is damaged, so its prompt is lost: it was not "
        "sent again; add it to a new batch if it is still wanted.",
        "日志中第 {n} 项的计划行已损坏，提示词丢失：它没有被重新发送；"
        "如仍需要，请加入新的批量任务。",
    ),
    "journal.unwritable": (
        "The batch stopped: its journal {path} cannot be written ({detail}), and no item is "
        "sent unless the journal records it; free the disk, then resume the batch.",
        "批量任务已停止：无法写入其日志 {path}（{detail}），日志记录不了的项不会发送；"
        "请腾出磁盘空间后继续这个批量任务。",
    ),
    "journal.no_header": (
        "{path} is not a sora_nb batch journal: it has no header line.",
        "{path} 不是 sora_nb 的批量日志：它没有表头行。",
    ),
    "journal.not_journal": (
        "{path} is not a sora_nb batch journal.",
        "{path} 不是 sora_nb 的批量日志。",
    ),
    "journal.newer": (
        "{path} was written by a newer sora_nb (journal version {version!r}).",
        "{path} 由更新版本的 sora_nb 写入（日志版本 {version!r}）。",
    ),
    # The studio's words (notebook/_panel via _labels).
    "studio.status.running": ("running", "生成中"),
    "studio.status.done": ("done", "完成"),
    "studio.status.failed": ("failed", "失败"),
    "studio.status.interrupted": ("interrupted", "已中断"),
    "studio.from_image": ("from an image", "来自图片"),
    "studio.edits": ("edits #{n}", "修改自 #{n}"),
    "studio.empty": (
        "No videos yet: describe one above and press Generate.",
        "还没有视频：在上方描述后点“生成”。",
    ),
    "studio.play": ("Play", "播放"),
    "studio.resume": ("Resume", "恢复"),
    "studio.copy": ("Copy prompt", "复制提示词"),
    "studio.copied": ("Copied", "已复制"),
    "studio.download": ("Download", "下载"),
    "studio.generate": ("Generate", "生成"),
    "studio.how.remix": ("remix", "重混"),
    "studio.how.edit": ("edit", "编辑"),
    "studio.how.extend": ("extend", "延长"),
    "studio.how.last-frame": ("continuation from the last frame", "从最后一帧接续"),
    "studio.edit": ("Edit selected", "修改所选"),
    "studio.clear_image": ("Clear image", "移除图片"),
    "studio.image": ("Image", "参考图"),
    "studio.cancel": ("Cancel", "取消"),
    "studio.close": ("Close", "关闭"),
    "studio.lineage": ("Lineage", "修改链"),
    "studio.selected": ("Selected", "已选"),
    "studio.nothing_selected": (
        "Select a finished video to play it and edit it.",
        "选择一个已完成的视频来播放和修改。",
    ),
    "studio.shortcut": ("Ctrl/Cmd+Enter generates", "Ctrl/Cmd+Enter 生成"),
    "studio.record": ("Videos made in this studio: {n}", "本工作室生成的视频：{n} 个"),
    "studio.resumed_elsewhere": (
        "This turn is not interrupted any more.",
        "该轮已不再是中断状态。",
    ),
    "studio.no_local_copy": (
        "No local copy of this video: it plays from the relay's link.",
        "没有本地副本：从中转链接播放。",
    ),
    # The studio app's words (issue 24: notebook/_studio and static/studio.js).
    "studio.compare": ("Compare", "对比"),
    "studio.compare_hint": (
        "Compare: pick a second finished video.",
        "对比：再选一个已完成的视频。",
    ),
    "studio.stop_compare": ("Stop comparing", "结束对比"),
    "studio.last_frame": ("Continue from last frame", "从最后一帧继续"),
    "studio.drop": ("Drop or paste an image", "拖入或粘贴图片"),
    "studio.end_on": ("End on a picture", "以图片结尾"),
    "studio.page": ("Page {n} of {pages}", "第 {n} / {pages} 页"),
    "studio.previous": ("Previous", "上一页"),
    "studio.next": ("Next", "下一页"),
    "studio.turns": ("{n} videos", "{n} 个视频"),
    "studio.duration": ("Length", "时长"),
    "studio.ratio": ("Shape", "画幅"),
    "studio.resolution": ("Quality", "清晰度"),
    "studio.audio": ("Sound", "声音"),
    "studio.seconds": ("{n} s", "{n} 秒"),
    "studio.model": ("Model", "模型"),
    "studio.prompt": ("Describe the video…", "描述你想要的视频…"),
    "studio.auto": ("Automatic", "自动"),
    "studio.portrait": ("Portrait 9:16", "竖屏 9:16"),
    "studio.landscape": ("Landscape 16:9", "横屏 16:9"),
    "studio.offline": (
        "Videos come from the built-in demo relay, which works offline.",
        "视频来自内置的离线演示中转服务。",
    ),
    "studio.not_an_image": (
        "That file is not a picture: use a PNG, JPEG, GIF or WebP image.",
        "该文件不是图片：请使用 PNG、JPEG、GIF 或 WebP 图片。",
    ),
    "studio.interrupted_tile": (
        "Stopped before it finished; the relay may still have it. Press Resume to collect it.",
        "在完成前停止；中转服务可能仍保留它。点“恢复”取回。",
    ),
    # A turn's continuation named as its model offers it, and a chain's export
    # (issue 22).
    "studio.continue.remix": ("Remix", "重混"),
    "studio.continue.edit": ("Edit", "编辑"),
    "studio.continue.extend": ("Extend", "延长"),
    "studio.continue.last-frame": ("Continue from last frame", "从最后一帧继续"),
    "studio.no_continuation": (
        "{model} offers no way to continue a video here, so this turn cannot be changed.",
        "{model} 在这里不提供任何接续方式，所以这个轮次无法修改。",
    ),
    "studio.export": ("Export chain", "导出整条链"),
    "studio.no_chain": (
        "Video #{index} is a first take, not a change of another, so it has no chain to export.",
        "视频 #{index} 是第一版，不是对其他视频的修改，所以没有可导出的链。",
    ),
    "studio.exporting": ("Exporting the chain…", "正在导出整条链…"),
    "studio.exported": ("The chain as one video: {name}", "整条链合成的视频：{name}"),
    "studio.export_failed": (
        "The chain could not be exported: {reason}.",
        "无法导出整条链：{reason}。",
    ),
    "studio.disk_full": (
        "The chain could not be exported because the disk is full: free some space, then "
        "export it again.",
        "磁盘已满，无法导出整条链：请腾出空间后再导出。",
    ),
    "phase.stop_cancels": (
        "stopping now cancels this video on the relay, and it cannot be resumed",
        "现在停止会在中转服务上取消这个视频，且无法恢复",
    ),
    # The batch view (notebook/_batch_view).
    "batchview.retry": ("Retry failed", "重试失败项"),
    "batchview.done": ("{n} done", "{n} 完成"),
    "batchview.failed": ("{n} failed", "{n} 失败"),
    "batchview.running": ("{n} running", "{n} 生成中"),
    "batchview.queued": ("{n} queued", "{n} 排队中"),
    "batchview.per_minute": ("{n:.0f}/min", "{n:.0f} 个/分钟"),
    "batchview.left": ("~{time} left", "约剩 {time}"),
    "batchview.more": ("+{n} more in the results", "结果中还有 {n} 个"),
    "batchview.videos": (
        "videos: {done} · failed: {failed}",
        "视频：{done} 个 · 失败：{failed} 个",
    ),
    "batchview.no_prompts": (
        "Give prompts to run, or resume=JOURNAL to finish a batch.",
        "请给出要运行的提示词，或用 `resume=JOURNAL` 完成一个批量任务。",
    ),
    "batchview.interrupted": (
        "The batch was interrupted with {done} done{hint}.",
        "批量任务已中断，已完成 {done} 个{hint}。",
    ),
    "batchview.resume_hint": (
        "; `%sora batch --resume {where}` finishes it",
        "；运行 `%sora batch --resume {where}` 可以完成剩下的",
    ),
    "batchview.bad_name": (
        "--as {name!r} is not a Python name.",
        "--as {name!r} 不是合法的 Python 变量名。",
    ),
    "batchview.file_or_resume": (
        "Give a prompts FILE, or --resume JOURNAL (one of the two).",
        "请给出提示词文件 FILE，或 --resume JOURNAL（二选一）。",
    ),
    "history.copy_failed": ("No local copy was saved: {detail}", "未保存本地副本：{detail}"),
    "client.empty_stream": (
        "the stream ended with no task, no video and no failure line",
        "数据流结束了，却没有任务、视频或失败信息",
    ),
    "panel.needs_ipython": (
        "sora_nb.panel() needs IPython: run it in a Jupyter notebook.",
        "sora_nb.panel() 需要 IPython：请在 Jupyter 笔记本中运行。",
    ),
}

_setting: str = "auto"


def set_language(value: str) -> None:
    """Choose ``en``, ``zh`` or ``auto`` (follow the locale)."""
    global _setting
    if value not in LANGUAGES:
        raise ValueError(f"Unknown language {value!r}: use auto, en or zh.")
    _setting = value


def detect_language() -> Language:
    """The locale's language: ``zh`` for any Chinese locale, else ``en``."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    name = locale.getlocale()[0] or ""
    return "zh" if name.lower().startswith("zh") else "en"


def language() -> Language:
    """The language in use now."""
    return detect_language() if _setting == "auto" else _setting  # type: ignore[return-value]


def t(key: str, **fields: object) -> str:
    """The message ``key`` in the current language, with ``fields``."""
    english, chinese = _CATALOG[key]
    return (chinese if language() == "zh" else english).format(**fields)
