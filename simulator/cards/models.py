"""D1's card registry: the card state machine and the rules a real platform enforces. No HTTP here.

States and transitions (seed 004, "required APIs"):

    (none) --create/register--> ACTIVE --renew--> ACTIVE (new expiry)
                                ACTIVE --replace--> REPLACED   (+ the new card, ACTIVE, linked both ways)
                        ACTIVE|REPLACED --delete--> DELETED    (terminal: unknown to the DS/ACS)

Rules: the PAN passes Luhn, has 13-19 digits and falls in one of the issuer's card ranges; the expiry
(YYMM, like EMV `cardExpiryDate`) is not in the past; a PAN belongs to one live card; the PAN is never
returned (only its last four digits) and never stored (only a keyed hash); only ACTIVE cards exist for
3DS, so a replaced card's PAN stops authenticating and a deleted card is unknown; every repeat of a
request that already took effect answers the same; every change writes one `card_audit` row in the
same transaction as the change."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from d1sandbox.db import Database, loads
from d1sandbox.errors import ApiError, Conflict, NotFound, ValidationFailed
from d1sandbox.redact import luhn_ok, mask_pan

ACTIVE, REPLACED, DELETED = "ACTIVE", "REPLACED", "DELETED"
STATES = (ACTIVE, REPLACED, DELETED)
# Which states each lifecycle operation starts from.
ALLOWED_FROM = {"renew": {ACTIVE}, "replace": {ACTIVE}, "delete": {ACTIVE, REPLACED}}
REPLACE_REASONS = ("LOST", "STOLEN", "DAMAGED", "EXPIRED", "UPGRADE", "OTHER")
DELETE_REASONS = ("CLOSED", "FRAUD", "CUSTOMER_REQUEST", "OTHER")
# Sandbox-only: how the ACS treats a card (the test-card table of the README).
BEHAVIORS = ("frictionless", "challenge-oob", "challenge-sms-d1", "challenge-sms-issuer", "oob-unavailable",
             "not-authenticated", "rejected", "unavailable", "attempted", "stepup-sms", "stepup-email")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EXPIRY_PATTERN = re.compile(r"^\d{2}(0[1-9]|1[0-2])$")
MAX_EXPIRY_YEARS = 20


# -- pure rules -----------------------------------------------------------------------------------
def pan_problems(pan: str) -> list[str]:
    """Why `pan` is not a card number (empty when it is one). Never repeats the PAN."""
    if not isinstance(pan, str) or not pan.isdigit():
        return ["must contain digits only"]
    if not 13 <= len(pan) <= 19:
        return ["must have 13 to 19 digits"]
    if not luhn_ok(pan):
        return ["fails the Luhn check"]
    return []


def expiry_problems(expiry: str, now: datetime) -> list[str]:
    """Why `expiry` (YYMM) is not usable for a card today (empty when it is)."""
    if not isinstance(expiry, str) or not EXPIRY_PATTERN.match(expiry):
        return ["must be YYMM (e.g. 3012 for December 2030)"]
    year, month = 2000 + int(expiry[:2]), int(expiry[2:])
    if (year, month) < (now.year, now.month):  # a card is valid through the last day of its month
        return ["the card has expired"]
    if year > now.year + MAX_EXPIRY_YEARS:
        return [f"is more than {MAX_EXPIRY_YEARS} years ahead"]
    return []


def expiry_later(new: str, old: str) -> bool:
    return new > old  # YYMM of the same century compares as a string


def card_product(pan: str, products: list[dict]) -> dict | None:
    """The issuer's card product whose BIN range holds this PAN (the DS routes on the same ranges)."""
    for product in products or []:
        for rng in product.get("bin_ranges", []):
            start, end = str(rng.get("start", "")), str(rng.get("end", ""))
            if start and len(start) == len(end) and start <= pan[: len(start)] <= end:
                return product
    return None


def card_view(row: dict, iso: Callable[[float], str]) -> dict:
    """The public representation: never the PAN, only its last four digits."""
    return {
        "cardId": row["card_id"], "issuerId": row["issuer_id"], "consumerId": row["consumer_id"],
        "state": row["state"], "panLast4": row["pan_last4"], "maskedPan": mask_pan(row["pan_last4"]),
        "expiry": row["expiry"], "scheme": row["scheme"], "behavior": row["behavior"],
        "replaces": row["replaces"], "replacedBy": row["replaced_by"],
        "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"]),
    }


