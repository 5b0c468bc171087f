"""Puts ``tests/`` on ``sys.path`` so that tests in any folder import its shared helpers by
bare name (``fuzz_inputs``: the strategies of the file readers' fuzz tests)."""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
