"""Seeds the demo issuer into D1's registry (one transaction), and resets the sandbox."""

from __future__ import annotations

from d1sandbox import demo

from .issuers import default_config
from .runtime import Runtime
from .store import data_tables


def seed_demo(rt: Runtime) -> None:
    from .login.seed import seed_login_demo

    seed_login_demo(rt)  # idempotent; before the early return so older data dirs get it too
    if rt.issuers.exists(demo.DEMO_ISSUER_ID):
        _seed_demo_email_dns(rt)
        return
    now = rt.clock.now()
    with rt.db.transaction():
        rt.issuers.upsert(
            demo.DEMO_ISSUER_ID,
            default_config(demo.DEMO_ISSUER_ID, demo.DEMO_ISSUER_NAME, rt.config["ISSUER_URL"]),
            client_id=demo.DEMO_D1_CLIENT_ID,
            client_secret=demo.DEMO_D1_CLIENT_SECRET,
        )
        for person in demo.CONSUMERS:
            rt.db.insert("consumers", {
                "issuer_id": demo.DEMO_ISSUER_ID, "consumer_id": person["consumerId"], "phone": person["phone"],
                "email": person["email"], "locale": person["locale"], "name": person["name"],
                "created_at": now, "updated_at": now,
            })
            if person.get("app_instance"):
                rt.db.insert("app_instances", {
                    "app_instance_id": person["app_instance"], "issuer_id": demo.DEMO_ISSUER_ID,
                    "consumer_id": person["consumerId"], "state": "ACTIVE", "created_at": now, "updated_at": now,
                })
        for card in demo.TEST_CARDS:
            rt.db.insert("cards", {
                "card_id": card["cardId"], "issuer_id": demo.DEMO_ISSUER_ID, "consumer_id": card["consumerId"],
                "pan_ref": rt.pan_ref(card["pan"]), "pan_last4": card["pan"][-4:], "pan_bin": card["pan"][:8],
                "pan_length": len(card["pan"]), "expiry": card["expiry"], "scheme": card["scheme"],
                "state": "ACTIVE", "behavior": card["behavior"], "created_at": now, "updated_at": now,
            })
            rt.db.insert("card_audit", {
                "card_id": card["cardId"], "issuer_id": demo.DEMO_ISSUER_ID, "operation": "seed",
                "request_id": None, "detail": {"behavior": card["behavior"]}, "at": now,
            })
    _seed_demo_email_dns(rt)


def _seed_demo_email_dns(rt: Runtime) -> None:
    """The demo issuer's email DNS records are published, so email step-up works out of the box (a
    newly onboarded issuer starts unpublished: simulator/messaging/dns.py). Idempotent: once the zone
    exists it is left as the user made it."""
    from .messaging.dns import DEMO_DKIM_PUBLIC_KEY, EmailDomains

    if rt.db.get("email_domains", issuer_id=demo.DEMO_ISSUER_ID) is None:
        EmailDomains(rt.db, rt.clock, rt.secret).seed_published(
            demo.DEMO_ISSUER_ID, demo.DEMO_EMAIL_SUBDOMAIN, DEMO_DKIM_PUBLIC_KEY)


def reset(rt: Runtime) -> None:
    """Back to the seeded demo state: every table emptied in one transaction, then re-seeded."""
    with rt.db.transaction():
        for table in data_tables(rt.db):
            rt.db.execute(f"DELETE FROM [{table}]")
    rt.clock.reset()
    rt.issuers.forget_cache()
    rt.issuer_link.forget()
    for service in rt.services.values():
        forget = getattr(service, "forget_cache", None)
        if forget:
            forget()
    if rt.config.get("SEED_DEMO", True):
        seed_demo(rt)
