"""The two ways a command can fail, each with its documented exit code.

Every stage raises these instead of printing, so the CLI can turn them into one line and the
right exit code, and the Python API can be tested without a subprocess.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2


class EdgekitError(Exception):
    """Bad usage or bad input: the message names the file/option and the fix (exit code 2)."""

    exit_code = EXIT_USAGE


class GateFailed(EdgekitError):
    """A quality gate failed: the message names the metric, its value and the threshold (exit code 1)."""

    exit_code = EXIT_GATE
