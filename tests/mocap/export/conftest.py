"""Puts this folder on sys.path so that tests and benchmarks import ``anim_scenes``."""
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
