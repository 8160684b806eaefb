"""The sampling thread's stack: what it needs, how that was measured, and the size the sketch gives it.

The thread runs ``sampler_main`` (edgekit_app.cpp) which calls the IMU library's ``readAcceleration()``,
which calls the core's ``TwoWire``, which calls mbed OS's I2C driver. GCC measures every frame it
compiles (``-fstack-usage``) and the calls between them (``-fcallgraph-info=su``); :func:`deepest_chain`
adds the frames along the deepest call chain of those graphs. What GCC cannot see here is added as
stated allowances: the core's Wire and mbed I2C code ship precompiled, and an interrupt or a context
switch stacks registers on the thread's stack. ``bench/sampler_stack.py`` prints the whole figure;
tests/test_failsafe.py fails when it, with the margin, outgrows :data:`SAMPLER_STACK_BYTES`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

STACK_MARGIN_PCT = 50  # on top of the figure: compiler versions, library updates, what the allowances miss
STACK_ROUND_TO = 512
# sampler_main's own chain in edgekit_app.cpp (it inlines imu_read and the queue), measured the same way;
# tests/test_failsafe.py measures it again on every generated sketch and fails if it grew past this.
SAMPLER_APP_BYTES = 32
# Deepest readAcceleration() chain of each IMU library at the version the board files pin, measured with
# `python bench/sampler_stack.py SKETCH --library DIR` (arm-none-eabi-g++ 12.2, Cortex-M4F, -Os):
# (Arduino_BHY2, the Nicla Sense ME's, is not measured yet.)
DRIVER_STACK_BYTES = {
    "Arduino_LSM9DS1": 64,  # 1.1.1: readAcceleration 40 + readRegisters 24
    # 1.2.3: readAcceleration 64 + bmi2_get_sensor_data 56 + bmi2_get_regs 152, + the bus callback
    # bmi2_i2c_read 24 that bmi2_get_regs reaches through a function pointer (GCC's graph cannot follow it)
    "Arduino_BMI270_BMM150": 296,
    "Arduino_LSM6DSOX": 56,  # 1.1.2: readAcceleration 32 + readRegisters 24 (Cortex-M4 flags; the RP2040 is an M0+)
}
# Not measurable here (the Arduino mbed core ships mbed OS as a precompiled library): TwoWire's
# requestFrom/endTransmission -> mbed::I2C (its mutex) -> the nRF52 TWI HAL, and libgcc's soft double
# routines the drivers call. An allowance, not a measurement.
CORE_I2C_ALLOWANCE_BYTES = 512
# Cortex-M4F: an interrupt stacks an extended frame (26 words, lazy FP) on the thread's stack, and RTX saves
# r4-r11 and s16-s31 (24 words) there at a context switch.
CONTEXT_BYTES = 26 * 4 + 24 * 4
# Callees of sampler_main that are not in the graphs GCC writes for edgekit_app.cpp and the driver: the RTOS
# and core calls whose cost the allowances cover (a new call in the sampler must be added here knowingly).
KNOWN_EXTERNALS = ("millis", "Clock3now", "ThisThread11sleep_until", "__aeabi_", "TwoWire")

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?\\n[^"]*?\\n(\d+) bytes \(([a-z,]+)\)" \}')
_EXTERNAL = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*" shape : ellipse \}')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


class CallGraph:
    """Frames (bytes, qualifier) and calls from GCC's ``-fcallgraph-info=su`` files, merged by symbol."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.frames: dict[str, tuple[int, str]] = {}
        self.calls: dict[str, set[str]] = {}
        for text in texts:
            for title, size, qualifier in _NODE.findall(text):
                self.frames[title] = (int(size), qualifier)
            for source, target in _EDGE.findall(text):
                self.calls.setdefault(source, set()).add(target)

    def deepest_chain(self, root: str) -> tuple[int, list[str], set[str]]:
        """(bytes, the chain, callees without a frame) of the deepest call chain from ``root``.

        A frame that is not ``static`` (alloca, a VLA) or a recursive call makes the depth unknowable and
        raises ``ValueError``.
        """
        unknown: set[str] = set()

        def walk(name: str, seen: tuple[str, ...]) -> tuple[int, list[str]]:
            if name in seen:
                raise ValueError(f"recursion through {name}: the stack depth has no bound")
            if name not in self.frames:
                unknown.add(name)
                return 0, []
            size, qualifier = self.frames[name]
            if qualifier != "static":
                raise ValueError(f"{name}: {qualifier} frame, the stack depth has no static bound")
            below = [walk(callee, (*seen, name)) for callee in sorted(self.calls.get(name, ()))]
            depth, chain = max(below, default=(0, []), key=lambda item: item[0])
            return size + depth, [name, *chain]

        if root not in self.frames:
            raise ValueError(f"{root}: not in the call graph")
        total, chain = walk(root, ())
        return total, chain, unknown


def sampler_root(graph: CallGraph) -> str:
    """The mangled name of sampler_main (in an anonymous namespace) in edgekit_app.cpp's graph."""
    names = [name for name in graph.frames if "sampler_main" in name]
    if len(names) != 1:
        raise ValueError(f"sampler_main: {len(names)} matches in the call graph")
    return names[0]


def sampler_need(app_bytes: int, driver_bytes: int) -> int:
    """The stack the sampling thread needs: measured chains plus allowances, before the margin."""
    return app_bytes + driver_bytes + CORE_I2C_ALLOWANCE_BYTES + CONTEXT_BYTES


def with_margin(need: int) -> int:
    return math.ceil(need * (100 + STACK_MARGIN_PCT) / 100)


# The size the sketch gives the thread: the figure for the deepest driver, with the margin, rounded up.
SAMPLER_STACK_BYTES = (
    math.ceil(with_margin(sampler_need(SAMPLER_APP_BYTES, max(DRIVER_STACK_BYTES.values()))) / STACK_ROUND_TO)
    * STACK_ROUND_TO
)
