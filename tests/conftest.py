"""Fixtures: each test gets fresh databases; both services run in one process, wired together."""

from __future__ import annotations

import pytest

from scenarios.inprocess import build_world


@pytest.fixture
def world(tmp_path):
    w = build_world(tmp_path)
    yield w
    w.close()


@pytest.fixture
def sim(world):
    return world.sim_app.test_client()


@pytest.fixture
def issuer(world):
    return world.issuer_app.test_client()
