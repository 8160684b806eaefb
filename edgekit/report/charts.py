"""The report's charts: SVG drawn by matplotlib, inline-ready, the same bytes for the same numbers.

Text in a chart is text, never TeX: class names come from the user's data, and a name like ``$x$`` must
show as written instead of being parsed as mathtext (or failing to parse, which used to cost the reader
the whole section), so ``text.parse_math`` is off and ``text.usetex`` stays off.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from typing import Any

RUNG_TITLES = {"float": "float Keras", "litert": "int8 LiteRT", "tflm": "int8 TFLM"}
RUNG_COLORS = {"float": "#2563eb", "litert": "#f59e0b", "tflm": "#059669"}
SPLIT_COLORS = {"train": "#2563eb", "val": "#f59e0b", "test": "#9333ea", "unused": "#9ca3af"}

# Charts: fixed salt and no metadata, so the same numbers always give the same SVG bytes.
_RC: dict[str, Any] = {
    "svg.hashsalt": "edgekit-report",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": "#374151",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.6,
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "text.usetex": False,
    "text.parse_math": False,  # '$' in a class name is a dollar sign, not mathtext
}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Any, key: str, label: str) -> Any:
    """Inline-ready SVG: no XML prolog or metadata, ids prefixed per chart so charts cannot clash."""
    import matplotlib
    from markupsafe import Markup

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": _RC["svg.hashsalt"], "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata=_SVG_METADATA)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r"<style[^>]*>.*?</style>\s*", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)
    text = re.sub(r'\bid="', f'id="{key}-', text)
    text = text.replace('href="#', f'href="#{key}-').replace("url(#", f"url(#{key}-")
    text = text.replace("<svg ", f'<svg class="chart" role="img" aria-label="{html.escape(label)}" ', 1)
    return Markup(text.strip())


def _charting(draw: Callable[..., Any]) -> Callable[..., Any]:
    """Run a chart function under the report's matplotlib style."""

    def wrapper(*args: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # stubs list every rc key as a Literal
            return draw(*args)

    wrapper.__doc__ = draw.__doc__
    return wrapper


@_charting
def class_chart(classes: list[str], counts: list[int]) -> Any:
    """Windows per class: imbalance is the first thing to know about a data set."""
    fig = _figure(4.6, 2.8)
    ax = fig.add_subplot()
    bars = ax.barh(classes[::-1], counts[::-1], color="#2563eb", height=0.62)
    ax.bar_label(bars, labels=[f"{n:,}" for n in counts[::-1]], padding=3, fontsize=8, color="#374151")
    ax.set_title("Windows per class")
    ax.grid(axis="y", visible=False)
    ax.set_xlim(0, max(counts + [1]) * 1.18)
    return _svg(fig, "classes", "bar chart of windows per class")


@_charting
def users_chart(per_user: list[tuple[int, int]], partition: dict[int, str]) -> Any:
    """Windows per user, coloured by the partition each user was put in (users never straddle two)."""
    from matplotlib.patches import Patch

    fig = _figure(7.4, 2.8)
    ax = fig.add_subplot()
    users = [u for u, _ in per_user]
    parts = [partition.get(u, "unused") for u in users]
    ax.bar(range(len(users)), [n for _, n in per_user], color=[SPLIT_COLORS[p] for p in parts], width=0.75)
    ax.set_xticks(range(len(users)), [str(u) for u in users], fontsize=7 if len(users) > 24 else 8)
    ax.set_xlim(-0.7, len(users) - 0.3)
    ax.set_xlabel("user id")
    ax.set_title("Windows per user")
    ax.grid(axis="x", visible=False)
    shown = [p for p in ("train", "val", "test", "unused") if p in parts]
    ax.legend(
        handles=[Patch(color=SPLIT_COLORS[p], label=p) for p in shown], loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )
    return _svg(fig, "users", "bar chart of windows per user by partition")


@_charting
def curves_chart(history: dict[str, list[float]], best_epoch: int | None) -> Any:
    """Loss and accuracy per epoch, train against validation, with the epoch whose weights were kept."""
    fig = _figure(10.4, 2.8)
    axes = fig.subplots(1, 2)
    for ax, metric, title in ((axes[0], "loss", "Loss"), (axes[1], "accuracy", "Accuracy")):
        for key, label, color in ((metric, "train", "#2563eb"), (f"val_{metric}", "validation", "#f59e0b")):
            values = history.get(key)
            if values:
                epochs = range(1, len(values) + 1)
                ax.plot(
                    epochs,
                    values,
                    color=color,
                    label=label,
                    linewidth=1.8,
                    marker="o" if len(values) <= 30 else None,
                    markersize=3.5,
                )
        if best_epoch:
            ax.axvline(best_epoch, color="#6b7280", linestyle=":", linewidth=1.2, label=f"best epoch {best_epoch}")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if metric == "accuracy":
            ax.set_ylim(top=1.0)
        ax.legend(loc="best")
    return _svg(fig, "curves", "training and validation loss and accuracy per epoch")


@_charting
def f1_chart(classes: list[str], f1: dict[str, list[float]]) -> Any:
    """Per-class F1 of each rung side by side: a class that int8 hurts stands out as a shorter bar."""
    import numpy as np

    fig = _figure(10.4, 2.6)
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    width = 0.8 / len(f1)
    for i, (rung, values) in enumerate(f1.items()):
        ax.bar(
            x + (i - (len(f1) - 1) / 2) * width, values, width * 0.92, label=RUNG_TITLES[rung], color=RUNG_COLORS[rung]
        )
    ax.set_xticks(x, classes)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1")
    ax.set_title("Per-class F1 on held-out users")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig, "f1", "bar chart of per-class F1, float against int8")


@_charting
def footprint_chart(parts: list[dict[str, Any]]) -> Any:
    """Flash and RAM as stacked bars against the board's capacity (dashed line)."""
    fig = _figure(10.4, 2.4)
    axes = fig.subplots(len(parts), 1)
    for ax, part in zip(axes, parts, strict=True):
        left = 0.0
        capacity = part["capacity"] / 1024
        for name, size, color in sorted(part["items"], key=lambda item: item[0] != "core+runtime"):
            kib = size / 1024
            ax.barh([0], [kib], left=left, height=0.6, color=color, edgecolor="white", linewidth=1)
            if kib >= 0.09 * max(capacity, part["used"] / 1024):
                ax.text(
                    left + kib / 2,
                    0,
                    f"{name}\n{kib:,.0f} KiB",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if name != "core+runtime" else "#111827",
                )
            left += kib
        ax.axvline(capacity, color="#dc2626", linestyle="--", linewidth=1.4)
        ax.text(
            capacity, 0.42, f" capacity {capacity:,.0f} KiB", color="#dc2626", fontsize=7.5, va="bottom", ha="right"
        )
        ax.set_xlim(0, max(capacity, left) * 1.02)
        ax.set_ylim(-0.45, 0.62)
        ax.set_yticks([0], [f"{part['title']} {part['pct']:.1f} %"])
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="y", length=0)
    axes[-1].set_xlabel("KiB")
    return _svg(fig, "footprint", "stacked bars of flash and RAM use against the board's capacity")
