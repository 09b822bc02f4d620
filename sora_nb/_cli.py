"""The ``sora-nb`` command: one subcommand per small ``_add_<name>`` function.

To add a subcommand, write ``_add_<name>(commands)`` that adds its parser and sets
``handler`` (a function of the parsed args returning the exit status), and list it in
``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["main"]


def _add_emulator(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .emulator._command import add_arguments, run

    parser = commands.add_parser(
        "emulator",
        help="serve the offline sora-2 relay emulator",
        description="Serve a local sora-2 relay that makes real, playable videos offline.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ._demo import add_arguments, run

    parser = commands.add_parser(
        "demo",
        help="open JupyterLab on the demo notebooks, with the emulator ready",
        description="Start JupyterLab on the demo notebooks; videos come from the embedded "
        "emulator unless SORA_BASE_URL is set.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def _add_app(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ._app import add_arguments, run

    parser = commands.add_parser(
        "app",
        help="serve the studio as a web app with Voilà",
        description="Serve the studio (prompt, gallery by lineage, player) as a web app with "
        "Voilà; videos come from the embedded emulator unless SORA_BASE_URL is set.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_app,
    _add_demo,
    _add_emulator,
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sora-nb", description="Make and refine short sora-2 videos."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``sora-nb``; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)
