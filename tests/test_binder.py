"""Binder (repo2docker) reads only binder/ when it exists: check what a launch
relies on.
"""

from __future__ import annotations

import os
import re
import subprocess

from .conftest import ROOT

BINDER = ROOT / "binder"


def lines(name: str) -> list[str]:
    text = (BINDER / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_requirements_install_this_package_from_the_repository_root() -> None:
    assert "." in lines("requirements.txt")


def test_apt_brings_the_cjk_font_the_emulator_draws_with() -> None:
    assert lines("apt.txt") == ["fonts-wqy-microhei"]


def test_start_is_executable_and_hands_over_to_jupyter() -> None:
    start = BINDER / "start"
    assert os.access(start, os.X_OK)
    assert lines("start")[-1] == 'exec "$@"'
    result = subprocess.run([str(start), "echo", "launched"], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "launched\n")


def test_readme_badge_opens_the_quickstart() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^)\s]+\)", readme)
    assert badge, "README has no Binder launch link"
    assert badge.group(0).endswith("?urlpath=lab/tree/notebooks/01-quickstart.ipynb)")
    assert (ROOT / "notebooks" / "01-quickstart.ipynb").is_file()
