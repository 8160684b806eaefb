"""The cost model's constants: instructions per MAC, per output, per element and per op, per core and kernel set.

See :mod:`edgekit.profile` for the formula; every constant has its reason written next to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What the Cortex-M4 constants are fitted to: the seed model's MACs and the counted instructions of
# one TFLM inference with each kernel set (tests/test_profile.py checks the fit).
SEED_CALIBRATION = {"macs": 8_685_960, "cmsis-nn": 15.4e6, "reference": 598e6}


# --------------------------------------------------------------------------- cost model


@dataclass(frozen=True)
class KernelCost:
    """Instruction counts of one kernel set on one core; see the module docstring for the formula."""

    instr_per_mac: dict[str, float]
    instr_per_output: dict[str, float]
    instr_per_element: dict[str, float]
    instr_per_patch: float
    instr_per_op: float
    note: str


@dataclass(frozen=True)
class CoreCost:
    """A core type: its kernel sets, which one the board's TFLM library uses, and its CPI range."""

    title: str
    default_kernels: str
    cpi: tuple[float, float]
    cpi_note: str
    kernels: dict[str, KernelCost] = field(default_factory=dict)


# Per-element costs shared by the Arm cores (TFLM's pooling, mean and softmax kernels are plain C in
# both kernel sets for these shapes): a compare or add with its load and loop step is ~2-3 instructions;
# softmax per class ~150 (exp lookup + fixed-point division); reshape is a byte copy (memcpy, ~0.3/B).
_ARM_ELEMENTS = {
    "max_pool": 2.5,
    "avg_pool": 2.5,
    "mean": 2.5,
    "softmax": 150.0,
    "reshape": 0.3,
    "relu": 2.0,
    "add": 4.0,
}

_M4_CMSIS = KernelCost(
    # arm_convolve_s8 / arm_nn_mat_mult_kernel_s8_s16 with the DSP extension: 2 output channels x 2
    # columns per pass, SXTB16 to widen 4 weights, SMLAD = 2 MACs per instruction; ~22 instructions
    # per 16 MACs in the inner loop plus loop and leftover handling -> 1.73 (calibrated: the seed
    # then totals 15.4 M with the terms below). Fully connected (arm_nn_vec_mat_mult_t_s8) and
    # depthwise kernels reuse less data per load, hence higher.
    instr_per_mac={"conv": 1.73, "fully_connected": 2.0, "depthwise": 3.0},
    # arm_nn_requantize (SMULL-based doubling high multiply + rounding shift), offset, SSAT, store.
    instr_per_output={"conv": 16.0, "fully_connected": 16.0, "depthwise": 16.0, "mean": 16.0},
    instr_per_element=_ARM_ELEMENTS,
    instr_per_patch=1.5,  # im2col: arm_q7_to_q15_with_offset, 4 values per ~6 instructions
    instr_per_op=2000.0,  # MicroInterpreter::Invoke dispatch, per-op Eval set-up, profiler hooks
    note="calibrated: seed = 15.4 M instructions (counted for TFLM + CMSIS-NN on a Cortex-M4)",
)
_M4_REFERENCE = KernelCost(
    # tflite::reference_integer_ops::ConvPerChannel: six nested loops, Offset() index arithmetic
    # and bounds checks around each MAC; calibrated so the seed totals 598 M instructions.
    instr_per_mac={"conv": 68.7, "fully_connected": 12.0, "depthwise": 70.0},
    instr_per_output={"conv": 40.0, "fully_connected": 40.0, "depthwise": 40.0, "mean": 40.0},
    instr_per_element={**_ARM_ELEMENTS, "max_pool": 12.0, "avg_pool": 12.0},
    instr_per_patch=0.0,
    instr_per_op=2000.0,
    note="calibrated: seed = 598 M instructions (counted for TFLM's reference kernels on a Cortex-M4)",
)


def _scaled(cost: KernelCost, factor: float, note: str) -> KernelCost:
    """The same kernels compiled for a weaker instruction set: every per-item count times ``factor``."""
    return KernelCost(
        instr_per_mac={k: v * factor for k, v in cost.instr_per_mac.items()},
        instr_per_output={k: v * factor for k, v in cost.instr_per_output.items()},
        instr_per_element={k: v * factor for k, v in cost.instr_per_element.items()},
        instr_per_patch=cost.instr_per_patch * factor,
        instr_per_op=cost.instr_per_op * factor,
        note=note,
    )


