"""The ``sora-nb`` command: one subcommand per module, listed in
``_SUBCOMMANDS``.

To add a subcommand, give its module ``add_arguments(parser)`` and ``run(args)``
(returning the exit status) and list it in ``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

__all__ = ["main"]


#: name: (module, one-line help, description). Each module has
#: ``add_arguments(parser)`` and ``run(args) -> int``; it is imported only when
#: the command line is parsed.
_SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "app": (
        "sora_nb.launch._app",
        "serve the studio as a web app with Voilà",
        "Serve the studio (prompt, gallery by lineage, player) as a web app with Voilà; "
        "videos come from the embedded emulator unless SORA_BASE_URL is set.",
    ),
    "demo": (
        "sora_nb.launch._demo",
        "open JupyterLab on the demo notebooks, with the emulator ready",
        "Start JupyterLab on the demo notebooks; videos come from the embedded emulator "
        "unless SORA_BASE_URL is set.",
    ),
    "emulator": (
        "sora_nb.emulator._command",
        "serve the offline sora-2 relay emulator",
        "Serve a local sora-2 relay that makes real, playable videos offline.",
    ),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sora-nb", description="Make and refine short sora-2 videos."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, (module, help_, description) in _SUBCOMMANDS.items():
        command = importlib.import_module(module)
        sub = commands.add_parser(name, help=help_, description=description)
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
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
