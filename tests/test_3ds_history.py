"""The 3DS operation history API: a card's operations (as the ACS records them), newest first,
keyset-paged, filtered by date and status; one operation by id; only the issuer's own cards."""

from __future__ import annotations

import uuid

import pytest

from d1sandbox import demo

CLIENT = (demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET)
OPS = "/issuers/demo-issuer/cards/card-0001/3ds/operations"


@pytest.fixture
def auth(sim):
    tok = sim.post("/oauth2/token", data={"grant_type": "client_credentials", "scope": "3ds:read"},
                   auth=CLIENT).json["access_token"]
    return {"Authorization": "Bearer " + tok}


def record_operation(world, card_id="card-0001", *, at, trans_status="Y", status="COMPLETED", op_id=None):
    """What the ACS writes for one authentication."""
    op_id = op_id or "op-" + uuid.uuid4().hex[:12]
    with world.sim.db.transaction():
        world.sim.db.insert("threeds_operations", {
            "operation_id": op_id, "issuer_id": "demo-issuer", "card_id": card_id, "consumer_id": "consumer-0001",
            "threeds_server_trans_id": str(uuid.uuid4()), "ds_trans_id": str(uuid.uuid4()),
            "acs_trans_id": str(uuid.uuid4()), "sdk_trans_id": None, "message_version": "2.2.0",
            "message_category": "01", "device_channel": "02", "trans_status": trans_status,
            "trans_status_reason": None if trans_status == "Y" else "01",
            "challenge_method": "FRICTIONLESS", "eci": "05", "purchase_amount": "4999", "purchase_currency": "978",
            "merchant_name": "Demo Shop", "status": status, "created_at": at, "updated_at": at,
        })
    return op_id


@pytest.fixture
def history(world):
    """Five operations, one a day, the third not authenticated and the last still in progress."""
    start = world.clock.now() - 10 * 86400
    ids = []
    for day in range(5):
        ids.append(record_operation(world, at=start + day * 86400, trans_status="N" if day == 2 else "Y",
                                    status="IN_PROGRESS" if day == 4 else "COMPLETED"))
    return start, ids


def test_lists_newest_first(sim, auth, history):
    _, ids = history
    resp = sim.get(OPS, headers=auth)
    assert resp.status_code == 200
    assert [op["operationId"] for op in resp.json["operations"]] == list(reversed(ids))
    assert resp.json["nextCursor"] is None
    first = resp.json["operations"][0]
    assert first["transStatus"] == "Y" and first["status"] == "IN_PROGRESS" and first["eci"] == "05"
    assert first["messageVersion"] == "2.2.0" and first["merchantName"] == "Demo Shop"
    assert first["createdAt"].endswith("Z")


def test_pages_follow_the_cursor_without_gaps_or_repeats(sim, auth, history, world):
    _, ids = history
    page1 = sim.get(OPS + "?limit=2", headers=auth).json
    assert [op["operationId"] for op in page1["operations"]] == [ids[4], ids[3]]
    # An operation recorded while the issuer pages does not shift what follows.
    record_operation(world, at=world.clock.now())
    page2 = sim.get(OPS + f"?limit=2&cursor={page1['nextCursor']}", headers=auth).json
    assert [op["operationId"] for op in page2["operations"]] == [ids[2], ids[1]]
    page3 = sim.get(OPS + f"?limit=2&cursor={page2['nextCursor']}", headers=auth).json
    assert [op["operationId"] for op in page3["operations"]] == [ids[0]]
    assert page3["nextCursor"] is None


def test_operations_at_the_same_instant_page_stably(sim, auth, world):
    at = world.clock.now()
    ids = sorted(record_operation(world, at=at, op_id=f"op-same-{i}") for i in range(3))
    page1 = sim.get(OPS + "?limit=2", headers=auth).json
    page2 = sim.get(OPS + f"?limit=2&cursor={page1['nextCursor']}", headers=auth).json
    seen = [op["operationId"] for op in page1["operations"] + page2["operations"]]
    assert seen == list(reversed(ids))


