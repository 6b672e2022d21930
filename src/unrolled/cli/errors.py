"""The command line's two kinds of failure and their exit codes.

``UsageError`` (exit 2): the command line itself is wrong (a missing file, an option out of
range, an unreadable model spec, a name that needs a flag). ``CommandError`` (exit 1): the
command was well formed but the work failed (malformed data, a NaN loss, an incompatible model).
"""

from __future__ import annotations

EXIT_RUNTIME = 1
EXIT_USAGE = 2


class CommandError(ValueError):
    """A failure while running a well-formed command; exit code 1."""

    exit_code = EXIT_RUNTIME


class UsageError(CommandError):
    """The command line is wrong; exit code 2 (as argparse's own errors)."""

    exit_code = EXIT_USAGE
