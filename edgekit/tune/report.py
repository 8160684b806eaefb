"""TUNE/report.html: the front as a table and a matplotlib chart (inline SVG, same numbers same bytes)."""

from __future__ import annotations

import io
import re
from typing import Any

from .. import artifacts
from ..resources import resource_dir
from .front import TrialRecord, pareto_front

TEMPLATE = "tune.html.j2"


def front_chart(records: list[TrialRecord], front: list[TrialRecord]) -> str:
    """Validation accuracy against estimated latency; marker area ~ flash; the front joined by a line."""
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
        ax.set_xlabel("estimated latency on the board (ms)")
        ax.set_ylabel("validation accuracy")
        ax.set_title("trained candidates (grey: pruned; area ~ flash); red: Pareto front")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    return text.replace("<svg ", '<svg class="chart" role="img" aria-label="Pareto front chart" ', 1)


def render(records: list[TrialRecord], facts: dict[str, Any]) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("firmware_templates") / "report")),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    front = pareto_front(records)
    chart = Markup(front_chart(records, front)) if records else ""
    ordered = sorted(records, key=lambda r: (-r.val_accuracy, r.trial_id))
    return env.get_template(TEMPLATE).render(
        front=front, records=ordered, chart=chart, version=artifacts.versions().get("edgekit", ""), **facts
    )
