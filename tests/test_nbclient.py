"""A notebook executed headless by nbclient: new video, edit, failure, history; no key saved."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

SECRET = "sk-test-SECRET-123"


def _notebook() -> Any:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext sora_nb"),
        nbformat.v4.new_code_cell("%%sora --as first\na cow and a horse dancing in a field"),
        nbformat.v4.new_code_cell("%%sora --edit first --as second\nput a halo on the cow"),
        nbformat.v4.new_code_cell("%%sora --as third\na forbidden dance [fault:content-policy]"),
        nbformat.v4.new_code_cell("%sora history"),
        nbformat.v4.new_code_cell("print(type(second).__name__, 'third' in dir())"),
    ]
    return nb


def _html(cell: Any) -> str:
    return "".join(out.get("data", {}).get("text/html", "") for out in cell.outputs)


def _texts(cell: Any) -> str:
    parts = [out.get("text", "") for out in cell.outputs]
    parts += [out.get("data", {}).get("text/plain", "") for out in cell.outputs]
    return "\n".join(parts)


def test_nbclient_runs_a_notebook_and_saves_playable_videos(tmp_path: Path) -> None:
    env = {**os.environ, "SORA_EMULATOR_SPEED": "50", "SORA_API_KEY": SECRET, "LANG": "C.UTF-8"}
    for name in ("SORA_BASE_URL", "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        env.pop(name, None)
    nb = _notebook()
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=env)
    out = tmp_path / "run.ipynb"
    nbformat.write(nb, out)

    _, first, second, failed, history, check = nb.cells
    assert "embedded emulator" in _texts(first)  # the one-line notice, on first use
    for cell in (first, second):
        html = _html(cell)
        assert "<video" in html
        local = html.split('<source src="', 1)[1].split('"', 1)[0]
        assert local.startswith("sora_outputs/") and local.endswith(".mp4")
        assert (tmp_path / local).stat().st_size > 1000
    assert "content policy violation" in _texts(failed)
    assert all(o.output_type != "error" for cell in nb.cells for o in cell.outputs)
    assert "sora-nb-history" in _html(history)
    assert "failed" in _texts(history)
    assert "Video False" in _texts(check)
    saved = out.read_text(encoding="utf-8")
    assert SECRET not in saved
    assert "SECRET" not in json.dumps(nb.metadata)
