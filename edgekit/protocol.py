"""The serial line protocol between edgekit firmware and the host.

Firmware templates receive these tags, field lists and number formats from Python when rendered (the
``Serial.print`` chains are generated from :data:`FIELDS`), and the host parsers in edgekit's device
layer read the same tags and fields, so the format is written down once. Every line is ASCII,
comma-separated, starts with ``EK`` and ends with ``\\r\\n``:

    EK,READY,<model_sha256 first 16 hex>,<arena_used_bytes>
    EK,ERROR,<reason, free text without newlines>        (repeated every ERROR_REPEAT_S seconds)
    EK,PRED,<seq>,<label>,<confidence 0..1, 3 decimals>,<inference_ms>,<missed_samples_total>
    EK,SELFTEST,<passed>,<total>,<max_abs_int8_diff>,<us_per_inference>,<first_failing_index or -1>
    EK,SENSOR,<resting |a| m/s^2, 2 decimals>,<achieved sample rate Hz, 2 decimals>,<ok 0|1>
    EK,CAPSTART,<rate_hz, 2 decimals>
    EK,CAP,<seq>,<x>,<y>,<z>        (m/s^2, 4 decimals, already in WISDM axis order)

The host sends one-character commands: ``c`` streams EK,CAP samples, ``p`` goes back to EK,PRED
lines, ``r`` repeats the EK,READY line (printed once at boot, often before the host listens).
"""

from __future__ import annotations

import re

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
ERROR_REPEAT_S = 2  # a start-up error is printed again this often, so a host that opens the port late sees it

FIELDS = {
    READY: ("model_hash", "arena_used"),
    ERROR: ("reason",),
    PRED: ("seq", "label", "confidence", "inference_ms", "missed"),
    SELFTEST: ("passed", "total", "max_diff", "us_per_inference", "first_failure"),
    SENSOR: ("rest_magnitude", "rate_hz", "ok"),
    CAPSTART: ("rate_hz",),
    CAP: ("seq", "x", "y", "z"),
}
# Digits after the decimal point of the fields the firmware prints as floats; every other field is an
# integer or text. Enough for the host's parsers (3 for a 0..1 score, 4 for m/s^2 at a 16-bit IMU's step).
DECIMALS = {
    PRED: {"confidence": 3},
    SENSOR: {"rest_magnitude": 2, "rate_hz": 2},
    CAPSTART: {"rate_hz": 2},
    CAP: {"x": 4, "y": 4, "z": 4},
}


def line_fields(kind: str) -> list[dict[str, object]]:
    """The fields of one line kind in order, each with its decimals (None: printed as integer or text)."""
    decimals = DECIMALS.get(kind, {})
    return [{"name": name, "decimals": decimals.get(name)} for name in FIELDS[kind]]


def template_context() -> dict[str, object]:
    """The tags, field lists and timings as Jinja2 variables for the firmware templates."""
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
        "proto_error_repeat_s": ERROR_REPEAT_S,
        "proto_error_repeat_ms": ERROR_REPEAT_S * 1000,
        "proto_fields": {kind: line_fields(kind) for kind in FIELDS},
    }


# A class label as it travels in EK,PRED lines: no commas (the field separator), nothing a terminal or a CSV
# reader would take for markup. The firmware refuses others at build time, the host parser at read time.
LABEL_PATTERN = r"[A-Za-z0-9_ ./+()-]{1,64}"
LABEL = re.compile(LABEL_PATTERN)
