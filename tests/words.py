"""What of a Chinese UI is still English: the check behind every "no English
words" test.
"""

from __future__ import annotations

import html
import re

# Words a Chinese UI keeps in Latin letters: commands, options and values, names
# of things (models, files, variables), what the relay or user wrote.
_LATIN_OK = re.compile(
    r"`[^`]*`|[\w.]+\(\)|%%?sora(?: \w+)?|--?[\w-]+|sora[\w.-]*|\bSORA_\w+|https?://\S+|[\w./-]+\.(?:mp4|png|json|webp)"
    r"|task_\w+|\b(?:portrait|landscape|auto|en|zh|chat|videos|none|API|URL|PATH|REF|NAME|KEY"
    r"|DIR|FILE|TASK|CSV|JSONL|JSON|JOURNAL|mp4|Video|var|sk|M|O|R|J|HD|MiB|Mi|Content-Encoding|http|Ctrl|Cmd|Enter|min|Python|Jupyter|IPython|sid|PNG|JPEG|WebP|GIF|config|history|reset|resume"
    r"|panel|help|batch)\b|\{[^}]*\}|\([^)]*\)"
)


def english_words(text: str) -> list[str]:
    # tags and their attributes are not read
    text = re.sub(r"<[^>]+>", " ", text)
    return re.findall(r"[A-Za-z]{3,}", _LATIN_OK.sub(" ", html.unescape(text)))
