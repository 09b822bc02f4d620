"""The README as a new user reads it: in order, and every command in it works as
written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# the venv the README's commands install into
VENV_BIN = Path(sys.executable).parent


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(text: str, language: str = "") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_it_reads_in_order_for_someone_new_to_relays() -> None:
    headings = re.findall(r"(?m)^## (.+)$", README)
    wanted = ["What is a relay?", "Quick start", "A first video", "Using a real relay"]
    wanted += ["Works with", "Reference", "Promises"]
    # other sections may sit between
    assert [h for h in headings if h in wanted] == wanted
    before_first_video = README.split("\n## A first video\n", 1)[0]
    # No test internals or relay jargon before the basics.
    for jargon in ("[fault:", "transcript", "share id", "browser suite", "benchmark"):
        assert jargon not in before_first_video, jargon
    assert "**relay**" in section("What is a relay?") and "gateway" in section("What is a relay?")
    # the measurements live in docs/benchmarks.md
    assert "ms (median)" not in README


def test_the_quick_start_is_two_commands_the_second_what_ci_runs() -> None:
    demo, tests = [block.strip() for block in code_blocks(section("Quick start"))]
    # pip runs quietly, so the demo's URL is the last thing on screen.
    setup = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[demo]'"
    assert demo == f"{setup} && .venv/bin/sora-nb demo"
    assert tests.startswith("apt-get update && apt-get install -y chromium ")
    # The dev extra: the tests, and the linters tests/test_quality.py runs.
    assert tests.endswith(".venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci, "the README's test command must be the line .ci/run runs"


def shell_lines() -> list[str]:
    lines = []
    # untagged blocks are shell or notebook cells
    for block in code_blocks(README):
        lines += [line for line in block.splitlines() if not line.startswith(("%", "a ", "put "))]
    return [line.split("  #", 1)[0].strip() for line in lines if line.strip()]


def test_every_command_names_the_venvs_program() -> None:
    # In a new shell the venv is not active: a bare `sora-nb` is not found.
    programs = {"sora-nb", "jupyter", "voila", "python", "pip", "pytest", "ruff", "mypy"}
    for line in shell_lines():
        for command in re.split(r"&&|;|\|", line):
            words = [w for w in command.split() if "=" not in w or w.startswith(".")]
            if words and words[0] in programs:
                raise AssertionError(f"{line!r}: use .venv/bin/{words[0]}")
    shown = {name for line in shell_lines() for name in re.findall(r"\.venv/bin/([\w-]+)", line)}
    assert shown >= {"pip", "sora-nb", "python"}
    assert all((VENV_BIN / name).exists() for name in shown), shown


def test_every_sora_nb_subcommand_shown_exists() -> None:
    subcommands = set(re.findall(r"\.venv/bin/sora-nb (\w+)", README))
    assert subcommands == {"demo", "app", "emulator"}
    for name in sorted(subcommands):
        result = subprocess.run(
            [str(VENV_BIN / "sora-nb"), name, "--help"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    # Options the README gives them are the commands' own.
    emulator = subprocess.run(
        [str(VENV_BIN / "sora-nb"), "emulator", "--help"], capture_output=True, text=True
    ).stdout
    for option in ("--port", "--speed", "--api-key", "--data-dir", "--dialect"):
        assert option in emulator


def test_the_async_example_runs_as_a_plain_script(tmp_path: Path) -> None:
    (script,) = [b for b in code_blocks(README, "python") if "asyncio.run(" in b]
    (tmp_path / "script.py").write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_")}
    # the embedded emulator, faster; nothing else set
    env["SORA_EMULATOR_SPEED"] = "50"
    result = subprocess.run(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "echo" and "completed" in lines
    assert "['Video', 'Video']" in lines and lines[-1] == "4 turns saved"
    assert (tmp_path / "sora_outputs" / "mine.json").is_file()
    assert result.stderr == ""
