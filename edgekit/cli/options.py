"""Validated option types shared by the commands: a bad number is bad input (exit 2), never a crash (exit 3).

click's FloatRange lets ``inf`` and ``nan`` through (every comparison with nan is false), and a plain ``int``
takes any size: both then fail deep inside numpy, a socket or the serial driver as an internal error.
Each option says here what range it accepts, so the user reads that in one line before any work starts.
"""

from __future__ import annotations

import math
from typing import Any

import click

SEED_MAX = 2**32 - 1  # numpy's and TF's seeds are unsigned 32-bit
BAUD_MIN, BAUD_MAX = 300, 12_000_000  # what a serial driver can be asked for (USB CDC ignores it)
SECONDS_MAX = 10_000_000.0  # ~115 days: longer fits no timer or socket timeout, and 'until Ctrl-C' is the default
COUNT_MAX = 1_000_000_000  # windows, epochs, batch sizes: a larger count is a typo, not a plan


class FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses inf and nan, which FloatRange lets through."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number; give one {self._describe_range()}", param, ctx)
        return number


def seconds(min_open: bool = True, max_s: float = SECONDS_MAX) -> FiniteFloat:
    """A duration or timeout in seconds: above 0 (or at least 0), finite, at most ``max_s``."""
    return FiniteFloat(min=0, min_open=min_open, max=max_s)


def count(min_value: int = 1, max_value: int = COUNT_MAX) -> click.IntRange:
    """A number of things (windows, epochs, samples): an IntRange with an upper bound, so 10**30 is refused."""
    return click.IntRange(min=min_value, max=max_value)


SEED = click.IntRange(min=0, max=SEED_MAX)
BAUD = click.IntRange(min=BAUD_MIN, max=BAUD_MAX)
PERCENTAGE_POINTS = FiniteFloat(min=0, max=100)
INT8_STEPS = click.IntRange(min=0, max=255)  # two int8 values differ by at most 255 steps


def gate_options(func: Any) -> Any:
    """The parity gates, shared by ``parity`` and ``build`` so both read and explain them the same way."""
    options = [
        click.option(
            "--max-drop",
            default=1.0,
            show_default=True,
            type=PERCENTAGE_POINTS,
            metavar="PP",
            help="Gate: largest allowed accuracy drop float -> int8, in percentage points.",
        ),
        click.option(
            "--max-int8-step",
            default=1,
            show_default=True,
            type=INT8_STEPS,
            metavar="N",
            help="Gate: largest allowed difference between LiteRT's and TFLM's int8 outputs, in int8 steps.",
        ),
        click.option(
            "--require-bit-exact/--no-require-bit-exact",
            default=False,
            show_default=True,
            help="Gate: LiteRT and TFLM give identical int8 outputs on every test window.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def representative_option(func: Any) -> Any:
    """How many training windows calibrate the int8 ranges: ``quantize`` and ``build``."""
    return click.option(
        "--representative",
        default=300,
        show_default=True,
        type=count(1),
        metavar="N",
        help="Training windows (stratified by class) used to calibrate the int8 ranges.",
    )(func)
