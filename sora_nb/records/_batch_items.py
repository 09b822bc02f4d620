"""The items of a batch: what each asks for, checked before anything is sent, and read from a
text, CSV or JSONL file (one prompt a line, or the columns of ``COLUMNS``).

Pure core: reads one file, no HTTP, no Jupyter.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._exceptions import InvalidRequest
from .._messages import t
from ._ask import DEFAULT_MODEL, Ask, ask_options
from ._request import normalize_orientation, validate_model, validate_prompt

__all__ = ["COLUMNS", "BatchItem", "items_from", "read_items"]

_FIXED = ("prompt", "model", "orientation", "image", "edit", "name")
#: A row's columns: what an Ask takes (a new option is a column too), an edit and a name.
COLUMNS = (*_FIXED, *(name for name in ask_options() if name not in _FIXED))


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One generation of a batch; ``edit`` names a finished video of the session to change."""

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

    def to_json(self) -> dict[str, Any]:
        fixed = {k: v for k, v in asdict(self).items() if v is not None and k != "options"}
        return {**fixed, **self.options}

    def ask(self, parent_model: str | None = None) -> Ask:
        """The row as the Ask it sends (an edit keeps ``parent_model`` unless told)."""
        model = self.model or parent_model or DEFAULT_MODEL
        return Ask.build(
            self.prompt, model=model, orientation=self.orientation, image=self.image,
            **self.options,
        )  # fmt: skip


def items_from(
    entries: Iterable[str | Mapping[str, Any] | BatchItem],
    where: str = "batch.where.item",
    path: object = None,
) -> list[BatchItem]:
    """Each entry as a checked ``BatchItem``: a prompt, a mapping of ``COLUMNS``, or an item.

    An entry with bad input becomes an item whose ``problem`` says why (it is never sent),
    so one bad line does not stop the others. ``where`` is the catalog key naming an entry
    ("Item 3", "prompts.csv row 3"), filled in with ``path`` and the entry's number.
    """
    items = [_item(e, t(where, path=path, n=n)) for n, e in enumerate(entries, 1)]
    if not items:
        raise InvalidRequest(t("batch.no_prompts"))
    return items


def _item(entry: str | Mapping[str, Any] | BatchItem, where: str) -> BatchItem:
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
    try:
        return _checked({k: _text(v) for k, v in values.items()})
    except InvalidRequest as exc:
        return BatchItem(prompt, problem=t("batch.item_problem", where=where, detail=exc))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    text = str(value).strip()
    return text or None


def _checked(values: dict[str, str | None]) -> BatchItem:
    model = values.get("model")
    orientation = values.get("orientation")
    name = values.get("name")
    if name is not None and not name.isidentifier():
        raise InvalidRequest(t("batch.not_identifier", name=name))
    item = BatchItem(
        prompt=validate_prompt(values.get("prompt")),
        model=validate_model(model) if model else None,
        orientation=normalize_orientation(orientation) if orientation else None,
        image=values.get("image"),
        edit=values.get("edit"),
        name=name,
        options={k: v for k in COLUMNS if k not in _FIXED and (v := values.get(k)) is not None},
    )
    if item.options:  # refused now, with the row's number, not when it is sent
        Ask.build(item.prompt, **item.options)
    return item


def read_items(path: str | os.PathLike[str]) -> list[BatchItem]:
    """The items of a ``.csv``/``.tsv`` (a header row naming ``COLUMNS``), ``.jsonl`` (one
    object or string a line) or text file (one prompt a line; ``#`` starts a comment)."""
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
