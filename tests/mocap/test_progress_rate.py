"""Long work counted as it is reported (the detection's frames) logs its rate and time left."""
from __future__ import annotations

import logging

from mocap import progress


def test_rate_log_gives_frames_per_second_and_time_left(monkeypatch, caplog):
    now = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    caplog.set_level(logging.INFO, logger="mocap.progress")
    meter = progress.RateLog(7200, "detect take", every_s=10.0)
    now[0] = 105.0
    meter.update(100)                          # 5 s: no line yet
    assert caplog.records == []
    now[0] = 120.0
    meter.update(300)                          # 400 frames in 20 s: 20 frames/s
    assert caplog.messages == ["detect take: 400/7200 frames (6 %), 20.0 frames/s, ~5:40 left"]
    now[0] = 460.0
    meter.update(6800)
    meter.close()
    assert caplog.messages[-1] == "detect take: 7200/7200 frames (100 %), 20.0 frames/s, " \
                                  "6:00 elapsed"


def test_rate_log_hours():
    meter = progress.RateLog(100000, "x")
    meter.done, meter.t0 = 1000, 0.0
    assert meter.line(100.0).endswith("10.0 frames/s, ~2:45:00 left")
