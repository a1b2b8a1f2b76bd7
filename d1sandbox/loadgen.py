"""Load-generation tools for `d1sandbox bench`: a light keep-alive HTTP client, closed-loop throughput
with N concurrent clients, latency statistics, and what a process costs (RSS from /proc).

The client is `http.client`, not `requests`: the bench shares the machine (often 2 cores) with the
services it measures, so every microsecond the client spends is taken from the server. A lighter
client makes the measured ratios stricter, not kinder."""

from __future__ import annotations

import http.client
import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit


# -- a keep-alive HTTP/1.1 client ------------------------------------------------------------------
class HttpClient:
    """One persistent connection (one per worker thread; not thread-safe)."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._used = False

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self._used = False
            reused = self._used
            try:
                self._conn.request(method, self.prefix + path, body=body, headers=headers or {})
                resp = self._conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                # Only a connection the server closed while idle is retried (the request never ran).
                if not reused or attempt == 2:
                    raise
                continue
            except (OSError, http.client.HTTPException):
                self.close()
                raise
            self._used = True
            if resp.will_close:
                self.close()
            return resp.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# -- statistics ------------------------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (the value below which `pct` % of the samples lie), or None."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(latencies_ms: list[float]) -> dict:
    """count, p50, p90, p99, max and mean of latencies in ms (rounded to 0.01 ms)."""
    def r(value):
        return None if value is None else round(value, 2)
    return {"count": len(latencies_ms), "p50_ms": r(percentile(latencies_ms, 50)),
            "p90_ms": r(percentile(latencies_ms, 90)), "p99_ms": r(percentile(latencies_ms, 99)),
            "max_ms": r(max(latencies_ms) if latencies_ms else None),
            "mean_ms": r(statistics.fmean(latencies_ms) if latencies_ms else None)}


# -- closed-loop load --------------------------------------------------------------------------------
@dataclass
class LoadResult:
    ok: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    first_error: str | None = None

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {"requests_ok": self.ok, "errors": self.errors, "seconds": round(self.seconds, 3),
                "rps": round(self.rps, 1), **summary(self.latencies_ms),
                **({"first_error": self.first_error} if self.first_error else {})}


# `call(client, worker_index)` makes one request and returns True when the answer was the right one.
Call = Callable[[HttpClient, int], bool]


def closed_loop(base_url: str, call: Call, *, seconds: float | None = None, total: int | None = None,
                concurrency: int = 4, on_progress: Callable[[float], None] | None = None) -> LoadResult:
    """`concurrency` clients, each sending its next request as soon as the previous answer arrived,
    for `seconds` (or until `total` requests were made). Latency is per request, wall clock."""
    if seconds is None and total is None:
        raise ValueError("give seconds or total")
    lock = threading.Lock()
    budget = [total if total is not None else -1]
    oks = [0] * concurrency
    errs = [0] * concurrency
    lat: list[list[float]] = [[] for _ in range(concurrency)]
    first_error: list[str] = []
    start = time.perf_counter()
    deadline = start + seconds if seconds is not None else math.inf

    def take() -> bool:
        if budget[0] < 0:
            return True
        with lock:
            if budget[0] == 0:
                return False
            budget[0] -= 1
            return True

    def worker(i: int) -> None:
        client = HttpClient(base_url)
        try:
            while time.perf_counter() < deadline and take():
                began = time.perf_counter()
                try:
                    good = call(client, i)
                except Exception as exc:  # a refused connection is a failed request, not a crash
                    good = False
                    if not first_error:
                        first_error.append(f"{type(exc).__name__}: {exc}")
                lat[i].append((time.perf_counter() - began) * 1000)
                if good:
                    oks[i] += 1
                else:
                    errs[i] += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(0.2)
        if on_progress:
            if total is not None:
                done = sum(oks) + sum(errs)
                on_progress(min(1.0, done / total) if total else 1.0)
            else:
                on_progress(min(1.0, (time.perf_counter() - start) / seconds))
    elapsed = time.perf_counter() - start
    return LoadResult(sum(oks), sum(errs), elapsed, [x for part in lat for x in part],
                      first_error[0] if first_error else None)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(milliseconds, result) of one call."""
    began = time.perf_counter()
    result = fn()
    return (time.perf_counter() - began) * 1000, result


# -- processes -------------------------------------------------------------------------------------
def rss_mb(pid: int) -> dict | None:
    """Resident memory of a process from /proc/<pid>/status: VmRSS (now) and VmHWM (peak), in MB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)  # kB → MB
    return {"rss_mb": values.get("VmRSS"), "peak_rss_mb": values.get("VmHWM")} if values else None


def pid_listening_on(port: int) -> int | None:
    """The process with a listening TCP socket on `port` (Linux /proc; best effort: None when the
    socket or its owner cannot be seen, e.g. another user's process)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name)
        except OSError:
            continue
    return None
