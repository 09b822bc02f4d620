"""The items of a batch: what each asks for, checked before anything is sent,
and read from a text, CSV or JSONL file (one prompt a line, or the columns of
``COLUMNS``).

Pure core: reads one file, no HTTP, no Jupyter.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .._exceptions import InvalidRequest
from .._messages import t
from ._ask import DEFAULT_MODEL, Ask, ask_options

__all__ = ["COLUMNS", "DEFAULTABLE", "BatchItem", "items_from", "read_items"]

_FIXED = ("prompt", "model", "orientation", "image", "edit", "name")
#: A row's columns: what an Ask takes (a new option is a column too), an edit
#: and a name.
COLUMNS = (*_FIXED, *(name for name in ask_options() if name not in _FIXED))
#: What a batch's defaults may fill in where a row leaves it empty.
DEFAULTABLE = tuple(key for key in COLUMNS if key not in ("prompt", "edit", "name"))


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One generation of a batch; ``edit`` names a finished video to change."""

    prompt: str
    model: str | None = None
    orientation: str | None = None
    image: str | None = None
    edit: str | None = None
    name: str | None = None
    #: Why the item was refused (bad input, never sent), or None.
    problem: str | None = None
    #: The row's other Ask options (``duration``), as written.
    options: dict[str, str] = field(default_factory=dict)
    #: The row as one Ask, built and checked once by ``items_from`` (or None).
    checked: Ask | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        fixed = {
            k: v
            for k, v in asdict(self).items()
            if v is not None and k not in ("options", "checked")
        }
        return {**fixed, **self.options}

    def ask(self, parent_model: str | None = None) -> Ask:
        """The row's Ask (an edit keeps ``parent_model`` unless told)."""
        # an item made by hand, not read by items_from
        ask = self.checked or _ask(self)
        if parent_model and self.model is None:
            # a finished video's: already checked
            return replace(ask, model=parent_model)
        return ask


def _ask(item: BatchItem, image_url: str | None = None) -> Ask:
    ask = Ask.build(
        item.prompt, model=item.model or DEFAULT_MODEL, orientation=item.orientation,
        image=None if image_url else item.image, **item.options,
    )  # fmt: skip
    return replace(ask, image=image_url) if image_url else ask


def items_from(
    entries: Iterable[str | Mapping[str, Any] | BatchItem],
    where: str = "batch.where.item",
    path: object = None,
    defaults: Mapping[str, Any] | None = None,
) -> list[BatchItem]:
    """Each entry as a checked ``BatchItem``: a prompt, a mapping of
    ``COLUMNS``, or an item.

    An entry with bad input becomes an item whose ``problem`` says why (it is
    never sent), so one bad line does not stop the others. ``where`` is the
    catalog key naming an entry ("Item 3", "prompts.csv row 3"), filled in with
    ``path`` and the entry's number. ``defaults`` fill in the ``DEFAULTABLE``
    columns a row leaves empty.
    """
    filled = {k: _text(v) for k, v in (defaults or {}).items()}
    unknown = sorted(set(filled) - set(DEFAULTABLE))
    if unknown:
        raise InvalidRequest(t("ask.unknown_option", name=unknown[0]))
    # one read per image file, however many rows name it
    images: dict[str, str] = {}
    items = [
        _item(entry, t(where, path=path, n=n), filled, images) for n, entry in enumerate(entries, 1)
    ]
    if not items:
        raise InvalidRequest(t("batch.no_prompts"))
    return items


def _item(
    entry: str | Mapping[str, Any] | BatchItem,
    where: str,
    defaults: dict[str, str | None],
    images: dict[str, str],
) -> BatchItem:
    if isinstance(entry, BatchItem):
        if entry.problem is not None:
            return entry
        values: dict[str, Any] = entry.to_json()
    elif isinstance(entry, str):
        values = {"prompt": entry}
    elif isinstance(entry, Mapping):
        values = {str(k).strip().lower(): v for k, v in entry.items()}
    else:
        return BatchItem(str(entry), problem=t("batch.not_prompt", where=where))
    prompt = str(values.get("prompt") or "")
    if values.get("problem"):  # read back from a journal
        return BatchItem(prompt, problem=str(values["problem"]))
    unknown = sorted(set(values) - set(COLUMNS))
    if unknown:
        listed = {"unknown": ", ".join(unknown), "columns": ", ".join(COLUMNS)}
        return BatchItem(prompt, problem=t("batch.unknown_columns", where=where, **listed))
    texts = {k: _text(v) for k, v in values.items()}
    # what a row leaves empty, the defaults give
    for key, default in defaults.items():
        if texts.get(key) is None:
            texts[key] = default
    try:
        return _checked(texts, images)
    except InvalidRequest as exc:
        return BatchItem(prompt, problem=t("batch.item_problem", where=where, detail=exc))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    text = str(value).strip()
    return text or None


def _checked(values: dict[str, str | None], images: dict[str, str]) -> BatchItem:
    """The row as an item holding its one Ask, checked as any surface checks."""
    name = values.get("name")
    if name is not None and not name.isidentifier():
        raise InvalidRequest(t("batch.not_identifier", name=name))
    image = values.get("image")
    row = BatchItem(
        prompt=values.get("prompt") or "",
        model=values.get("model"),
        orientation=values.get("orientation"),
        image=image,
        edit=values.get("edit"),
        name=name,
        options={k: v for k in COLUMNS if k not in _FIXED and (v := values.get(k)) is not None},
    )
    ask = _ask(row, images.get(image) if image else None)
    if image and ask.image:
        images.setdefault(image, ask.image)
    return replace(
        row,
        prompt=ask.prompt,
        model=ask.model if row.model else None,
        orientation=ask.orientation,
        checked=ask,
    )


def read_items(path: str | os.PathLike[str]) -> list[BatchItem]:
    """The items of a ``.csv``/``.tsv`` (a header row naming ``COLUMNS``),
    ``.jsonl`` (one object or string a line) or text file (one prompt a line;
    ``#`` starts a comment).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(t("batch.unreadable", path=path, detail=exc)) from None
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        rows = _csv_rows(text, path, "\t" if suffix == ".tsv" else ",")
        return items_from(rows, "batch.where.row", path)
    if suffix in (".jsonl", ".ndjson"):
        return items_from(_json_lines(text, path), "batch.where.line", path)
    lines = [line.strip() for line in text.splitlines()]
    prompts = [line for line in lines if line and not line.startswith("#")]
    return items_from(prompts, "batch.where.line", path)


def _csv_rows(text: str, path: Path, delimiter: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "prompt" not in header:
        raise InvalidRequest(t("batch.no_prompt_column", path=path))
    rows = []
    for row in reader:
        if None in row:  # more cells than the header names
            raise InvalidRequest(t("batch.extra_cells", path=path, n=reader.line_num))
        if any((value or "").strip() for value in row.values()):
            rows.append(row)
    return rows


def _json_lines(text: str, path: Path) -> list[Any]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError as exc:
            raise InvalidRequest(t("batch.not_json", path=path, n=number, detail=exc)) from None
    return entries
