"""The serial line protocol between edgekit firmware and the host.

Firmware templates receive these tags from Python when rendered, and the host parsers in
:mod:`edgekit.serial` read the same tags, so the format is written down once. Every line is ASCII,
comma-separated, starts with ``EK`` and ends with ``\\r\\n``:

    EK,READY,<model_sha256 first 16 hex>,<arena_used_bytes>
    EK,ERROR,<reason, free text without newlines>
    EK,PRED,<seq>,<label>,<confidence 0..1, 3 decimals>,<inference_ms>,<missed_samples_total>
    EK,SELFTEST,<passed>,<total>,<max_abs_int8_diff>,<us_per_inference>,<first_failing_index or -1>
    EK,SENSOR,<resting |a| m/s^2, 2 decimals>,<achieved sample rate Hz, 2 decimals>,<ok 0|1>
    EK,CAPSTART,<rate_hz>
    EK,CAP,<seq>,<x>,<y>,<z>        (m/s^2, 4 decimals, already in WISDM axis order)

The host sends one-character commands: ``c`` streams EK,CAP samples, ``p`` goes back to EK,PRED
lines, ``r`` repeats the EK,READY line (printed once at boot, often before the host listens).
"""

from __future__ import annotations

PREFIX = "EK"
READY = "READY"
ERROR = "ERROR"
PRED = "PRED"
SELFTEST = "SELFTEST"
SENSOR = "SENSOR"
CAPSTART = "CAPSTART"
CAP = "CAP"
BAUD = 115200
CMD_CAPTURE = "c"
CMD_PREDICT = "p"
CMD_READY = "r"

FIELDS = {
    READY: ("model_hash", "arena_used"),
    ERROR: ("reason",),
    PRED: ("seq", "label", "confidence", "inference_ms", "missed"),
    SELFTEST: ("passed", "total", "max_diff", "us_per_inference", "first_failure"),
    SENSOR: ("rest_magnitude", "rate_hz", "ok"),
    CAPSTART: ("rate_hz",),
    CAP: ("seq", "x", "y", "z"),
}


def template_context() -> dict[str, object]:
    """The tags as Jinja2 variables for the firmware templates."""
    return {
        "proto_prefix": PREFIX,
        "proto_ready": READY,
        "proto_error": ERROR,
        "proto_pred": PRED,
        "proto_selftest": SELFTEST,
        "proto_sensor": SENSOR,
        "proto_capstart": CAPSTART,
        "proto_cap": CAP,
        "proto_baud": BAUD,
        "proto_cmd_capture": CMD_CAPTURE,
        "proto_cmd_predict": CMD_PREDICT,
        "proto_cmd_ready": CMD_READY,
    }


# A class label as it travels in EK,PRED lines: no commas (the field separator), nothing a terminal or a CSV
# reader would take for markup. The firmware refuses others at build time, the host parser at read time.
LABEL_PATTERN = r"[A-Za-z0-9_ ./+()-]{1,64}"