@dataclass(frozen=True)
class CardData:
    """What create/register carry (validated for shape by the wire schema)."""

    consumer_id: str
    pan: str
    expiry: str
    behavior: str | None = None


class CardDeleted(ApiError):
    status = 409
    error = "card_deleted"


# -- the registry ---------------------------------------------------------------------------------
class CardRegistry:
    """Card lifecycle over D1's database. Each method is one transaction and returns
    `(http_status, card_view)`; repeats of an operation that already took effect return the same view."""

    def __init__(self, db: Database, clock, pan_ref: Callable[[str], str], issuer_config: Callable[[str], dict]):
        self.db = db
        self.clock = clock
        self.pan_ref = pan_ref
        self.issuer_config = issuer_config

    # -- reads --------------------------------------------------------------------------------
    def get(self, issuer_id: str, card_id: str) -> dict:
        return self._view(self._row(issuer_id, card_id))

    def audit(self, issuer_id: str, card_id: str) -> list[dict]:
        self._row(issuer_id, card_id)
        rows = self.db.all("SELECT * FROM card_audit WHERE card_id = ? AND issuer_id = ? ORDER BY id",
                           (card_id, issuer_id))
        return [{"id": r["id"], "operation": r["operation"], "requestId": r["request_id"],
                 "detail": loads(r["detail"], {}), "at": self.clock.isoformat(r["at"])} for r in rows]

    def lookup_pan(self, pan: str) -> dict | None:
        """The live card for a PAN, as the DS/ACS sees it: ACTIVE only. A replaced or deleted card's
        PAN finds nothing, so 3DS stops for it."""
        return self.db.one("SELECT * FROM cards WHERE pan_ref = ? AND state = 'ACTIVE'", (self.pan_ref(pan),))

    # -- create / register --------------------------------------------------------------------
    def create(self, issuer_id: str, data: CardData, card_id: str | None, request_id: str) -> tuple[int, dict]:
        """POST …/cards: a new card. With a `cardId` already holding exactly this card, the original
        answer is repeated (a retried create must not fail); with other data it is a conflict."""
        with self.db.transaction():
            if card_id is not None:
                existing = self.db.get("cards", card_id=card_id)
                if existing is not None:
                    self._same_card_or_conflict(issuer_id, existing, data)
                    return 200, self._view(existing)
            card_id = card_id or self._new_id()
            return 201, self._insert(issuer_id, card_id, data, request_id, "create")

    def register(self, issuer_id: str, card_id: str, data: CardData, request_id: str) -> tuple[int, dict]:
        """PUT …/cards/{cardId}: idempotent registration of a card the issuer already issued. A repeat
        answers the current card; a changed consumer (or sandbox behavior) is an audited update; a changed
        PAN or expiry is refused (those are replace and renew)."""
        with self.db.transaction():
            existing = self.db.get("cards", card_id=card_id)
            if existing is None:
                return 201, self._insert(issuer_id, card_id, data, request_id, "register")
            self._owned(issuer_id, existing)
            if existing["state"] == DELETED:
                raise CardDeleted(f"card {card_id} was deleted; register the card under a new cardId",
                                  fields={"cardId": ["deleted"]})
            self._same_pan_and_expiry(existing, data)
            changes = {}
            if data.consumer_id != existing["consumer_id"]:
                if existing["state"] != ACTIVE:
                    raise Conflict(f"card {card_id} is {existing['state']}; its consumer cannot change",
                                   error="card_not_active", fields={"consumerId": ["card is not ACTIVE"]})
                changes["consumer_id"] = data.consumer_id
            if data.behavior is not None and data.behavior != existing["behavior"]:
                changes["behavior"] = data.behavior
            if not changes:
                return 200, self._view(existing)
            self._ensure_consumer(issuer_id, data.consumer_id)
            self.db.update("cards", {"card_id": card_id}, {**changes, "updated_at": self.clock.now()})
            self._audit(card_id, issuer_id, "update", request_id,
                        {self._camel(k): {"from": existing[k], "to": v} for k, v in changes.items()})
            return 200, self.get(issuer_id, card_id)

    # -- lifecycle operations -----------------------------------------------------------------
    def renew(self, issuer_id: str, card_id: str, expiry: str, request_id: str) -> tuple[int, dict]:
        with self.db.transaction():
            row = self._row(issuer_id, card_id)
            if row["state"] == ACTIVE and row["expiry"] == expiry:
                return 200, self._view(row)  # already renewed to this expiry: a repeat
            self._check_transition(row, "renew")
            problems = expiry_problems(expiry, self.clock.utcnow())
            if problems:
                raise ValidationFailed(f"expiry: {problems[0]}", fields={"expiry": problems})
            if not expiry_later(expiry, row["expiry"]):
                raise ValidationFailed("expiry: a renewed card must expire later than it does now",
                                       fields={"expiry": [f"must be later than the current expiry {row['expiry']}"]})
            self.db.update("cards", {"card_id": card_id}, {"expiry": expiry, "updated_at": self.clock.now()})
            self._audit(card_id, issuer_id, "renew", request_id, {"expiry": {"from": row["expiry"], "to": expiry}})
            return 200, self.get(issuer_id, card_id)

    def replace(self, issuer_id: str, card_id: str, pan: str, expiry: str, new_card_id: str | None,
                reason: str | None, request_id: str) -> tuple[int, dict]:
        """Issue a new card for the same consumer and retire this one. Answers the NEW card (its
        `replaces` names the old one); a repeat with the same new PAN answers it again."""
        with self.db.transaction():
            row = self._row(issuer_id, card_id)
            if row["state"] == REPLACED and row["replaced_by"]:
                successor = self.db.get("cards", card_id=row["replaced_by"])
                if successor and successor["pan_ref"] == self.pan_ref(pan) and successor["expiry"] == expiry \
                        and new_card_id in (None, successor["card_id"]):
                    return 200, self._view(successor)
                raise Conflict(f"card {card_id} was already replaced by {row['replaced_by']}",
                               error="card_replaced", extra={"replacedBy": row["replaced_by"]})
            self._check_transition(row, "replace")
            if self.pan_ref(pan) == row["pan_ref"]:
                raise ValidationFailed("pan: the replacement needs a new PAN (renew changes only the expiry)",
                                       fields={"pan": ["must differ from the PAN of the card being replaced"]})
            if new_card_id is not None and self.db.get("cards", card_id=new_card_id) is not None:
                raise Conflict(f"cardId {new_card_id} is already in use", error="card_id_taken",
                               fields={"newCardId": ["already in use"]})
            new_id = new_card_id or self._new_id()
            data = CardData(row["consumer_id"], pan, expiry, row["behavior"])
            now = self.clock.now()
            view = self._insert(issuer_id, new_id, data, request_id, "create",
                                replaces=card_id, extra_audit={"replaces": card_id, "reason": reason})
            self.db.update("cards", {"card_id": card_id},
                           {"state": REPLACED, "replaced_by": new_id, "updated_at": now})
            self._audit(card_id, issuer_id, "replace", request_id,
                        {"replacedBy": new_id, "newPanLast4": pan[-4:], "reason": reason})
            return 201, view

    def delete(self, issuer_id: str, card_id: str, reason: str | None, request_id: str) -> tuple[int, dict]:
        """The card becomes unknown to the DS/ACS; D1 forgets its PAN reference. Repeats answer the same."""
        with self.db.transaction():
            row = self._row(issuer_id, card_id)
            if row["state"] == DELETED:
                return 200, self._view(row)
            self._check_transition(row, "delete")
            self.db.update("cards", {"card_id": card_id},
                           {"state": DELETED, "pan_ref": None, "updated_at": self.clock.now()})
            self._audit(card_id, issuer_id, "delete", request_id, {"reason": reason, "previousState": row["state"]})
            return 200, self.get(issuer_id, card_id)

    # -- internals ----------------------------------------------------------------------------
    def _insert(self, issuer_id: str, card_id: str, data: CardData, request_id: str, operation: str, *,
                replaces: str | None = None, extra_audit: dict | None = None) -> dict:
        problems = expiry_problems(data.expiry, self.clock.utcnow())
        if problems:
            raise ValidationFailed(f"expiry: {problems[0]}", fields={"expiry": problems})
        product = card_product(data.pan, self.issuer_config(issuer_id).get("card_products", []))
        if product is None:
            raise ValidationFailed("pan: not in any card range (BIN range) of this issuer",
                                   fields={"pan": ["not in any of the issuer's card ranges"]})
        pan_ref = self.pan_ref(data.pan)
        if self.db.scalar("SELECT 1 FROM cards WHERE pan_ref = ? AND state = 'ACTIVE'", (pan_ref,)):
            raise Conflict("pan: this PAN is already registered as another active card", error="pan_registered",
                           fields={"pan": ["already registered as another active card"]})
        now = self.clock.now()
        self._ensure_consumer(issuer_id, data.consumer_id)
        self.db.insert("cards", {
            "card_id": card_id, "issuer_id": issuer_id, "consumer_id": data.consumer_id, "pan_ref": pan_ref,
            "pan_last4": data.pan[-4:], "pan_bin": data.pan[:8], "pan_length": len(data.pan), "expiry": data.expiry,
            "scheme": product.get("scheme"), "state": ACTIVE, "behavior": data.behavior, "replaced_by": None,
            "replaces": replaces, "created_at": now, "updated_at": now,
        })
        self._audit(card_id, issuer_id, operation, request_id, {
            "consumerId": data.consumer_id, "panLast4": data.pan[-4:], "expiry": data.expiry,
            "scheme": product.get("scheme"), "behavior": data.behavior, **(extra_audit or {})})
        return self.get(issuer_id, card_id)

    def _ensure_consumer(self, issuer_id: str, consumer_id: str) -> None:
        """The registration carries only the consumerId; contact details come from the issuer's consumer
        API when D1 needs them (simulator/consumers.py)."""
        if self.db.get("consumers", issuer_id=issuer_id, consumer_id=consumer_id) is None:
            now = self.clock.now()
            self.db.insert("consumers", {"issuer_id": issuer_id, "consumer_id": consumer_id, "created_at": now,
                                         "updated_at": now})

    def _row(self, issuer_id: str, card_id: str) -> dict:
        row = self.db.get("cards", card_id=card_id)
        # Another issuer's card answers exactly like a missing one: no cross-issuer probing.
        if row is None or row["issuer_id"] != issuer_id:
            raise NotFound(f"card {card_id} is not registered for issuer {issuer_id}", error="card_not_found",
                           fields={"cardId": ["unknown card"]})
        return row

    def _owned(self, issuer_id: str, row: dict) -> None:
        if row["issuer_id"] != issuer_id:
            # Card ids are unique across the platform; say no more than that.
            raise Conflict(f"cardId {row['card_id']} is already in use", error="card_id_taken",
                           fields={"cardId": ["already in use"]})

    def _same_card_or_conflict(self, issuer_id: str, existing: dict, data: CardData) -> None:
        self._owned(issuer_id, existing)
        same = (existing["state"] != DELETED and existing["pan_ref"] == self.pan_ref(data.pan)
                and existing["expiry"] == data.expiry and existing["consumer_id"] == data.consumer_id)
        if not same:
            raise Conflict(f"cardId {existing['card_id']} already holds another card", error="card_id_taken",
                           fields={"cardId": ["already in use with different card data"]})

    def _same_pan_and_expiry(self, existing: dict, data: CardData) -> None:
        if existing["pan_ref"] != self.pan_ref(data.pan):
            raise Conflict("pan: the card is registered with another PAN; use operations/replace",
                           error="pan_mismatch", fields={"pan": ["differs from the registered PAN; use replace"]})
        if existing["expiry"] != data.expiry:
            raise Conflict("expiry: the card is registered with another expiry; use operations/renew",
                           error="expiry_mismatch",
                           fields={"expiry": [f"differs from the registered expiry {existing['expiry']}; use renew"]})

    def _check_transition(self, row: dict, operation: str) -> None:
        if row["state"] in ALLOWED_FROM[operation]:
            return
        if row["state"] == DELETED:
            raise CardDeleted(f"card {row['card_id']} is deleted; {operation} is not possible",
                              fields={"cardId": ["deleted"]})
        raise Conflict(f"card {row['card_id']} is {row['state']}; {operation} needs an ACTIVE card"
                       + (f" (its replacement is {row['replaced_by']})" if row["replaced_by"] else ""),
                       error="card_not_active", fields={"cardId": [row["state"]]},
                       extra={"replacedBy": row["replaced_by"]} if row["replaced_by"] else None)

    def _audit(self, card_id: str, issuer_id: str, operation: str, request_id: str, detail: dict) -> None:
        self.db.insert("card_audit", {"card_id": card_id, "issuer_id": issuer_id, "operation": operation,
                                      "request_id": request_id, "detail": detail, "at": self.clock.now()})

    def _view(self, row: dict) -> dict:
        return card_view(row, self.clock.isoformat)

    @staticmethod
    def _new_id() -> str:
        return "card-" + uuid.uuid4().hex[:20]

    @staticmethod
    def _camel(column: str) -> str:
        head, *rest = column.split("_")
        return head + "".join(part.title() for part in rest)