COST_MODELS: dict[str, CoreCost] = {
    "cortex-m4": CoreCost(
        title="Arm Cortex-M4(F), ARMv7E-M with the DSP extension",
        # Chirale_TensorFLowLite 2.0.0 (the boards' TFLM library) ships only the CMSIS-NN versions of
        # conv, depthwise conv, fully connected, pooling, softmax, add and mul (micro/kernels/cmsis_nn/),
        # and CMSIS-NN turns on its DSP path from __ARM_FEATURE_DSP, which the M4F has.
        default_kernels="cmsis-nn",
        # LDR 2 cycles (1 when pipelined), SMLAD/SXTB16 1, taken branch 2-4; nRF52840 runs code from
        # flash through its instruction cache, so the hot loops see ~0 wait states; ~25 % loads and a
        # branch every ~16 MACs give ~1.25, and the range covers cache misses and interrupts (sampler).
        cpi=(1.1, 1.4),
        cpi_note="LDR 2 cycles, SMLAD 1, branches 2-4; code in flash behind the nRF52840 I-cache",
        kernels={"cmsis-nn": _M4_CMSIS, "reference": _M4_REFERENCE},
    ),
    "cortex-m0plus": CoreCost(
        title="Arm Cortex-M0+, ARMv6-M (Thumb-1, no DSP, single-cycle multiplier on RP2040)",
        default_kernels="cmsis-nn",  # the same library as on the M4; CMSIS-NN takes its plain-C path here
        # 2-stage pipeline: loads 2 cycles, taken branches 2; code runs from QSPI flash through the
        # RP2040's 16 KiB XIP cache (misses cost tens of cycles), hence the wide upper end.
        cpi=(1.3, 1.8),
        cpi_note="loads and taken branches 2 cycles; code from QSPI flash behind a 16 KiB XIP cache",
        kernels={
            "cmsis-nn": KernelCost(
                # arm_nn_mat_mult_kernel_s8_s16 without ARM_MATH_DSP: 4 MACs per loop of LDRSB/LDRSH x4,
                # MULS x4, ADDS x4, pointer steps and loop branch, with spills (only r0-r7 for most
                # Thumb-1 instructions) -> ~22 instructions per 4 MACs. arm_nn_requantize's 64-bit product
                # is a software multiply (__aeabi_lmul) on ARMv6-M, hence ~4x the M4's per-output cost.
                instr_per_mac={"conv": 5.5, "fully_connected": 6.0, "depthwise": 7.0},
                instr_per_output={"conv": 60.0, "fully_connected": 60.0, "depthwise": 60.0, "mean": 60.0},
                instr_per_element={k: v * 1.1 for k, v in _ARM_ELEMENTS.items()},
                instr_per_patch=5.0,  # arm_q7_to_q15_with_offset one value per loop (no SXTB16)
                instr_per_op=2200.0,
                note="not calibrated on hardware: CMSIS-NN's plain-C loops counted for Thumb-1",
            ),
            # Thumb-1 has no IT blocks, no 3-register shifts/adds with immediates beyond 8 bits and only
            # r0-r7 for most instructions: the same C needs ~10 % more instructions than on ARMv7E-M.
            "reference": _scaled(_M4_REFERENCE, 1.1, "Cortex-M4 reference count x 1.1 (Thumb-1 code density)"),
        },
    ),
    "avr": CoreCost(
        title="8-bit AVR (ATmega)",
        default_kernels="reference",
        # Most AVR instructions take 1 cycle; loads from SRAM 2, from flash (LPM) 3, MUL 2.
        cpi=(1.3, 1.8),
        cpi_note="most instructions 1 cycle, LD 2, LPM (weights in flash) 3, MUL 2",
        kernels={
            # No TFLM port exists for AVR: every 32-bit add, multiply and index computation of the
            # reference kernels becomes 4-20 8-bit instructions. Order of magnitude only.
            "reference": _scaled(
                _M4_REFERENCE,
                6.0,
                "Cortex-M4 reference count x 6 (32-bit C on an 8-bit core); "
                "no TFLM port for AVR, order of magnitude only",
            ),
        },
    ),
}

_CORE_ALIASES = {
    "cortex-m4": "cortex-m4",
    "cortex-m4f": "cortex-m4",
    "cortex-m0+": "cortex-m0plus",
    "cortex-m0plus": "cortex-m0plus",
    "avr": "avr",
}


def core_key(core: str) -> str | None:
    """A board file's ``mcu.core`` ('Cortex-M4F', 'Cortex-M0+', 'AVR') -> a :data:`COST_MODELS` key."""
    return _CORE_ALIASES.get(core.strip().lower().replace(" ", "-"))
