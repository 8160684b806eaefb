"""The model's ops as TFLM MicroMutableOpResolver registrations (firmware_templates/ops.toml)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import EdgekitError
from ..runtime.harness import op_methods


def resolver_ops(ops: Sequence[str]) -> list[dict[str, str]]:
    """Op names -> MicroMutableOpResolver registrations, sorted; an op TFLM's resolver lacks is an error."""
    table = op_methods()
    unknown = sorted(set(ops) - set(table))
    if unknown:
        raise EdgekitError(
            f"model uses op {', '.join(unknown)}, which edgekit cannot register for TFLM "
            f"(known: {len(table)} ops in firmware_templates/ops.toml); change the model to avoid it"
        )
    return [{"name": op, "method": table[op]} for op in sorted(set(ops))]
