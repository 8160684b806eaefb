"""Numbers in words, the same way everywhere: a count with its noun, and a time range in milliseconds.

The build summary, the report, the parity table and the verify line describe the same run; when each
rounded or pluralised on its own, they disagreed ('265-338 ms' in one, '265-337' in the other; '1 windows
differ'). Every such phrase is made here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 window', '2 windows' (``nouns`` for irregular plurals)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def windows_differ(n: int, of: int | None = None) -> str:
    """'1 window differs', '3 windows differ', '1 of 512 windows differs': the verb agrees with ``n``."""
    verb = "differs" if n == 1 else "differ"
    if of is None:
        return f"{plural(n, 'window')} {verb}"
    return f"{n} of {plural(of, 'window')} {verb}"


def whole_ms(seconds: float) -> int:
    """Seconds to whole milliseconds, half up: the one rounding every shown latency goes through."""
    return math.floor(1000 * seconds + 0.5)


def ms_range(seconds: Sequence[float], dash: str = "-") -> str:
    """'265-337': a (low, high) time in seconds as whole milliseconds.

    Callers pass the profile's seconds, never milliseconds rounded earlier: rounding twice (337.46 -> 337.5
    -> 338) is how the summary came to disagree with the report.
    """
    low, high = seconds
    return f"{whole_ms(low):,}{dash}{whole_ms(high):,}"
