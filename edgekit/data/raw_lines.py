"""The exact tier of the raw WISDM reader: lines the fast pandas pass refused, re-read one record at a time.

Split from :mod:`edgekit.data.raw` because it is a separate concern: the fast pass decides *which* lines need
a look, this module decides, record by record, what is kept and why the rest is skipped (the reasons are
stable strings: they end up in manifests and tests).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

N_FIELDS = 6
_INT_RE = re.compile(r"[+-]?[0-9]+")
_INT64 = (-(2**63), 2**63 - 1)

# Skip reasons (stable strings: they end up in manifests and tests).
MISSING = "missing value"
EXTRA = "extra fields"
NON_NUMERIC = "non-numeric value"
NON_FINITE = "non-finite value"
OUT_OF_RANGE = "out of range value"
NON_UTF8 = "non-UTF-8 bytes"


@dataclass
class Parsed:
    """Records in column form plus the physical line (0-based) each came from."""

    line: list[int] = field(default_factory=list)
    user: list[int] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    t_ns: list[int] = field(default_factory=list)
    xyz: list[tuple[float, float, float]] = field(default_factory=list)
    skipped: dict[str, list[int]] = field(default_factory=dict)  # reason -> 0-based lines
    recovered: int = 0

    def skip(self, line: int, reason: str) -> None:
        self.skipped.setdefault(reason, []).append(line)


def parse_lines(data: bytes, starts: np.ndarray, lines: np.ndarray, max_abs: float) -> Parsed:
    """The Python tier: re-read only the given physical lines."""
    out = Parsed()
    begin = starts[lines].tolist()
    end = (starts[lines + 1] - 1).tolist()
    for line, b, e in zip(lines.tolist(), begin, end, strict=True):
        _parse_line(data[b:e], line, out, max_abs)
    return out


def _parse_line(raw: bytes, line: int, out: Parsed, max_abs: float) -> None:
    """Every record on one physical line, recovering what can be recovered."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        out.skip(line, NON_UTF8)
        return
    pieces = [p.strip() for p in text.split(";")]
    records = []
    for k, piece in enumerate(pieces):
        if not piece.strip(", \t\r"):
            if k == 0 and "," in piece:
                records.append(piece)  # a record whose every value is empty
            continue  # separators left over after a ';' (or a blank line): no record here
        piece = piece.rstrip(", \t\r")
        records.append(piece.lstrip(", \t\r") if k else piece)
    good = 0
    for record in records:
        reason = _parse_record(record, line, out, max_abs)
        if reason:
            out.skip(line, reason)
        else:
            good += 1
    if len(records) > 1:
        out.recovered += good


def _parse_record(record: str, line: int, out: Parsed, max_abs: float) -> str | None:
    """Append one record to ``out``; return the skip reason instead when it is not valid."""
    fields = [f.strip() for f in record.split(",")]
    if len(fields) < N_FIELDS:
        return MISSING
    if len(fields) > N_FIELDS:
        return EXTRA
    if any(not f for f in fields):
        return MISSING
    user, t_ns = _to_int(fields[0]), _to_int(fields[2])
    if user is None or t_ns is None:
        return NON_NUMERIC
    if not (_INT64[0] <= user <= _INT64[1] and _INT64[0] <= t_ns <= _INT64[1]):
        return OUT_OF_RANGE
    xyz = []
    for f in fields[3:]:
        value = _to_float(f)
        if value is None:
            return NON_NUMERIC
        if not math.isfinite(value):
            return NON_FINITE
        if abs(value) > max_abs:
            return OUT_OF_RANGE
        xyz.append(value)
    out.line.append(line)
    out.user.append(user)
    out.label.append(fields[1])
    out.t_ns.append(t_ns)
    out.xyz.append((xyz[0], xyz[1], xyz[2]))
    return None


def _to_int(text: str) -> int | None:
    return int(text) if _INT_RE.fullmatch(text) else None


def _to_float(text: str) -> float | None:
    if "_" in text:  # Python accepts '1_0'; no data file means that
        return None
    try:
        return float(text)
    except ValueError:
        return None
