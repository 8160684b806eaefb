"""The data types every reader produces, so later stages never care where data came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_REPORTED_LINES = 10


@dataclass
class SkipReport:
    """What a reader could not use, counted by reason, with the first few line numbers."""

    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    first: list[tuple[int, str]] = field(default_factory=list)  # (1-based line number, reason)
    recovered: int = 0  # records recovered from damaged lines (e.g. two records on one line)

    def add(self, line_numbers: np.ndarray, reason: str) -> None:
        line_numbers = np.asarray(line_numbers)
        if line_numbers.size == 0:
            return
        self.count += int(line_numbers.size)
        self.reasons[reason] = self.reasons.get(reason, 0) + int(line_numbers.size)
        room = MAX_REPORTED_LINES - len(self.first)
        self.first.extend((int(n), reason) for n in line_numbers[:room])
        self.first.sort()
        del self.first[MAX_REPORTED_LINES:]

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "reasons": dict(sorted(self.reasons.items())),
            "first": [{"line": n, "reason": r} for n, r in self.first],
            "recovered": self.recovered,
        }

    def summary(self) -> str:
        if not self.count:
            return "0 lines skipped"
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.reasons.items()))
        lines = ", ".join(str(n) for n, _ in self.first)
        return f"{self.count} lines skipped ({reasons}); first at lines {lines}"


@dataclass
class Recording:
    """A raw accelerometer stream in file order: one row per sample."""

    user: np.ndarray  # int64 (n,)
    activity: np.ndarray  # int64 (n,), index into labels
    labels: list[str]  # sorted activity names
    t_ns: np.ndarray  # int64 (n,) timestamps in ns (0 where the file has none)
    xyz: np.ndarray  # float32 (n, 3), m/s^2
    skipped: SkipReport = field(default_factory=SkipReport)

    def __len__(self) -> int:
        return int(self.user.shape[0])


@dataclass
class Windows:
    """Fixed-length windows ready for a model (before normalisation)."""

    X: np.ndarray  # float32 (n, window, 3)
    y: np.ndarray  # int64 (n,), index into classes
    subject: np.ndarray  # int64 (n,)
    classes: list[str]
    units: str  # "m/s^2" or "z-score"
    prenormalized: bool = False

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def select(self, mask: np.ndarray) -> Windows:
        return Windows(self.X[mask], self.y[mask], self.subject[mask], self.classes, self.units, self.prenormalized)
