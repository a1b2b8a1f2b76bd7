"""Named end-to-end scenarios: `d1sandbox scenario list|run NAME`.

A scenario is a function taking a `Sandbox` and returning a dict of facts it established (e.g. the
transaction ID whose journal it produced). It raises `ScenarioFailed` (an AssertionError) when the
services misbehave."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .client import Sandbox, ScenarioFailed


@dataclass
class Scenario:
    name: str
    description: str
    run: Callable[[Sandbox], dict]


_SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, description: str):
    def wrap(fn):
        _SCENARIOS[name] = Scenario(name, description, fn)
        return fn
    return wrap


def all_scenarios() -> dict[str, Scenario]:
    """Imports `scenarios/flows*.py` (each registers its scenarios) and lists them by name."""
    import importlib
    import pkgutil

    from . import __path__ as package_path

    for info in pkgutil.iter_modules(package_path):
        if info.name.startswith("flows"):
            importlib.import_module(f"{__package__}.{info.name}")
    return dict(sorted(_SCENARIOS.items()))


@dataclass
class Outcome:
    name: str
    passed: bool
    seconds: float
    facts: dict
    error: str | None
    steps: list

    def as_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "seconds": round(self.seconds, 3), "facts": self.facts,
                "error": self.error, "steps": [s.as_dict() for s in self.steps]}


def run(name: str, sandbox: Sandbox) -> Outcome:
    chosen = all_scenarios()[name]
    started = time.perf_counter()
    try:
        facts = chosen.run(sandbox) or {}
        return Outcome(name, True, time.perf_counter() - started, facts, None, list(sandbox.trace))
    except ScenarioFailed as exc:
        return Outcome(name, False, time.perf_counter() - started, {}, str(exc), list(sandbox.trace))
    except Exception as exc:  # connection refused etc.: report, don't crash the CLI
        return Outcome(name, False, time.perf_counter() - started, {}, f"{type(exc).__name__}: {exc}",
                       list(sandbox.trace))
