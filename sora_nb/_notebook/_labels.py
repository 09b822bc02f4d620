"""The studio's own words, in English and Chinese (the language ``_i18n`` chose)."""

from __future__ import annotations

from ._i18n import language

__all__ = ["label"]

_LABELS: dict[str, tuple[str, str]] = {
    "status.running": ("running", "生成中"),
    "status.done": ("done", "完成"),
    "status.failed": ("failed", "失败"),
    "status.interrupted": ("interrupted", "已中断"),
    "from_image": ("from an image", "来自图片"),
    "edits": ("edits #{n}", "修改自 #{n}"),
    "empty": (
        "No videos yet: describe one above and press Generate.",
        "还没有视频：在上方描述后点“生成”。",
    ),
    "play": ("Play", "播放"),
    "resume": ("Resume", "恢复"),
    "copy": ("Copy prompt", "复制提示词"),
    "copied": ("Copied", "已复制"),
    "download": ("Download", "下载"),
    "generate": ("Generate", "生成"),
    "edit": ("Edit selected", "修改所选"),
    "clear_image": ("Clear image", "移除图片"),
    "image": ("Image", "参考图"),
    "cancel": ("Cancel", "取消"),
    "close": ("Close", "关闭"),
    "lineage": ("Lineage", "修改链"),
    "selected": ("Selected", "已选"),
    "nothing_selected": (
        "Select a finished video to play it and edit it.",
        "选择一个已完成的视频来播放和修改。",
    ),
    "shortcut": ("Ctrl/Cmd+Enter generates", "Ctrl/Cmd+Enter 生成"),
    "record": ("{n} videos made in this studio", "本工作室生成的 {n} 个视频"),
    "resumed_elsewhere": ("This turn is not interrupted any more.", "该轮已不再是中断状态。"),
    "no_local_copy": (
        "No local copy of this video: it plays from the relay's link.",
        "没有本地副本：从中转链接播放。",
    ),
}


def label(key: str, **fields: object) -> str:
    """The studio's label ``key`` in the notebook layer's language."""
    english, chinese = _LABELS[key]
    return (chinese if language() == "zh" else english).format(**fields)
