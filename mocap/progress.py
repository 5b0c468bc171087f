"""Progress of long work, reported through ``logging`` (``mocap -q`` silences it).

``track(iterable, total, desc)`` yields the items and logs ``desc: i/total (p %), elapsed,
estimated time left`` at most every ``every_s`` seconds, plus a last line when done.
:class:`RateLog` does the same for work counted as it is reported (the detection's frames,
done in worker processes), with the rate in units per second.
"""
from __future__ import annotations

import logging
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

log = logging.getLogger("mocap.progress")

__all__ = ["track", "RateLog"]


def _line(desc: str, done: int, total: "int | None", elapsed: float) -> str:
    if total:
        left = elapsed / done * (total - done) if done else float("nan")
        return (f"{desc}: {done}/{total} ({100.0 * done / total:.0f} %), {elapsed:.1f} s, "
                f"~{left:.1f} s left")
    return f"{desc}: {done} done, {elapsed:.1f} s"


def track(items: Iterable[T], total: "int | None" = None, desc: str = "working",
          every_s: float = 2.0, logger: logging.Logger = log) -> Iterator[T]:
    """Yield ``items`` while logging progress at INFO level."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    t0 = last = time.perf_counter()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.perf_counter()
        if now - last >= every_s:
            logger.info(_line(desc, done, total, now - t0))
            last = now
    logger.info(_line(desc, done, total, time.perf_counter() - t0).split(", ~")[0])


class RateLog:
    """Progress of counted work (frames) reported as it goes: ``update(n)`` adds n done and
    logs ``desc: done/total (p %), r frames/s, ~m:ss left`` at most every ``every_s``
    seconds (the rate over the work done so far in this run), plus a last line from
    :meth:`close`. For work reported by other processes, where no iterable is at hand."""

    def __init__(self, total: int, desc: str = "working", unit: str = "frames",
                 every_s: float = 10.0, logger: logging.Logger = log):
        self.total, self.desc, self.unit, self.every_s, self.log = total, desc, unit, \
            every_s, logger
        self.done = 0
        self.t0 = self.last = time.perf_counter()

    def line(self, now: float) -> str:
        """The progress line at time ``now`` (``time.perf_counter``)."""
        elapsed = max(now - self.t0, 1e-9)
        rate = self.done / elapsed
        head = (f"{self.desc}: {self.done}/{self.total} {self.unit} "
                f"({100.0 * self.done / max(self.total, 1):.0f} %), {rate:.1f} {self.unit}/s")
        if not self.done or self.done >= self.total:
            return f"{head}, {_clock(elapsed)} elapsed"
        return f"{head}, ~{_clock((self.total - self.done) / rate)} left"

    def update(self, n: int) -> None:
        """Count n more done; log when ``every_s`` has passed since the last line."""
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.every_s:
            self.log.info(self.line(now))
            self.last = now

    def close(self) -> None:
        """Log the last line (the rate over the whole run)."""
        self.log.info(self.line(time.perf_counter()))


def _clock(seconds: float) -> str:
    """``h:mm:ss`` or ``m:ss``."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"
