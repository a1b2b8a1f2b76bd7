"""Start and stop the two services as child processes (used by `up`, `bench` and tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it), for services started on the side."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Services:
    data_dir: Path
    sim_port: int = 8000
    issuer_port: int = 8001
    host: str = "127.0.0.1"
    threads: int = 8
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def sim_url(self) -> str:
        return f"http://{self.host}:{self.sim_port}"

    @property
    def issuer_url(self) -> str:
        return f"http://{self.host}:{self.issuer_port}"

    def start(self, *, quiet: bool = False, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name, port in (("issuer", self.issuer_port), ("simulator", self.sim_port)):
            cmd = [sys.executable, "-m", "d1sandbox.serve", name, "--host", self.host, "--port", str(port),
                   "--data-dir", str(self.data_dir), "--sim-url", self.sim_url, "--issuer-url", self.issuer_url,
                   "--threads", str(self.threads)]
            out = subprocess.DEVNULL if quiet else None
            self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = {"simulator": self.sim_url, "issuer": self.issuer_url}
        while pending:
            for name, url in list(pending.items()):
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{name} exited with code {proc.returncode} (is port busy?)")
                try:
                    if requests.get(url + "/health", timeout=0.5).status_code == 200:
                        del pending[name]
                except requests.RequestException:
                    pass
            if pending and time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"not healthy within {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.05)

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def wait(self) -> int:
        """Block until a child exits or we are interrupted."""
        while True:
            for proc in self.procs.values():
                code = proc.poll()
                if code is not None:
                    return code
            time.sleep(0.2)

    def stop(self, grace: float = 5.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
