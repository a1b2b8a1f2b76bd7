"""Where `d1sandbox rehearse` runs the plan: inside a private, throwaway simulator (default — nothing
else needs to be running), or inside a running simulator through `POST /sandbox/rehearsals`.

Either way the same code runs (the simulator's rehearsal service over D1's outbound client) and the
same report comes back, plus the Mermaid diagram of every call the rehearsal made."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import requests

from d1sandbox.journal import mermaid

API_NAMES = {"issuer_url": "issuerUrl", "issuer_id": "issuerId", "consumer_id": "consumerId", "card_id": "cardId",
             "app_instance_id": "appInstanceId", "oauth2": "oauth2", "client_id": "clientId",
             "client_secret": "clientSecret", "token_path": "tokenPath", "budget_ms": "latencyBudgetMs",
             "timeout_s": "timeoutSeconds"}


class RehearsalUnavailable(Exception):
    """The rehearsal could not run at all (as opposed to: it ran and cases failed)."""


def rehearse_in_private_simulator(params: dict) -> tuple[dict, str]:
    """(report, diagram) from a simulator built just for this run; its data is deleted afterwards."""
    from simulator import create_app
    from simulator.runtime import EXTENSION

    with tempfile.TemporaryDirectory(prefix="d1rehearse-") as tmp:
        app = create_app({"DATA_DIR": str(Path(tmp)), "SERVER_SECRET": secrets.token_hex(16),
                          "ISSUER_URL": params.get("issuer_url") or "http://127.0.0.1:8001", "SEED_DEMO": True})
        rt = app.extensions[EXTENSION]
        try:
            with app.app_context():
                report = rt.services["rehearsals"].run(params)
                entries = rt.journal.for_transaction(report["transaction"])
        finally:
            rt.db.close()
    return report, mermaid(entries, title=f"Rehearsal {report['id']} against {report['target']['issuerUrl']}")


def rehearse_in_running_simulator(sim_url: str, params: dict, *, timeout: float = 900.0) -> tuple[dict, str]:
    """(report, diagram) from the simulator at `sim_url`; the messages stay in its journal."""
    body = {API_NAMES[key]: value for key, value in params.items() if value is not None and key in API_NAMES}
    sim_url = sim_url.rstrip("/")
    try:
        resp = requests.post(f"{sim_url}/sandbox/rehearsals", json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise RehearsalUnavailable(f"simulator at {sim_url} unreachable: {type(exc).__name__}") from None
    if resp.status_code != 201:
        raise RehearsalUnavailable(f"simulator answered HTTP {resp.status_code}: {resp.text[:500]}")
    report = resp.json()
    try:
        diagram = requests.get(f"{sim_url}/sandbox/journal/{report['transaction']}/diagram", timeout=30).text
    except requests.RequestException:
        diagram = ""
    return report, diagram
