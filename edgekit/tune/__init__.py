"""``edgekit tune``: the most accurate model of the compact family that fits a board (layer 2, beside build).

Ray and Optuna are imported only when a tune runs, so the rest of edgekit works without starting them.
"""

from __future__ import annotations

from .engine import BEST, TuneOptions, check_options, tune_run

__all__ = ["BEST", "TuneOptions", "check_options", "tune_run"]
