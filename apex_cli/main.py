"""The ``apex`` command line: one argparse parser, one module per subcommand.

To add a subcommand, write ``apex_cli/<name>.py`` with
``register(subparsers) -> None`` (which calls ``set_defaults(run=<callable
taking the parsed args and returning an exit code>)``) and add its module name
to :data:`SUBCOMMAND_MODULES`. Only the chosen subcommand's module is imported
(``apex analyze`` does not pay for the chat client's imports); ``apex --help``
and a mistyped command import them all, to list them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from apex_core.errors import ApexError

SUBCOMMAND_MODULES: list[str] = [
    "apex_cli.analyze",
    "apex_cli.chat",
]
EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``apex`` parser with the subcommand ``command``, or with all of them."""
    parser = argparse.ArgumentParser(
        prog="apex", description="Netra Apex: analyse your team's LLM API spend."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMAND_MODULES:
        if command is None or module_name.rpartition(".")[2] == command:
            importlib.import_module(module_name).register(subparsers)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names first, if it is a known one."""
    known = {name.rpartition(".")[2] for name in SUBCOMMAND_MODULES}
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in known else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``apex`` console script; returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(chosen_command(arguments))
    args = parser.parse_args(arguments)
    try:
        code: int = args.run(args)
    except ApexError as exc:
        print(f"apex {args.command}: error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("apex: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
