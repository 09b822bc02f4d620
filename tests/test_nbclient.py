"""A notebook executed headless by nbclient: new video, edit, failure, history;
no key saved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

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
        nbformat.v4.new_code_cell(
            "%%sora --as third\na forbidden dance [fault:content-policy]",
            # a failure shown on purpose
            metadata={"tags": ["raises-exception"]},
        ),
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


def _env() -> dict[str, str]:
    env = {**os.environ, "SORA_EMULATOR_SPEED": "50", "SORA_API_KEY": SECRET, "LANG": "C.UTF-8"}
    for name in ("SORA_BASE_URL", "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        env.pop(name, None)
    return env


def test_nbclient_runs_a_notebook_and_saves_playable_videos(tmp_path: Path) -> None:
    env = _env()
    nb = _notebook()
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=env)
    out = tmp_path / "run.ipynb"
    nbformat.write(nb, out)

    _, first, second, failed, history, check = nb.cells
    # the one-line notice, on first use
    assert "embedded emulator" in _texts(first)
    for cell in (first, second):
        html = _html(cell)
        assert "<video" in html
        local = html.split('<source src="', 1)[1].split('"', 1)[0]
        assert local.startswith("sora_outputs/") and local.endswith(".mp4")
        assert (tmp_path / local).stat().st_size > 1000
    (error,) = [o for o in failed.outputs if o.output_type == "error"]
    assert error.ename == "CellFailed" and "content policy violation" in error.evalue
    # one line, no traceback
    assert error.traceback == [f"\x1b[0;31m✗ {error.evalue}\x1b[0m"]
    # the bar's static copy says it too
    assert "content policy violation" in _texts(failed)
    assert [c for c in nb.cells if any(o.output_type == "error" for o in c.outputs)] == [failed]
    assert "sora-nb-history" in _html(history)
    assert "failed" in _texts(history)
    assert "Video False" in _texts(check)
    saved = out.read_text(encoding="utf-8")
    assert SECRET not in saved
    assert "SECRET" not in json.dumps(nb.metadata)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("a forbidden dance [fault:content-policy]", id="generation-failed"),
        pytest.param("a cow [fault:401]", id="refused-key"),
    ],
)
def test_nbclient_stops_at_a_failed_cell(tmp_path: Path, body: str) -> None:
    nb = _notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext sora_nb"),
        nbformat.v4.new_code_cell(f"%%sora --as bad\n{body}"),
        nbformat.v4.new_code_cell("print(bad)"),
    ]
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with pytest.raises(CellExecutionError) as caught:
        client.execute(env=_env())
    # Run All stops at the failed cell and says why, not a NameError later.
    assert caught.value.ename == "CellFailed"
    assert str(caught.value).endswith(f"\x1b[0;31m✗ {caught.value.evalue}\x1b[0m\n")
    assert "Traceback" not in str(caught.value)
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None
