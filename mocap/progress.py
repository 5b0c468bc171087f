"""Progress of long work, reported through ``logging`` (``mocap -q`` silences it).

``track(iterable, total, desc)`` yields the items and logs ``desc: i/total (p %), elapsed,
estimated time left`` at most every ``every_s`` seconds, plus a last line when done.
"""
from __future__ import annotations

import logging
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

log = logging.getLogger("mocap.progress")

__all__ = ["track"]


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
