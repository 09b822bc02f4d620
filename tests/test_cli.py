"""The ``sora-nb`` command and ``python -m sora_nb.emulator``."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx
import pytest

from sora_nb.launch._cli import main

SECRET = "sk-cli-SECRET-4242"
# what `sora-nb` runs
CLI = "import sys; from sora_nb.launch._cli import main; sys.exit(main())"


def test_no_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "emulator" in capsys.readouterr().out


def test_emulator_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["emulator", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--speed", "--api-key", "--data-dir"):
        assert option in out


@pytest.mark.parametrize("args", [["--speed", "0"], ["--port", "70000"], ["--speed", "fast"]])
def test_emulator_refuses_bad_options(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["emulator", *args])
    assert exit_.value.code == 2


def test_emulator_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["emulator", "--port", str(port)]) == 1
    assert "Try another --port" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([sys.executable, "-m", "sora_nb.emulator"], id="python-m"),
        pytest.param([sys.executable, "-c", CLI, "emulator"], id="sora-nb"),
    ],
)
def test_emulator_serves_until_interrupted(command: list[str]) -> None:
    args = ["--port", "0", "--speed", "500", "--api-key", SECRET, "--log-level", "info"]
    with subprocess.Popen(
        [*command, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            first = process.stdout.readline() if process.stdout else ""
            url = first.split(" on ", 1)[1].split(" ", 1)[0]
            body = {"model": "sora-2", "messages": [{"role": "user", "content": "a fox"}]}
            with httpx.Client(base_url=url, timeout=30) as client:
                ok = client.post(
                    "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {SECRET}"}
                )
                refused = client.post(
                    "/v1/chat/completions", json=body, headers={"Authorization": "Bearer nope"}
                )
        finally:
            process.send_signal(signal.SIGINT)
            rest, _ = process.communicate(timeout=30)
    assert ok.status_code == 200 and "sid: s_" in ok.json()["choices"][0]["message"]["content"]
    assert refused.status_code == 401
    assert process.returncode == 0
    output = first + rest
    # the access log is on, and shows no headers
    assert "POST /v1/chat/completions" in output
    assert SECRET not in output
