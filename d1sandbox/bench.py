"""`d1sandbox bench`: throughput and latency of the hot paths, measured side by side in one run."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import requests

from .outbound import pooled_session
from .services import Services


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def throughput(request: Callable[[requests.Session], bool], seconds: float, concurrency: int) -> dict:
    """Requests per second of `request` with `concurrency` clients, each on its own pooled session."""
    counts = [0] * concurrency
    errors = [0] * concurrency
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    deadline = time.perf_counter() + seconds

    def worker(i: int):
        session = pooled_session(2)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = request(session)
            latencies[i].append((time.perf_counter() - started) * 1000)
            if ok:
                counts[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for lat in latencies for x in lat)
    return {"rps": round(sum(counts) / elapsed, 1), "errors": sum(errors), "p50_ms": _pct(flat, 50),
            "p99_ms": _pct(flat, 99), "mean_ms": round(statistics.fmean(flat), 2) if flat else None}


def _pct(values: list[float], pct: float):
    if not values:
        return None
    index = min(len(values) - 1, int(round(pct / 100 * (len(values) - 1))))
    return round(values[index], 2)


def run_bench(*, seconds: float = 3.0, concurrency: int = 4, sim_url: str | None = None,
              issuer_url: str | None = None, progress=None) -> dict:
    say = progress or (lambda msg: None)
    services = None
    if sim_url is None:
        services = Services(Path(tempfile.mkdtemp(prefix="d1bench-")), _free_port(), _free_port())
        say(f"starting services in {services.data_dir} …")
        services.start(quiet=True)
        sim_url = services.sim_url
    try:
        figures = []
        say(f"[1/1] GET /health, {concurrency} clients, {seconds:.0f}s …")
        health = throughput(lambda s: s.get(sim_url + "/health", timeout=5).status_code == 200, seconds,
                            concurrency)
        figures.append({"name": "simulator GET /health (req/s)", "value": health["rps"], "target": None,
                        "ok": None, "detail": health})
        return {"sim_url": sim_url, "seconds": seconds, "concurrency": concurrency, "figures": figures}
    finally:
        if services is not None:
            services.stop()