def test_filters_by_status_and_trans_status(sim, auth, history):
    _, ids = history
    done = sim.get(OPS + "?status=COMPLETED", headers=auth).json["operations"]
    assert [op["operationId"] for op in done] == [ids[3], ids[2], ids[1], ids[0]]
    n = sim.get(OPS + "?transStatus=N", headers=auth).json["operations"]
    assert [op["operationId"] for op in n] == [ids[2]]


def test_filters_by_date_range(sim, auth, history, world):
    start, ids = history
    day1 = world.clock.isoformat(start + 86400)
    day3 = world.clock.isoformat(start + 3 * 86400)
    resp = sim.get(OPS, query_string={"from": day1, "to": day3}, headers=auth).json
    assert [op["operationId"] for op in resp["operations"]] == [ids[3], ids[2], ids[1]]
    # A bare date covers the whole day (UTC).
    date2 = world.clock.isoformat(start + 2 * 86400)[:10]
    resp = sim.get(OPS, query_string={"from": date2, "to": date2}, headers=auth).json
    assert [op["operationId"] for op in resp["operations"]] == [ids[2]]


@pytest.mark.parametrize("query, field", [
    ({"status": "DONE"}, "status"),
    ({"transStatus": "Q"}, "transStatus"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"from": "yesterday"}, "from"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"colour": "red"}, "colour"),
])
def test_bad_query_is_422_naming_the_parameter(sim, auth, query, field):
    resp = sim.get(OPS, query_string=query, headers=auth)
    assert resp.status_code == 422 and field in resp.json["fields"], resp.json


def test_from_after_to_is_refused(sim, auth):
    resp = sim.get(OPS, query_string={"from": "2030-01-02", "to": "2030-01-01"}, headers=auth)
    assert resp.status_code == 422 and "from" in resp.json["fields"]


def test_get_one_operation(sim, auth, history):
    _, ids = history
    resp = sim.get(f"{OPS}/{ids[2]}", headers=auth)
    assert resp.status_code == 200 and resp.json["operationId"] == ids[2] and resp.json["transStatus"] == "N"
    assert resp.json["transStatusReason"] == "01"
    missing = sim.get(f"{OPS}/op-nope", headers=auth)
    assert missing.status_code == 404 and missing.json["error"] == "operation_not_found"


def test_another_cards_operation_is_not_found_through_this_card(sim, auth, world):
    op = record_operation(world, card_id="card-0002", at=world.clock.now())
    assert sim.get(f"{OPS}/{op}", headers=auth).status_code == 404
    assert sim.get(f"/issuers/demo-issuer/cards/card-0002/3ds/operations/{op}", headers=auth).status_code == 200


def test_unknown_card_is_404(sim, auth):
    resp = sim.get("/issuers/demo-issuer/cards/nope/3ds/operations", headers=auth)
    assert resp.status_code == 404 and resp.json["error"] == "card_not_found"


def test_history_outlives_replace_and_delete(sim, world, history):
    full = sim.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=CLIENT).json["access_token"]
    headers = {"Authorization": "Bearer " + full}
    sim.post("/v2/issuers/demo-issuer/cards/card-0001/operations/delete", headers=headers)
    resp = sim.get(OPS, headers=headers)
    assert resp.status_code == 200 and len(resp.json["operations"]) == 5


def test_another_issuer_cannot_read_the_history(sim, history):
    sim.put("/sandbox/issuers/other-bank", json={"client_id": "other-bank", "client_secret": "other-bank-secret-1"})
    tok = sim.post("/oauth2/token", data={"grant_type": "client_credentials"},
                   auth=("other-bank", "other-bank-secret-1")).json["access_token"]
    headers = {"Authorization": "Bearer " + tok}
    assert sim.get(OPS, headers=headers).status_code == 403
    # Through its own issuer id, demo-issuer's card simply does not exist.
    assert sim.get("/issuers/other-bank/cards/card-0001/3ds/operations", headers=headers).status_code == 404


def test_the_issuer_admin_reads_the_history_through_d1(issuer, history):
    _, ids = history
    resp = issuer.get("/admin/cards/card-0001/3ds/operations?limit=1")
    assert resp.status_code == 200
    assert [op["operationId"] for op in resp.json["operations"]] == [ids[4]] and resp.json["nextCursor"]
