"""``report.html``: one self-contained page a person reads to judge a run.

The run folder is what gets attached to a CI job or sent to a colleague, so its report must open
from disk, offline, years later: charts are SVG drawn by matplotlib (vector, small, text stays
text), the styles live in the Jinja2 template, there is no script, and a Content-Security-Policy
forbids any fetch. The page reads only the files the folder already holds, as typed records, and every
section says plainly what is missing, so the same call serves a folder right after ``train`` and after a
full ``build``. Same files in, same bytes out: JSON is read with sorted keys, the SVG ids come from a
fixed hash salt, and nothing is taken from the clock.

Modules: :mod:`.page` (inputs, header, rendering), :mod:`.sections` (data, training, parity),
:mod:`.latency` (footprint and time on the board), :mod:`.charts` (SVG), :mod:`.formatting` (numbers).
"""

from __future__ import annotations

from .page import render_report, report_context, write_report

__all__ = ["render_report", "report_context", "write_report"]
