"""Golden windows for the board's boot self-test, and the checks that keep them within what it can hold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EdgekitError

MAX_SELFTEST_WINDOWS = 64


@dataclass(frozen=True)
class Selftest:
    """Golden int8 windows with the desktop TFLM's int8 outputs, checked by the board at boot."""

    inputs: np.ndarray  # int8 (K, window*3)
    expected: np.ndarray  # int8 (K, classes)
    tolerance: int = 0  # int8 steps: the board runs the runtime the rungs proved bit-exact

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def make_selftest(
    tflite_bytes: bytes, inputs_int8: np.ndarray, expected: np.ndarray | None = None, tolerance: int = 0
) -> Selftest:
    """Golden windows and the outputs the board must match.

    ``expected`` should come from the board's runtime on the emulated core (what the board computes);
    without it, from the desktop TFLM interpreter, which the board-runtime rungs proved identical.
    """
    from ..runtimes import TFLMRunner

    inputs = np.ascontiguousarray(np.asarray(inputs_int8, dtype=np.int8))
    outputs = TFLMRunner(tflite_bytes).run(inputs) if expected is None else np.asarray(expected, dtype=np.int8)
    return Selftest(inputs=inputs, expected=outputs, tolerance=tolerance)


def check_selftest(selftest: Selftest, n_features: int, n_classes: int) -> None:
    k = len(selftest)
    if not 1 <= k <= MAX_SELFTEST_WINDOWS:
        raise EdgekitError(f"selftest: {k} windows; use 1 to {MAX_SELFTEST_WINDOWS}")
    if selftest.inputs.dtype != np.int8 or selftest.inputs.shape != (k, n_features):
        raise EdgekitError(
            f"selftest: inputs are {selftest.inputs.dtype}{list(selftest.inputs.shape)}, "
            f"expected int8[{k}, {n_features}]"
        )
    if selftest.expected.dtype != np.int8 or selftest.expected.shape != (k, n_classes):
        raise EdgekitError(
            f"selftest: expected outputs are {selftest.expected.dtype}{list(selftest.expected.shape)}, "
            f"expected int8[{k}, {n_classes}]"
        )
    if not 0 <= int(selftest.tolerance) <= 255:
        raise EdgekitError(f"selftest: tolerance {selftest.tolerance} must be 0..255 int8 steps")
