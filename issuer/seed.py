"""Seeds the demo bank's own customers and cards (mirrors what D1 has registered)."""

from __future__ import annotations

from d1sandbox import demo

from .runtime import Runtime


def seed_demo(rt: Runtime) -> None:
    if rt.db.scalar("SELECT COUNT(*) FROM consumers"):
        return
    now = rt.clock.now()
    with rt.db.transaction():
        for person in demo.CONSUMERS:
            rt.db.insert("consumers", {
                "consumer_id": person["consumerId"], "name": person["name"], "phone": person["phone"],
                "email": person["email"], "locale": person["locale"], "app_instance_id": person.get("app_instance"),
                "app_reachable": int(person.get("app_reachable", True)), "created_at": now, "updated_at": now,
            })
        for card in demo.TEST_CARDS:
            rt.db.insert("cards", {
                "card_id": card["cardId"], "consumer_id": card["consumerId"], "pan_last4": card["pan"][-4:],
                "expiry": card["expiry"], "state": "ACTIVE", "d1_status": "REGISTERED",
                "created_at": now, "updated_at": now,
            })


def reset(rt: Runtime) -> None:
    with rt.db.transaction():
        for row in rt.db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
            rt.db.execute(f"DELETE FROM [{row['name']}]")
    if rt.config.get("SEED_DEMO", True):
        seed_demo(rt)
