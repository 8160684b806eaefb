"""What a candidate costs on the board, known before any training: flash, RAM and latency.

The untrained network is exported to int8 in memory (sizes and arena do not depend on the weights'
values), the arena is measured with desktop TFLM, and the fit is the same check ``edgekit build``
applies (edgekit's firmware buffers included). Latency is the *profile's estimate* for the board's
core (:func:`edgekit.profile.estimate_time`, upper end of its CPI range), not the emulated board's
measured instruction count: measuring needs a cross-compiled firmware run under QEMU per candidate
(minutes each), while the estimate takes milliseconds and is what the budget is checked against.
"""

from __future__ import annotations

import atexit
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from typing import Any

from ..contract import Contract
from ..modelspec import ModelSpec, build_keras, sequence_length


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
    latency_ms: float  # estimate, upper end of the CPI range
    reject: str = ""

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
    flash, ram = fit["flash"], fit["ram"]
    reasons = []
    if flash["used"] > flash["capacity"]:
        reasons.append(f"flash {flash['used']:,} B > {flash['capacity']:,} B")
    if ram["used"] > ram["capacity"]:
        reasons.append(f"RAM {ram['used']:,} B > {ram['capacity']:,} B")
    if max_latency_ms is not None and latency_ms > max_latency_ms:
        reasons.append(f"latency {latency_ms:.1f} ms > {max_latency_ms:g} ms")
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
    )


def _price(spec: ModelSpec, board_name: str, contract: dict[str, Any], max_latency_ms: float | None) -> Cost:
    from ..boards import load_board

    return candidate_cost(spec, load_board(board_name), Contract.from_dict(contract), max_latency_ms)


class Pricer:
    """Prices candidates in one helper process that keeps TensorFlow loaded.

    Not in the Ray driver itself: there, desktop TFLM's interpreter crashed the process (SIGSEGV in
    tflite_micro's runtime once Ray, pyarrow and tensorboardX were loaded), and a crash of a helper
    is an error message, not a lost tune. The helper is started on first use and is not pickled with
    the searcher (Ray saves the searcher into the experiment for resuming).
    """

    def __init__(self, board_name: str, contract: Contract, max_latency_ms: float | None) -> None:
        self.board_name = board_name
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
            return self._pool.submit(_price, spec, self.board_name, self.contract, self.max_latency_ms).result()
        except BrokenProcessPool:  # TFLM crashed on this graph: it cannot be planned, so it cannot be deployed
            self.close()
            return Cost(0, 0, 0, 0, 0, 0, 0, 0.0, reject="desktop TFLM crashed preparing it (not deployable as is)")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__, _pool=None)
