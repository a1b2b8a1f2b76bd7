"""Runs rehearsals for the simulator and keeps their reports (table `rehearsals`)."""

from __future__ import annotations

import uuid

from d1sandbox.db import loads
from d1sandbox.errors import ValidationFailed

from ..runtime import Runtime
from .runner import resolve_target, run_plan


class Rehearsals:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def run(self, params: dict) -> dict:
        """Rehearse the backend named by `params` (snake_case keys, see runner.resolve_target)."""
        rt = self.rt
        issuer_id = params.get("issuer_id")
        config = rt.issuers.config(issuer_id) if issuer_id and rt.issuers.exists(issuer_id) else None
        if config is None and not issuer_id and rt.issuers.exists("demo-issuer"):
            config = rt.issuers.config("demo-issuer")
        try:
            target = resolve_target(params, config)
        except ValueError as exc:
            raise ValidationFailed(str(exc), fields={"issuerUrl": ["required"]}) from None
        link = rt.issuer_link
        # D1's one outbound HTTP stack: the link's pooled session (with any in-process transports),
        # its clock and its journal.
        report = run_plan(target, session=link.session, clock=link.clock, journal=link.journal,
                          rehearsal_id=f"rh-{uuid.uuid4().hex[:16]}")
        with rt.db.transaction():
            rt.db.insert("rehearsals", {
                "id": report["id"], "issuer_id": target.issuer_id, "issuer_url": target.issuer_url,
                "passed": int(report["passed"]), "report": report, "created_at": rt.clock.now(),
            })
        return report

    def get(self, rehearsal_id: str) -> dict | None:
        row = self.rt.db.get("rehearsals", id=rehearsal_id)
        return loads(row["report"]) if row else None

    def list(self, limit: int = 50) -> list[dict]:
        rows = self.rt.db.all("SELECT id, issuer_id, issuer_url, passed, created_at FROM rehearsals "
                              "ORDER BY created_at DESC LIMIT ?", (limit,))
        return [{"id": r["id"], "issuerId": r["issuer_id"], "issuerUrl": r["issuer_url"], "passed": bool(r["passed"]),
                 "createdAt": self.rt.clock.isoformat(r["created_at"])} for r in rows]
