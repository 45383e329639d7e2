"""Per-organization request limits over a one-hour sliding window.

The window is the classic two-bucket estimate: the count in the current hour plus the
previous hour's count weighted by how much of it still overlaps the window. It needs two
integers per organization, so the in-process backend stays small and the Redis backend
(for several API replicas) is two INCR/GET calls.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 3600
TIER_LIMITS = {"free": 1_000, "core": 5_000, "pro": 20_000, "team": 20_000, "enterprise": 100_000}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int
    retry_after: int


class Counter(Protocol):
    blocking: bool

    def hit(self, bucket: str, window_index: int) -> tuple[int, int]:
        """Count one request in ``window_index``; return (current, previous) window counts."""


class MemoryCounter:
    blocking = False

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, window_index: int) -> tuple[int, int]:
        with self._lock:
            current = self._counts.get((bucket, window_index), 0) + 1
            self._counts[(bucket, window_index)] = current
            previous = self._counts.get((bucket, window_index - 1), 0)
            for stale in [k for k in self._counts if k[0] == bucket and k[1] < window_index - 1]:
                del self._counts[stale]
        return current, previous


class RedisCounter:
    blocking = True
    """A network round trip: the gate calls it from a worker thread, off the event loop."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def hit(self, bucket: str, window_index: int) -> tuple[int, int]:
        key = f"pictograph:rl:{bucket}:{window_index}"
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 2 * WINDOW_SECONDS)
        pipe.get(f"pictograph:rl:{bucket}:{window_index - 1}")
        current, _, previous = pipe.execute()
        return int(current), int(previous or 0)


class RateLimiter:
    def __init__(self, counter: Counter, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self._counter = counter
        self._clock = clock
        self.blocking = counter.blocking

    def check(self, bucket: str, limit: int) -> Decision:
        now = self._clock()
        window_index = int(now // WINDOW_SECONDS)
        elapsed = now - window_index * WINDOW_SECONDS
        current, previous = self._counter.hit(bucket, window_index)
        weight = 1 - elapsed / WINDOW_SECONDS
        used = previous * weight + current
        reset_at = (window_index + 1) * WINDOW_SECONDS
        if used > limit:
            # The estimate falls as the previous window slides out; wait until it is under the cap.
            retry_after = WINDOW_SECONDS - elapsed
            if previous:
                needed = (used - limit) / previous * WINDOW_SECONDS
                retry_after = min(retry_after, needed)
            return Decision(False, limit, 0, reset_at, max(1, math.ceil(retry_after)))
        return Decision(True, limit, max(0, int(limit - used)), reset_at, 0)


def tier_limit(tier: str) -> int:
    return TIER_LIMITS.get(tier, TIER_LIMITS["free"])
