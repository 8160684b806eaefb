"""The fit check: flash and RAM a sketch needs on a board, item by item, and what to try when it does not fit.

It adds up flash (core + TFLM runtime + model + edgekit's own data) and RAM (core + tensor arena +
edgekit's buffers) against what the board's core lets a sketch use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import EdgekitError
from .board import Board
from .files import list_boards

SMALLEST_MODEL = "compact"  # edgekit.model's smallest architecture: what a board too small for a model is offered


@dataclass(frozen=True)
class FitReport:
    """Flash and RAM the sketch needs on a board, item by item, against what the board allows."""

    board: str
    flash_items: dict[str, int]
    ram_items: dict[str, int]
    flash_capacity: int
    ram_capacity: int
    alternatives: tuple[str, ...] = ()

    @property
    def flash_used(self) -> int:
        return sum(self.flash_items.values())

    @property
    def ram_used(self) -> int:
        return sum(self.ram_items.values())

    @property
    def flash_pct(self) -> float:
        return 100.0 * self.flash_used / self.flash_capacity

    @property
    def ram_pct(self) -> float:
        return 100.0 * self.ram_used / self.ram_capacity

    @property
    def fits(self) -> bool:
        return self.flash_used <= self.flash_capacity and self.ram_used <= self.ram_capacity

    def to_dict(self) -> dict[str, Any]:
        return {
            "board": self.board,
            "fits": self.fits,
            "flash": {
                "used": self.flash_used,
                "capacity": self.flash_capacity,
                "pct": round(self.flash_pct, 1),
                "items": dict(self.flash_items),
            },
            "ram": {
                "used": self.ram_used,
                "capacity": self.ram_capacity,
                "pct": round(self.ram_pct, 1),
                "items": dict(self.ram_items),
            },
        }

    def summary(self) -> str:
        return (
            f"board {self.board}: flash {_fmt(self.flash_used)} of {_fmt(self.flash_capacity)} "
            f"({self.flash_pct:.1f}%), RAM {_fmt(self.ram_used)} of {_fmt(self.ram_capacity)} ({self.ram_pct:.1f}%)"
        )

    def raise_if_not_fit(self, model: str | None = None) -> None:
        """EdgekitError with the numbers, what takes the space and what to try.

        ``model`` is the architecture the user chose, when known: the advice must not be to pick it again.
        """
        if self.fits:
            return
        problems = []
        if self.flash_used > self.flash_capacity:
            problems.append(
                f"flash {_fmt(self.flash_used)} > {_fmt(self.flash_capacity)} ({self.flash_pct:.0f}%: "
                f"{_items(self.flash_items)})"
            )
        if self.ram_used > self.ram_capacity:
            problems.append(
                f"RAM {_fmt(self.ram_used)} > {_fmt(self.ram_capacity)} ({self.ram_pct:.0f}%: {_items(self.ram_items)})"
            )
        raise EdgekitError(
            f"--board {self.board}: the model does not fit: {'; '.join(problems)}; {self._advice(model)}"
        )

    def _advice(self, model: str | None) -> str:
        """What to try: the smaller model unless it is already the one, and the boards the model fits on."""
        boards = ", ".join(self.alternatives)
        if model != SMALLEST_MODEL:
            elsewhere = f" or a board it fits: {boards}" if boards else ""
            return f"try a smaller model (--model {SMALLEST_MODEL}){elsewhere}"
        if boards:
            return f"--model {SMALLEST_MODEL} is already the smallest model; try a board it fits: {boards}"
        return (
            f"--model {SMALLEST_MODEL} is already the smallest model; pick a board with more flash and RAM "
            "(see 'edgekit boards')"
        )


def _fmt(n: int) -> str:
    return f"{n:,} B"


def _items(items: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in items.items())


def fit_check(
    board: Board,
    model_bytes: int,
    arena_bytes: int,
    extra_ram_bytes: int = 0,
    extra_flash_bytes: int = 0,
) -> FitReport:
    """Does a model of ``model_bytes`` with an ``arena_bytes`` tensor arena fit on ``board``?

    ``extra_*`` are edgekit's own buffers and tables (see :func:`edgekit.firmware.sketch_fit`, which fills
    them in). Boards it would fit on are listed so the error can say where to go instead.
    """
    for name, value in (
        ("model_bytes", model_bytes),
        ("arena_bytes", arena_bytes),
        ("extra_ram_bytes", extra_ram_bytes),
        ("extra_flash_bytes", extra_flash_bytes),
    ):
        if value < 0:
            raise EdgekitError(f"fit check: {name} is negative ({value})")
    report = _report(board, model_bytes, arena_bytes, extra_ram_bytes, extra_flash_bytes)
    if report.fits:
        return report
    alternatives = []
    for other in list_boards():
        if other.name != board.name and other.sampler != "none" and other.imu is not None:
            if _report(other, model_bytes, arena_bytes, extra_ram_bytes, extra_flash_bytes).fits:
                alternatives.append(f"--board {other.name}")
    return FitReport(
        report.board,
        report.flash_items,
        report.ram_items,
        report.flash_capacity,
        report.ram_capacity,
        tuple(alternatives),
    )


def _report(board: Board, model: int, arena: int, extra_ram: int, extra_flash: int) -> FitReport:
    flash = {"core+runtime": board.reserved_flash_bytes, "model": model}
    ram = {"core+runtime": board.reserved_ram_bytes, "arena": arena}
    if extra_flash:
        flash["edgekit"] = extra_flash
    if extra_ram:
        ram["edgekit"] = extra_ram
    return FitReport(board.name, flash, ram, board.app_flash_bytes, board.app_ram_bytes)
