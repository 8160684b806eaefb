"""Generate the Arduino sketch (TensorFlow Lite Micro) from a run's int8 model and contract.

All C++ lives in Jinja2 templates under ``firmware_templates/sketch``; the package only validates inputs
(:mod:`.checks`), computes the numbers (:mod:`.arena`, :mod:`.ops`, :mod:`.context`) and renders
(:mod:`.render`, :mod:`.sketch_io`). This module puts those steps in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..boards import Board, load_board, parse_axis_map
from ..contract import MAX_GAP_S, Contract
from ..runtime.harness import BoardModel, model_interface, model_sources, op_methods
from ..runtime.sources import locate_sources
from ..runtime.tree import TREE_DIR
from ..sketch_folder import SKETCH_MANIFEST
from .arena import BoardArena, plan_arena, sketch_fit
from .checks import check_board, check_model, check_sketch_name, require_quant
from .context import runtime_context, sketch_context
from .selftest import Selftest, check_selftest
from .sketch_io import sketch_files, sketch_manifest, write_sketch


def generate_firmware(
    tflite_bytes: bytes,
    contract: Contract,
    board: Board | str,
    out_dir: Path,
    sketch_name: str = "edgekit_har",
    axis_map: str | Sequence[str] | None = None,
    selftest: Selftest | None = None,
    force: bool = False,
    runtime: BoardModel | None = None,
    runtime_src: Path | None = None,
    board_arena: BoardArena | None = None,
    model: str | None = None,
    max_gap_s: float = MAX_GAP_S,
) -> Path:
    """Write the sketch folder ``out_dir/sketch_name`` (replacing one edgekit generated before) and return it.

    ``model`` names the architecture when the caller knows it, so a refusal does not suggest it again.

    The sketch ships the board's TFLM runtime in ``src/tflm`` with the model code (``runtime``, as the
    parity rungs built and ran it; generated here from ``runtime_src`` or edgekit's cache when not given).

    Refuses, before writing anything, a model whose op TFLM cannot register, a contract that does not
    describe this model, a model that does not fit the board, and (unless ``force``) replacing a
    sketch whose generated files were edited by hand, since that would silently throw the edits away.
    """
    board = load_board(board) if isinstance(board, str) else board
    check_sketch_name(sketch_name)
    info = check_model(tflite_bytes, contract)
    quant = require_quant(contract)
    if selftest is not None:
        check_selftest(selftest, contract.n_features, len(contract.labels))
    arena = plan_arena(tflite_bytes, quant.arena_bytes, board_arena)
    fit = sketch_fit(tflite_bytes, contract, board, selftest, arena)
    fit.raise_if_not_fit(model)
    check_board(board, contract)
    assert board.imu is not None and board.tflm is not None  # check_board
    mapping = (
        parse_axis_map(axis_map if isinstance(axis_map, str) else tuple(axis_map))
        if axis_map is not None
        else board.imu.axis_map
    )
    if runtime is None:
        runtime = model_sources(
            tflite_bytes,
            model_interface(tflite_bytes, info),
            locate_sources(runtime_src),
            op_methods(),
            board.tflm.hot_kernels,
        )
    context = sketch_context(
        tflite_bytes, contract, board, info.ops, mapping, axis_map is not None, selftest, sketch_name, max_gap_s
    )
    context.update(
        arena=arena.to_dict(), fit=fit.to_dict(), fit_summary=fit.summary(), runtime=runtime_context(runtime)
    )
    files = sketch_files(context, sketch_name, selftest is not None)
    files.update(runtime.files)
    files.update({f"{TREE_DIR}/{name}": data for name, data in runtime.tree.files.items()})
    files[SKETCH_MANIFEST] = sketch_manifest(context, files, quant.input_scale, quant.output_scale)
    return write_sketch(Path(out_dir), sketch_name, files, force)
