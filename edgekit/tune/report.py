"""TUNE/report.html: the front as a table and a matplotlib chart (inline SVG, same numbers same bytes)."""

from __future__ import annotations

import io
import re
from typing import Any

from .. import artifacts
from .front import TrialRecord, pareto_front

TEMPLATE = "tune.html.j2"


def front_chart(records: list[TrialRecord], front: list[TrialRecord]) -> str:
    """Validation accuracy against latency on the board; marker area ~ flash; the front joined by a line."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "edgekit-tune", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(6.5, 3.6), layout="constrained")
        ax = fig.add_subplot()
        size = [20 + 200 * r.flash_bytes / max(x.flash_bytes for x in records) for r in records]
        colors = ["#2563eb" if r.kept else "#9ca3af" for r in records]
        ax.scatter([r.latency_ms for r in records], [r.val_accuracy for r in records], s=size, c=colors, alpha=0.6)
        line = sorted(front, key=lambda r: r.latency_ms)
        ax.plot([r.latency_ms for r in line], [r.val_accuracy for r in line], color="#dc2626", marker="o", lw=1)
        ax.set_xlabel("latency on the board (ms)")
        ax.set_ylabel("validation accuracy")
        ax.set_title("trained candidates (grey: pruned; area ~ flash); red: Pareto front")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    return text.replace("<svg ", '<svg class="chart" role="img" aria-label="Pareto front chart" ', 1)


def latency_basis(records: list[TrialRecord]) -> str:
    """How the latencies were obtained, in words: measured on the emulated core, estimated, or both."""
    sources = {r.latency_source for r in records}
    if sources == {"measured"}:
        return "measured: the candidate's code and the board's own TFLM runtime run on its emulated core (QEMU)"
    if sources == {"estimate"}:
        return "the profile's cost-model estimate (no emulated core or runtime sources here)"
    return "measured on the emulated core where possible, else the cost-model estimate (marked est.)"


def render(records: list[TrialRecord], facts: dict[str, Any]) -> str:
    """The page, through the one Jinja environment edgekit renders every template with."""
    from markupsafe import Markup

    from ..firmware.render import environment

    front = pareto_front(records)
    chart = Markup(front_chart(records, front)) if records else ""
    ordered = sorted(records, key=lambda r: (-r.val_accuracy, r.trial_id))
    return (
        environment()
        .get_template(f"report/{TEMPLATE}")
        .render(
            front=front,
            records=ordered,
            chart=chart,
            latency_basis=latency_basis(records),
            version=artifacts.versions().get("edgekit", ""),
            **facts,
        )
    )
