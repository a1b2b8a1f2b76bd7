"""Shared fixtures for the 3DS test files: one in-process world per test module, put back to the
seeded demo state before each test (a reset costs milliseconds; building a world costs a second).

Import the fixtures into a test module to use them: `from threeds_support import sim, issuer, world`."""

from __future__ import annotations

import pytest

from scenarios.inprocess import build_world


def reset_world(world) -> None:
    """Both services back to their seeded state, the clock to now, the 3DS Server double emptied."""
    from issuer.seed import reset as reset_issuer
    from simulator.seed import reset as reset_simulator

    reset_simulator(world.sim)
    reset_issuer(world.issuer)
    state = world.extra["threeds_server"].extensions["threeds_server"]
    with state["lock"]:
        state["rreqs"].clear()
        state["notifications"].clear()
        state["mode"] = "ok"


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("threeds"))
    yield w
    w.close()


@pytest.fixture
def world(shared_world):
    reset_world(shared_world)
    return shared_world


@pytest.fixture
def sim(world):
    return world.sim_app.test_client()


@pytest.fixture
def issuer(world):
    return world.issuer_app.test_client()


def issuer_token(sim) -> str:
    """A D1 API token of the demo issuer (client credentials, HTTP Basic)."""
    import base64

    from d1sandbox import demo

    auth = base64.b64encode(f"{demo.DEMO_D1_CLIENT_ID}:{demo.DEMO_D1_CLIENT_SECRET}".encode()).decode()
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials"},
                    headers={"Authorization": f"Basic {auth}"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]
