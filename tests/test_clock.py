import pytest

from d1sandbox.clock import Clock


def test_clock_advances_without_sleeping():
    clock = Clock(source=lambda: 1000.0)
    assert clock.now() == 1000.0
    clock.advance(90)
    assert clock.now() == 1090.0
    assert clock.isoformat().endswith("Z")


def test_clock_refuses_to_go_back():
    with pytest.raises(ValueError):
        Clock().advance(-1)


def test_reset_returns_to_real_time():
    clock = Clock(source=lambda: 5.0)
    clock.advance(10)
    clock.reset()
    assert clock.now() == 5.0


def test_sandbox_clock_endpoint_moves_the_simulator_clock(sim, world):
    before = world.clock.now()
    resp = sim.post("/sandbox/clock", json={"advance_seconds": 600})
    assert resp.status_code == 200
    assert resp.json["offset_seconds"] == 600
    assert world.clock.now() - before >= 600


def test_sandbox_clock_rejects_negative(sim):
    resp = sim.post("/sandbox/clock", json={"advance_seconds": -5})
    assert resp.status_code == 422
    assert "advance_seconds" in resp.json["fields"]
