"""The ``apex`` command line: one argparse parser, one module per subcommand.

To add a subcommand, write ``apex_cli/<name>.py`` with
``register(subparsers) -> None`` (which calls ``set_defaults(run=<callable
taking the parsed args and returning an exit code>)``) and add its module name
to :data:`SUBCOMMAND_MODULES`.
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


def build_parser() -> argparse.ArgumentParser:
    """The ``apex`` parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="apex", description="Netra Apex: analyse your team's LLM API spend."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``apex`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
