"""Live sequence diagrams of one transaction: D1's journal merged with the reference issuer backend's.

The simulator asks the issuer backend it is wired to (`ISSUER_URL`, the reference backend under
`d1sandbox up` and in-process tests) for its journal entries under every id of the transaction, then
merges (d1sandbox/diagrams.py). A backend without that sandbox endpoint (a team's own) simply adds
nothing: the diagram is D1's side, with a note saying so."""

from __future__ import annotations

import logging

import requests

from d1sandbox.diagrams import merge_journals

from .runtime import Runtime

log = logging.getLogger("d1sandbox.diagrams")
ISSUER_JOURNAL_TIMEOUT = 2.0


def transaction_ids(rt: Runtime, transaction_id: str) -> list[str]:
    """The transaction's correlation and every alias registered for it (acsTransID, tokenRefId, …)."""
    correlation = rt.journal.resolve(transaction_id)
    aliases = [row["alias"] for row in rt.db.all("SELECT alias FROM journal_alias WHERE correlation = ? "
                                                 "ORDER BY alias", (correlation,))]
    return list(dict.fromkeys([correlation, transaction_id, *aliases]))


def issuer_entries(rt: Runtime, ids: list[str]) -> tuple[list[dict], str | None]:
    """(entries, None) from the wired issuer backend's journal, or ([], why not)."""
    url = (rt.config.get("ISSUER_URL") or "").rstrip("/")
    if not url:
        return [], "no issuer backend is wired"
    try:
        resp = rt.http.get(f"{url}/sandbox/journal", params={"transaction": ids}, timeout=ISSUER_JOURNAL_TIMEOUT)
    except requests.RequestException as exc:
        return [], f"issuer backend journal unreachable ({type(exc).__name__})"
    if resp.status_code != 200:
        return [], f"issuer backend has no readable journal (HTTP {resp.status_code})"
    try:
        entries = resp.json()
    except ValueError:
        return [], "issuer backend journal is not JSON"
    if not isinstance(entries, list):
        return [], "issuer backend journal is not a list"
    return [e for e in entries if isinstance(e, dict) and {"id", "at", "from", "to", "label"} <= set(e)], None


def transaction_entries(rt: Runtime, transaction_id: str, *, include_issuer: bool = True) -> tuple[list[dict],
                                                                                                   str | None]:
    """Every entry of the transaction across both services, in order, and a note when the issuer's
    side could not be included."""
    d1_entries = rt.journal.for_transaction(transaction_id)
    if not include_issuer:
        return d1_entries, None
    theirs, missing = issuer_entries(rt, transaction_ids(rt, transaction_id))
    for entry in d1_entries:
        entry.setdefault("service", "simulator")
    for entry in theirs:
        entry["service"] = "issuer"
    return merge_journals(d1_entries, theirs), missing
