"""LiteRT (TensorFlow Lite) models of :mod:`mocap.detect`: one loader and one check of a model's
input and outputs that every ``.tflite`` runner shares (BlazePose's person detector and landmark
models, the hand landmark model)."""
from __future__ import annotations

from pathlib import Path

from ..errors import MocapError

__all__ = ["load_interpreter", "model_io"]


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


def model_io(interpreter, model_path: "str | Path", what: str, input_px: int,
             want: "dict[str, tuple[int, ...]]") -> "tuple[int, dict[str, int]]":
    """Check a loaded model's input and outputs and give their tensor indices.

    Args:
        interpreter: from :func:`load_interpreter`.
        model_path: the ``.tflite`` file (named in the error).
        what: the model the file should be ("the BlazePose landmark model").
        input_px: its square RGB input's side, px (input shape (1, input_px, input_px, 3)).
        want: output name -> expected shape.
    Returns:
        The input tensor index and output name -> tensor index.
    Raises:
        MocapError: another input shape, or an output missing or of another shape (one line
            naming the file, what was expected and what was found).
    """
    inp = interpreter.get_input_details()[0]
    outs = {d["name"]: d for d in interpreter.get_output_details()}
    found = {k: tuple(outs[k]["shape"]) for k in want if k in outs}
    if tuple(inp["shape"]) != (1, input_px, input_px, 3) or found != want:
        raise MocapError(f"{model_path}: expected {what} (input 1x{input_px}x{input_px}x3, "
                         f"outputs {want}), found input {inp['shape']}, outputs {found}")
    return inp["index"], {k: outs[k]["index"] for k in want}
