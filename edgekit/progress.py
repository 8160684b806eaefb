"""Progress lines for long steps: on stderr, only when it is a terminal, silenced by --quiet."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def enabled() -> bool:
    if os.environ.get("EDGEKIT_QUIET") == "1":
        return False
    return sys.stderr.isatty() or os.environ.get("EDGEKIT_PROGRESS") == "1"


def note(message: str) -> None:
    """A one-line progress note (not a result: results go to stdout)."""
    if enabled():
        print(f"edgekit: {message}", file=sys.stderr, flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Announce a step and how long it took."""
    start = time.perf_counter()
    note(f"{name} ...")
    yield
    note(f"{name} done in {time.perf_counter() - start:.1f} s")
