"""TensorFlow, imported once and quietly.

Importing TensorFlow prints half a dozen native log lines (oneDNN, CUDA stubs, ``failed call to cuInit``)
on file descriptor 2 before absl's logging is initialised, so no environment variable silences them and
they bury the one-line error a user is owed (``edgekit build --board uno`` must print exactly one line).
The import and the device probe that triggers the CUDA lines run with descriptor 2 pointed at a
temporary file; if the import fails, what was captured is replayed so the real cause is not lost.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from functools import cache
from types import ModuleType

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's own ERROR lines too: edgekit reports errors itself


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Point descriptor 2 at a temporary file for the block; replay it only if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@cache
def tensorflow() -> ModuleType:
    """The ``tensorflow`` module, imported (and its devices probed) without native log noise."""
    with native_stderr_captured():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf


@cache
def keras() -> ModuleType:
    """The ``keras`` module, after :func:`tensorflow` so its import is quiet too."""
    tensorflow()
    with native_stderr_captured():
        import keras as module
    return module
