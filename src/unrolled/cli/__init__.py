"""The ``unrolled`` command: a thin argparse front over the public API.

Each subcommand lives in its own module of this package and registers itself through
``add_parser(subparsers)``; `main` returns the process exit code.
"""

from __future__ import annotations

import argparse
import sys

from unrolled.cli import demo, files, inspect_cmds

# Subcommand modules, in the order `unrolled --help` lists them. Each has
# ``add_parser(subparsers)`` which sets ``func(args) -> int`` as the parser default.
COMMANDS = [demo, files, inspect_cmds]


class CLIError(Exception):
    """A user-facing error: printed as ``unrolled: error: ...`` with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="unrolled",
        description="Keras-exact LSTM models on JAX: train, inspect, convert.",
    )
    from unrolled._version import __version__

    parser.add_argument("--version", action="version", version=f"unrolled {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, FileNotFoundError, OSError) as exc:
        print(f"unrolled {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
