"""The one clock. Every expiry, TTL and timestamp reads it, so tests (and `/sandbox/clock`) can move
time forward without sleeping."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class Clock:
    def __init__(self, offset: float = 0.0, source=time.time):
        self._offset = offset
        self._source = source
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, test offset included."""
        return self._source() + self._offset

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)

    def isoformat(self, ts: float | None = None) -> str:
        moment = self.now() if ts is None else ts
        return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z"
        )

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
