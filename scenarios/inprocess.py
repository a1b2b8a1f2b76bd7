"""Both services (and a 3DS Server double) in one process, wired through WSGI transports.

Used by the pytest fixtures and by behave when no running services are configured: a whole flow then
runs in milliseconds with no sockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d1sandbox.clock import Clock
from d1sandbox.wsgi_transport import LateApp

from .client import Sandbox

SIM_URL = "http://sim.test"
ISSUER_URL = "http://issuer.test"
THREEDS_SERVER_URL = "http://3ds-server.test"


@dataclass
class World:
    sim_app: Any
    issuer_app: Any
    clock: Clock
    sandbox: Sandbox
    extra: dict = field(default_factory=dict)

    @property
    def sim(self):
        from simulator.runtime import EXTENSION

        return self.sim_app.extensions[EXTENSION]

    @property
    def issuer(self):
        from issuer.runtime import EXTENSION

        return self.issuer_app.extensions[EXTENSION]

    def drain(self) -> int:
        """Deliver everything D1's outbox owes now (notifications, RReqs)."""
        return self.sim.outbox.drain()

    def close(self) -> None:
        self.sim.db.close()
        self.issuer.db.close()


def build_world(data_dir: Path, *, sim_config: dict | None = None, issuer_config: dict | None = None,
                peers: dict | None = None) -> World:
    """`peers`: extra `{base_url: wsgi_app}` every party can reach (e.g. a 3DS Server double)."""
    from issuer import create_app as create_issuer
    from simulator import create_app as create_sim

    clock = Clock()
    sim_late, issuer_late = LateApp(), LateApp()
    # The 3DS Server double (scenarios/threeds_server.py) always answers at THREEDS_SERVER_URL, so the
    # DS has somewhere to send RReqs; a test may pass its own under the same key.
    from .threeds_server import create_app as create_threeds_server

    peers = {THREEDS_SERVER_URL: create_threeds_server(), **(peers or {})}
    transports = {SIM_URL: sim_late, ISSUER_URL: issuer_late, **peers}
    no_sleep = lambda seconds: None  # noqa: E731  (retries and injected delays cost no wall time)
    sim_app = create_sim({
        "DATA_DIR": str(data_dir / "simulator"), "PUBLIC_URL": SIM_URL, "ISSUER_URL": ISSUER_URL,
        "TRANSPORTS": transports, "CLOCK": clock, "SERVER_SECRET": "test-secret", "SLEEP": no_sleep,
        **(sim_config or {}),
    })
    issuer_app = create_issuer({
        "DATA_DIR": str(data_dir / "issuer"), "PUBLIC_URL": ISSUER_URL, "D1_URL": SIM_URL,
        "TRANSPORTS": transports, "CLOCK": clock, **(issuer_config or {}),
    })
    sim_late.app, issuer_late.app = sim_app, issuer_app
    sandbox = Sandbox.in_process(transports, sim_url=SIM_URL, issuer_url=ISSUER_URL)
    return World(sim_app, issuer_app, clock, sandbox, extra={"threeds_server": peers[THREEDS_SERVER_URL]})
