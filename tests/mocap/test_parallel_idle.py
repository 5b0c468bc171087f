"""The CPUs the load leaves idle (mocap.parallel.idle_cpus), where the fit forks its windows."""
from __future__ import annotations

import os

import mocap.parallel as parallel


def test_idle_cpus_follow_the_load(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    for load, idle in ((0.0, 4), (0.9, 4), (1.0, 4), (2.2, 3), (3.6, 1), (40.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert parallel.idle_cpus() == idle, load

    def no_load():
        raise OSError("no load average here")
    monkeypatch.setattr(os, "getloadavg", no_load)
    assert parallel.idle_cpus() == 4
