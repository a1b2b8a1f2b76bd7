"""behave hooks: each scenario gets a fresh in-process sandbox (or the running services when
D1SANDBOX_SIM_URL is set), and leaves the messages it saw under test-artifacts/features/."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from scenarios.client import Sandbox
from scenarios.inprocess import build_world

ARTIFACTS = Path("test-artifacts/features")


def before_scenario(context, scenario):
    context.facts = {}
    if os.environ.get("D1SANDBOX_SIM_URL"):
        context.world = None
        context.sandbox = Sandbox.from_env()
        context.sandbox.sim("Test runner", "POST", "/sandbox/reset", expect=200)
    else:
        context.tmpdir = tempfile.mkdtemp(prefix="d1behave-")
        context.world = build_world(Path(context.tmpdir))
        context.sandbox = context.world.sandbox


def after_scenario(context, scenario):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")
    record = {"feature": scenario.feature.name, "scenario": scenario.name, "status": scenario.status.name,
              "facts": context.facts, "steps": [step.as_dict() for step in context.sandbox.trace]}
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(record, indent=2, default=str))
    if getattr(context, "world", None) is not None:
        context.world.close()
        shutil.rmtree(context.tmpdir, ignore_errors=True)
