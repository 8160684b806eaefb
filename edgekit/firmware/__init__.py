"""Firmware: the Arduino sketch (TFLM) and the capture sketch, generated from a run's model and contract.

Modules by feature: :mod:`.checks` (what is refused), :mod:`.ops` (resolver registrations),
:mod:`.pipeline` (the sample-to-int8 arithmetic in Python), :mod:`.selftest` (golden windows),
:mod:`.arena` (arena, RAM/flash budget, fit), :mod:`.stack` (the sampling thread's stack),
:mod:`.context` (the template variables both sketches share), :mod:`.render` (the one Jinja environment,
also the report's), :mod:`.sketch_io` (the folder and its manifest), :mod:`.generate` and
:mod:`.capture` (the two sketches). The names below are the package's API.
"""

from __future__ import annotations

from ..sketch_folder import SKETCH_KIND, SKETCH_MANIFEST, sketch_edits
from .arena import ArenaPlan, BoardArena, cmsis_scratch_bytes, plan_arena, sketch_fit
from .capture import render_capture_sketch
from .generate import generate_firmware
from .ops import resolver_ops
from .pipeline import board_to_model_axes, model_to_board_axes, reference_int8_windows, units_to_ms2, window_starts
from .render import harness_dir, templates_dir
from .selftest import MAX_SELFTEST_WINDOWS, Selftest, make_selftest
from .sketch_io import CONFIG_HEADER, MODEL_HEADER, MODEL_SOURCE, PIPELINE_HEADER
from .stack import SAMPLER_STACK_BYTES

__all__ = [
    "CONFIG_HEADER",
    "MAX_SELFTEST_WINDOWS",
    "MODEL_HEADER",
    "MODEL_SOURCE",
    "PIPELINE_HEADER",
    "SAMPLER_STACK_BYTES",
    "SKETCH_KIND",
    "SKETCH_MANIFEST",
    "ArenaPlan",
    "BoardArena",
    "Selftest",
    "board_to_model_axes",
    "cmsis_scratch_bytes",
    "generate_firmware",
    "harness_dir",
    "make_selftest",
    "model_to_board_axes",
    "plan_arena",
    "reference_int8_windows",
    "render_capture_sketch",
    "resolver_ops",
    "sketch_edits",
    "sketch_fit",
    "templates_dir",
    "units_to_ms2",
    "window_starts",
]
