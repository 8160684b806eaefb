"""Number and text formatting shared by the report's sections and its template filters."""

from __future__ import annotations

from typing import Any

from ..wording import windows_differ


def pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{100.0 * float(value):.{digits}f} %"


def num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def signed(value: Any, digits: int = 2) -> str:
    """'+0.05', '−0.01' (a real minus sign) and '0.00' for what rounds to zero, never '−0.00'."""
    if value is None:
        return "–"
    text = f"{float(value):+.{digits}f}"
    return text[1:] if float(text) == 0 else text.replace("-", "−")


def nbytes(value: Any) -> str:
    if value is None:
        return "–"
    n = int(value)
    return f"{n:,} B" if n < 1024 else f"{n / 1024:,.1f} KiB"


def differ(n: Any) -> str:
    return windows_differ(int(n))


def integer(value: Any) -> str | None:
    return None if value is None else f"{int(value):,}"


def user_list(users: list[int]) -> str:
    """'29-36' for a contiguous run of ids, else the ids; long lists stay readable."""
    users = sorted(int(u) for u in users)
    if not users:
        return "–"
    if len(users) > 2 and users == list(range(users[0], users[-1] + 1)):
        return f"{users[0]}–{users[-1]}"
    return ", ".join(map(str, users))


def abbreviations(classes: list[str]) -> list[str]:
    """Shortest unique prefixes of at least 3 letters, for the confusion matrices' column headers."""
    for k in range(3, max((len(c) for c in classes), default=3) + 1):
        short = [c[:k] for c in classes]
        if len(set(short)) == len(short):
            return short
    return list(classes)
