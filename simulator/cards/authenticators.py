"""OOB authenticators: issuer app instances enrolled with D1 (seed 004, "Support OOB enrollment").

An ACTIVE `app_instances` row is what makes OOB possible for a consumer; deleting its authentication
credentials leaves the consumer without OOB (challenges fall back to SMS OTP). Both changes tell the
issuer through the outbox (`AUTHENTICATOR_ENROLLED` / `AUTHENTICATOR_DELETED`), in the same
transaction as the change, and each repeat answers the same without a second notification."""

from __future__ import annotations

import uuid

from d1sandbox.db import Database
from d1sandbox.errors import Conflict, NotFound

from ..notify import enqueue_consumer_notification

ACTIVE, DELETED = "ACTIVE", "DELETED"


def instance_view(row: dict, iso) -> dict:
    return {"appInstanceId": row["app_instance_id"], "issuerId": row["issuer_id"], "consumerId": row["consumer_id"],
            "state": row["state"], "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"])}


class Authenticators:
    def __init__(self, rt):
        self.rt = rt
        self.db: Database = rt.db
        self.clock = rt.clock

    def active_for(self, issuer_id: str, consumer_id: str) -> list[dict]:
        """The consumer's ACTIVE app instances (what OOB needs)."""
        return self.db.all("SELECT * FROM app_instances WHERE issuer_id = ? AND consumer_id = ? AND state = 'ACTIVE' "
                           "ORDER BY created_at", (issuer_id, consumer_id))

    def enroll(self, issuer_id: str, consumer_id: str, app_instance_id: str | None) -> tuple[int, dict]:
        with self.db.transaction():
            app_instance_id = app_instance_id or "app-" + uuid.uuid4().hex[:16]
            row = self.db.get("app_instances", app_instance_id=app_instance_id)
            now = self.clock.now()
            if row is not None:
                if row["issuer_id"] != issuer_id or row["consumer_id"] != consumer_id:
                    raise Conflict(f"appInstanceId {app_instance_id} is enrolled for another consumer",
                                   error="app_instance_taken", fields={"appInstanceId": ["already in use"]})
                if row["state"] == ACTIVE:
                    return 200, self._view(row)  # a repeat: enrolled already, no second notification
                self.db.update("app_instances", {"app_instance_id": app_instance_id},
                               {"state": ACTIVE, "updated_at": now})
                status = 200
            else:
                self.db.insert("app_instances", {
                    "app_instance_id": app_instance_id, "issuer_id": issuer_id, "consumer_id": consumer_id,
                    "state": ACTIVE, "created_at": now, "updated_at": now})
                status = 201
            if self.db.get("consumers", issuer_id=issuer_id, consumer_id=consumer_id) is None:
                self.db.insert("consumers", {"issuer_id": issuer_id, "consumer_id": consumer_id,
                                             "created_at": now, "updated_at": now})
            self._event(app_instance_id, issuer_id, consumer_id, "ENROLLED")
            enqueue_consumer_notification(self.rt, issuer_id, consumer_id, "AUTHENTICATOR_ENROLLED",
                                          appInstanceId=app_instance_id, correlation=app_instance_id)
            return status, self._view(self.db.get("app_instances", app_instance_id=app_instance_id))

    def delete_credentials(self, issuer_id: str, app_instance_id: str) -> dict:
        with self.db.transaction():
            row = self.db.get("app_instances", app_instance_id=app_instance_id)
            if row is None or row["issuer_id"] != issuer_id:
                raise NotFound(f"app instance {app_instance_id} is not enrolled with issuer {issuer_id}",
                               error="app_instance_not_found", fields={"appInstanceId": ["unknown app instance"]})
            if row["state"] == DELETED:
                return self._view(row)
            self.db.update("app_instances", {"app_instance_id": app_instance_id},
                           {"state": DELETED, "updated_at": self.clock.now()})
            self._event(app_instance_id, issuer_id, row["consumer_id"], "CREDENTIALS_DELETED")
            enqueue_consumer_notification(self.rt, issuer_id, row["consumer_id"], "AUTHENTICATOR_DELETED",
                                          appInstanceId=app_instance_id, correlation=app_instance_id)
            return self._view(self.db.get("app_instances", app_instance_id=app_instance_id))

    def get(self, issuer_id: str, app_instance_id: str) -> dict:
        row = self.db.get("app_instances", app_instance_id=app_instance_id)
        if row is None or row["issuer_id"] != issuer_id:
            raise NotFound(f"app instance {app_instance_id} is not enrolled with issuer {issuer_id}",
                           error="app_instance_not_found", fields={"appInstanceId": ["unknown app instance"]})
        return self._view(row)

    def _event(self, app_instance_id: str, issuer_id: str, consumer_id: str, event: str) -> None:
        self.db.insert("app_instance_events", {"app_instance_id": app_instance_id, "issuer_id": issuer_id,
                                               "consumer_id": consumer_id, "event": event, "at": self.clock.now()})

    def _view(self, row: dict) -> dict:
        return instance_view(row, self.clock.isoformat)
