"""Lint and type checks run as tests, so the habits hold without anyone
remembering them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_lint() -> None:
    # The whole repository, notebooks included, as `ruff check .` at its root.
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_core_and_on_the_tests_not_strict() -> None:
    # pyproject.toml ([tool.mypy]): sora_nb strict; tests and benchmarks
    # checked, not strict.
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _tracked_text() -> dict[str, str]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    texts = {}
    for name in names:
        try:
            texts[name] = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # media and files deleted in the working tree
    return texts


def test_the_repository_refers_to_nothing_outside_it() -> None:
    # Spelled in pieces so that a plain grep of the repository for them finds
    # nothing here.
    parent, spec = "../" + "shared", ("relay-protocol", "jupyter-facts", "relay-dialects")
    outside = re.compile("|".join(map(re.escape, [parent, "SORA_" + "SHARED_DIR", *spec])))
    here = Path(__file__).relative_to(ROOT).as_posix()
    hits = [name for name, text in _tracked_text().items() if name != here and outside.search(text)]
    assert hits == []


def test_every_doc_the_code_cites_exists() -> None:
    cited = {
        match
        for name, text in _tracked_text().items()
        if name.endswith(".py")
        for match in re.findall(r"docs/[\w-]+\.md", text)
    }
    assert cited, "the code cites docs/ for its reasons"
    assert sorted(doc for doc in cited if not (ROOT / doc).is_file()) == []


def test_import_layers_hold() -> None:
    # The contracts are in pyproject.toml ([tool.importlinter]); this checkout's
    # sora_nb first.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
