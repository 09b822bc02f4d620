"""sora_nb in marimo: the example notebook runs as marimo runs it, with no
IPython shell.

The studio and the cards are anywidgets; with no kernel loop their jobs run on
the views' own loop (``_run.background_loop``) and marimo's comms carry their
updates. The browser side, a headless ``marimo run`` server, is in
test_browser_frontends.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

EXAMPLE = ROOT / "notebooks" / "08-marimo.py"
RUN = """
import json, runpy
app = runpy.run_path({path!r}, run_name="example")["app"]
outputs, defs = app.run()
halo = defs["halo"].result(timeout=300)
studio = defs["studio"].widget
# The studio hears of the edit's end on the views' own loop, a moment after its result.
import time
until = time.monotonic() + 60
while time.monotonic() < until and any(t["status"] != "done" for t in studio.tiles):
    time.sleep(0.02)
print(json.dumps({{
    "video": defs["video"].local_path, "halo": halo.local_path, "parent": halo.turn - 1,
    "tiles": [[t["index"], t["status"], t["depth"]] for t in studio.tiles],
    "card": defs["cow"].widget.html,
    "ipython": __import__("IPython").get_ipython() is not None,
}}))
"""


def test_the_marimo_example_makes_a_video_and_edits_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_")}
    env.update(SORA_EMULATOR_SPEED="50", LANG="C.UTF-8")
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(path=str(EXAMPLE))],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["ipython"]  # marimo's way: no shell, no magics
    assert (tmp_path / result["video"]).is_file() and (tmp_path / result["halo"]).is_file()
    # The edit is under the first video in the studio's tree, which followed
    # both jobs.
    assert result["tiles"] == [[0, "done", 0], [1, "done", 1]]
    # The card shows the finished video from the same template as a %%sora
    # cell's saved copy.
    card = result["card"]
    assert "sora-nb-phase-done" in card and "<video" in card and "data-since" not in card
