"""notebooks/06-batch.ipynb runs under papermill with its ``prompts``
parameter.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import papermill  # type: ignore[import-untyped]
import pytest

from .conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "06-batch.ipynb"


def test_batch_notebook_runs_under_papermill_with_its_prompts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SORA_BASE_URL", "SORA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SORA_EMULATOR_SPEED", "50")
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    prompts = ["a snail racing a tortoise", "a lantern on a river", "a moth near a lamp"]
    papermill.execute_notebook(
        str(tmp_path / NOTEBOOK.name),
        str(tmp_path / "out.ipynb"),
        parameters={"prompts": prompts},
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and prompts[0] in injected[0].source
    table = next(
        o["data"]["text/html"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "<table" in o.get("data", {}).get("text/html", "")
    )
    assert all(prompt in table for prompt in prompts) and table.count(">done<") == 3
    texts = [
        o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", [])
    ]
    # resuming a finished journal sends nothing
    assert "['Video', 'Video', 'Video']" in texts
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    journal = (tmp_path / "sora_outputs" / "06-batch.jsonl").read_text(encoding="utf-8")
    assert journal.count('"sent"') == 3
