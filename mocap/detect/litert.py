"""One LiteRT (TensorFlow Lite) interpreter per model file: the loader every ``.tflite``
detector in :mod:`mocap.detect` shares (BlazePose's person detector and landmark models, the
hand landmark model)."""
from __future__ import annotations

from pathlib import Path

from ..errors import MocapError

__all__ = ["load_interpreter"]


def load_interpreter(model_path: "str | Path", num_threads: int):
    """A LiteRT interpreter with its tensors allocated.

    Args:
        model_path: the ``.tflite`` file.
        num_threads: CPU threads the interpreter may use (at least 1).
    Raises:
        MocapError: the file is not a loadable LiteRT model (one line naming it).
    """
    from ai_edge_litert.interpreter import Interpreter   # lazy: the CLI's help path stays light
    try:
        it = Interpreter(model_path=str(model_path), num_threads=max(1, int(num_threads)))
    except (ValueError, RuntimeError) as exc:
        raise MocapError(f"{model_path}: not a loadable LiteRT model ({exc})") from None
    it.allocate_tensors()
    return it
