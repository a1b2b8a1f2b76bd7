"""behave hooks: each scenario gets a fresh in-process sandbox (or the running services when
D1SANDBOX_SIM_URL is set), and leaves the messages it saw under test-artifacts/features/:

- `<feature>--<scenario>.json`: the outcome, the facts, every HTTP step the outside actors made, and
  — when the facts name a transaction — every message of that transaction inside the platform (both
  services' journals, merged by the simulator);
- `<feature>--<scenario>.mmd`: that transaction as a Mermaid sequence diagram.

Run against running services: `D1SANDBOX_SIM_URL=http://127.0.0.1:8000 D1SANDBOX_ISSUER_URL=http://127.0.0.1:8001
behave features` (each scenario starts with `POST /sandbox/reset`), or `make features-live`, which starts
its own services on free ports."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from scenarios.client import Sandbox
from scenarios.inprocess import build_world

ARTIFACTS = Path(os.environ.get("D1SANDBOX_ARTIFACTS", "test-artifacts")) / "features"
# Facts that name a transaction, most specific first; any of a transaction's ids finds its journal.
TRANSACTION_KEYS = ("transaction", "threeDSServerTransID", "acsTransID", "dsTransID", "tokenRefId", "login_id")


def before_all(context):
    context.live = bool(os.environ.get("D1SANDBOX_SIM_URL"))


def before_scenario(context, scenario):
    context.facts = {}
    if context.live:
        context.world = None
        context.sandbox = Sandbox.from_env()
        context.sandbox.sim("Test runner", "POST", "/sandbox/reset", expect=200)
        context.sandbox.trace.clear()  # the reset is housekeeping, not part of the scenario
    else:
        context.tmpdir = tempfile.mkdtemp(prefix="d1behave-")
        context.world = build_world(Path(context.tmpdir))
        context.sandbox = context.world.sandbox


def after_scenario(context, scenario):
    from scenarios import reporting

    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = f"{_slug(Path(scenario.feature.filename).stem)}--{_slug(scenario.name)}"
        record = {"feature": scenario.feature.name, "scenario": scenario.name, "status": scenario.status.name,
                  "mode": "live" if context.live else "in-process", "facts": context.facts,
                  "steps": [step.as_dict() for step in context.sandbox.trace]}
        transaction = next((str(context.facts[k]) for k in TRANSACTION_KEYS if context.facts.get(k)), None)
        if transaction:
            record["transaction"] = transaction
            try:
                record["messages"] = reporting.fetch_messages(context.sandbox, transaction)
                diagram = ARTIFACTS / f"{stem}.mmd"
                diagram.write_text(reporting.fetch_diagram(context.sandbox, transaction))
                record["diagram"] = str(diagram)
            except Exception as exc:  # an artifact must never hide the scenario's own outcome
                record["messages_error"] = f"{type(exc).__name__}: {exc}"
        (ARTIFACTS / f"{stem}.json").write_text(json.dumps(record, indent=2, default=str, ensure_ascii=False))
    finally:
        if getattr(context, "world", None) is not None:
            context.world.close()
            shutil.rmtree(context.tmpdir, ignore_errors=True)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(slug) <= 90:
        return slug
    # Long names (e.g. scenario-outline rows, which differ only at the end) stay unique.
    return f"{slug[:80]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
