"""The ``unrolled`` command: a thin argparse front over the public API.

Each subcommand lives in its own module of this package and registers itself through
``add_parser(subparsers)``; `main` returns the process exit code: 0 on success, 2 for a wrong
command line (as argparse), 1 when a well-formed command fails (bad data, a NaN loss), 130 on
Ctrl-C. Nothing here imports JAX: ``unrolled --help`` answers at once, and a command imports
what it needs when it runs.

JAX's persistent compilation cache is on for every command (see `unrolled.compile_cache`):
``--no-compile-cache`` or ``UNROLLED_COMPILE_CACHE=0`` turn it off, ``UNROLLED_CACHE_DIR``
moves it.
"""

from __future__ import annotations

import argparse
import sys

from unrolled.cli import demo, files, inspect_cmds
from unrolled.cli.errors import EXIT_RUNTIME, CommandError, UsageError

# Subcommand modules, in the order `unrolled --help` lists them. Each has
# ``add_parser(subparsers)`` which sets ``func(args) -> int`` as the parser default.
COMMANDS = [demo, files, inspect_cmds]
CLIError = UsageError  # the name earlier versions exported

EPILOG = """\
data files: every command reads .ts, .csv, .npy/.npz (optionally .gz), a bundled dataset name
(ItalyPowerDemand, JapaneseVowels) or - for standard input.
exit status: 0 done, 1 the command failed (the message says why), 2 wrong usage.
compile cache: compiled XLA programs are kept in $UNROLLED_CACHE_DIR, else
$XDG_CACHE_HOME/unrolled/jax (~/.cache/unrolled/jax); --no-compile-cache or
UNROLLED_COMPILE_CACHE=0 turn it off."""


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    from unrolled._version import __version__

    parser = argparse.ArgumentParser(
        prog="unrolled", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Keras-exact LSTM models on JAX: train, inspect, convert.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"unrolled {__version__}")
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="do not keep compiled programs on disk between runs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def _enable_cache(args) -> None:
    from unrolled import compile_cache

    if args.no_compile_cache or compile_cache.cache_disabled_by_env():
        return
    try:
        compile_cache.enable_compile_cache()
    except OSError as exc:  # a read-only home must not stop the command
        print(f"unrolled: warning: compile cache off ({exc}).", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        _enable_cache(args)
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"unrolled {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (ValueError, OSError, ImportError, NotImplementedError, IndexError) as exc:
        print(f"unrolled {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
