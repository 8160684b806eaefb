"""What a candidate costs on the board, known before any training: flash, RAM and latency.

The untrained network is exported to int8 in memory (sizes and arena do not depend on the weights'
values), the arena is measured with desktop TFLM, and the fit is the same check ``edgekit build``
applies (edgekit's firmware buffers included). Latency is *measured*: the candidate's model code and
the board's own TFLM runtime (its CMSIS-NN optimisation), cross-compiled and run on the board's emulated
core under QEMU, instructions counted, times the core's CPI range at its clock (upper end), exactly as
``edgekit build`` measures a run. The profile's cost-model estimate (milliseconds to compute, but low on
the Cortex-M4 for this family: compact measures 38.7 ms against an estimated 32.4 ms with nano33's -O2
kernels) only pre-filters: a candidate whose *estimate* is already over
the budget is rejected without measuring. A board with no emulated core (or no runtime sources) falls
back to the estimate, and the cost says which it is. All candidates register the family's kernels
(:data:`FAMILY_OPS`), so one runtime library is compiled per board and every candidate only links.
"""

from __future__ import annotations

import atexit
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..contract import Contract
from ..modelspec import ModelSpec, build_keras, sequence_length

# Every TFLite op a model of the compact family can lower to: registered in each candidate's measuring
# build so that all of them share one runtime library (an unused registration costs no instructions).
FAMILY_OPS = ("AVERAGE_POOL_2D", "CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "MEAN", "RESHAPE", "SOFTMAX")
MEASURED_WINDOWS = 2  # instruction counts of these kernels do not depend on the values: two windows suffice


@dataclass(frozen=True)
class Cost:
    """A candidate's footprint and why it is rejected ('' when it fits every budget)."""

    params: int
    macs: int
    tflite_bytes: int
    flash_bytes: int  # the board's flash used: core+runtime, model, edgekit's tables
    ram_bytes: int
    flash_capacity: int
    ram_capacity: int
    latency_ms: float  # upper end of the CPI range
    reject: str = ""
    latency_source: str = "estimate"  # "measured" (emulated core, QEMU) or "estimate" (cost model)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_cost(spec: ModelSpec, board: Any, contract: Contract, max_latency_ms: float | None) -> Cost:
    """Export, measure and check one candidate (a few seconds, no training)."""
    from ..profile import _export_in_memory, profile_model

    if sequence_length(spec, contract.window) < 1:
        return Cost(0, 0, 0, 0, 0, 0, 0, 0.0, reject=f"convs and pools shrink the {contract.window}-step window away")
    model = build_keras(spec, contract.window, len(contract.axes), len(contract.labels), batch_size=None)
    tflite = _export_in_memory(model)
    prof = profile_model(model, tflite, board=board, contract=contract)
    fit = prof["board"]["fit"]
    latency_ms = 1000.0 * float(prof["estimate"]["seconds"][1]) if prof["estimate"].get("available") else 0.0
    source = "estimate"
    flash, ram = fit["flash"], fit["ram"]
    reasons = []
    if flash["used"] > flash["capacity"]:
        reasons.append(f"flash {flash['used']:,} B > {flash['capacity']:,} B")
    if ram["used"] > ram["capacity"]:
        reasons.append(f"RAM {ram['used']:,} B > {ram['capacity']:,} B")
    over_estimate = max_latency_ms is not None and latency_ms > max_latency_ms
    if not reasons and not over_estimate:
        measured = measured_latency_ms(tflite, board)
        if measured is not None:
            latency_ms, source = measured, "measured"
    if max_latency_ms is not None and latency_ms > max_latency_ms:
        reasons.append(f"latency {latency_ms:.1f} ms ({source}) > {max_latency_ms:g} ms")
    return Cost(
        params=int(prof["totals"]["params"]),
        macs=int(prof["totals"]["macs"]),
        tflite_bytes=len(tflite),
        flash_bytes=int(flash["used"]),
        ram_bytes=int(ram["used"]),
        flash_capacity=int(flash["capacity"]),
        ram_capacity=int(ram["capacity"]),
        latency_ms=round(latency_ms, 3),
        reject="; ".join(reasons),
        latency_source=source,
    )


def measured_latency_ms(tflite: bytes, board: Any) -> float | None:
    """Milliseconds per inference on the board's emulated core (upper end of the CPI range), or None when
    the board has no emulated core or the runtime sources are not here (the caller keeps the estimate)."""
    from ..profile import measured_cost
    from ..runtime.harness import BoardRuntime, model_interface, op_methods
    from ..runtime.rungs import prepare_board_model
    from ..runtime.toolchain import TARGETS
    from ..runtimes import inspect_tflite

    tflm = board.tflm
    if tflm is None or tflm.emulator not in TARGETS or TARGETS[tflm.emulator].missing():
        return None
    interface = model_interface(tflite, inspect_tflite(tflite))
    methods = op_methods()
    extra = tuple(op for op in FAMILY_OPS if op in methods)
    model, _ = prepare_board_model(tflite, interface, None, methods, tflm.hot_kernels, extra)
    if model is None:
        return None
    target = TARGETS[tflm.emulator]
    x = np.random.default_rng(0).integers(-128, 128, (MEASURED_WINDOWS, interface.input_size), dtype=np.int8)
    run = BoardRuntime(model, target).run(x)
    if run.instructions is None:
        return None
    rung = {
        "status": "ran",
        "title": target.title,
        "windows": MEASURED_WINDOWS,
        "flags": " ".join(target.flags),
        "arena_used_bytes": run.arena_used_bytes,
        "instructions": {
            "mean": int(run.instructions.mean()),
            "min": int(run.instructions.min()),
            "max": int(run.instructions.max()),
        },
    }
    cost = measured_cost({tflm.emulator: rung}, board)
    return 1000.0 * float(cost["seconds"][1]) if cost.get("available") else None


def _price(spec: ModelSpec, board: Any, contract: dict[str, Any], max_latency_ms: float | None) -> Cost:
    return candidate_cost(spec, board, Contract.from_dict(contract), max_latency_ms)


class Pricer:
    """Prices candidates in one helper process that keeps TensorFlow loaded.

    Not in the Ray driver itself: a crash in native code (TFLM, the converter) while pricing one
    candidate then rejects that candidate instead of losing the tune. (Desktop TFLM's crash on a
    too-small arena, the one seen, is now contained by :class:`edgekit.desktop_arena.ArenaProbe`.)
    The helper is started on first use and is not pickled with the searcher (Ray saves the searcher
    into the experiment for resuming).
    """

    def __init__(self, board: Any, contract: Contract, max_latency_ms: float | None) -> None:
        self.board = board  # the Board itself (pickled to the helper): a board file is never looked up by name
        self.contract = contract.to_dict()
        self.max_latency_ms = max_latency_ms
        self._pool: Any = None

    def __call__(self, spec: ModelSpec) -> Cost:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            atexit.register(self.close)
        try:
            return self._pool.submit(_price, spec, self.board, self.contract, self.max_latency_ms).result()
        except BrokenProcessPool:  # TFLM crashed on this graph: it cannot be planned, so it cannot be deployed
            self.close()
            return Cost(0, 0, 0, 0, 0, 0, 0, 0.0, reject="pricing it crashed (native code in TFLM or the converter)")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__, _pool=None)
