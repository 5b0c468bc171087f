"""The virtual studio: a kinematic human, procedural motions, rig templates and a simulated
2D detector, all seeded and deterministic. ``mocap demo``, the tests and the benchmarks stand
on it; its takes become session folders in :mod:`mocap.app.studio`."""
from .body import Body
from .motions import animate, motion_names
from .observe import ErrorModel
from .rigs import load_rig_template, rig_template_names
from .studio import Actor, Take, simulate_take

__all__ = ["Actor", "Body", "ErrorModel", "Take", "animate", "load_rig_template",
           "motion_names", "rig_template_names", "simulate_take"]
