"""Progress lines for long steps: plain lines on stderr, silenced by --quiet.

They are printed whether or not stderr is a terminal: a build piped into a log or run by CI is exactly when
someone needs to see which stage it is in (a seed build is minutes of silence otherwise). Each is one plain
line, never a carriage-return bar, so a log file reads the same as the terminal did.
``EDGEKIT_PROGRESS=0`` turns them off for programs that parse stderr.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def enabled() -> bool:
    """On unless ``--quiet`` (``EDGEKIT_QUIET=1``) or ``EDGEKIT_PROGRESS=0``."""
    return os.environ.get("EDGEKIT_QUIET") != "1" and os.environ.get("EDGEKIT_PROGRESS") != "0"


def note(message: str) -> None:
    """A one-line progress note (not a result: results go to stdout)."""
    if enabled():
        print(f"edgekit: {message}", file=sys.stderr, flush=True)


_open_steps: list[str] = []  # the steps being announced, outermost first


@contextmanager
def step(name: str) -> Iterator[None]:
    """Announce a step and how long it took.

    A step inside one of the same name is silent: API functions announce themselves, and a caller that
    wraps one in its own step of that name (build around write_report) would otherwise print it twice.
    """
    if name in _open_steps:
        yield
        return
    start = time.perf_counter()
    note(f"{name} ...")
    _open_steps.append(name)
    try:
        yield
    finally:
        _open_steps.pop()
    note(f"{name} done in {time.perf_counter() - start:.1f} s")
