"""Live sequence diagrams: both services' journals merged into one Mermaid diagram per transaction."""

from __future__ import annotations

from d1sandbox.diagrams import merge_journals
from d1sandbox.journal import mermaid


def entry(id, at, frm, to, label, kind="message", status=None):
    return {"id": id, "at": at, "from": frm, "to": to, "label": label, "kind": kind, "status": status,
            "method": None, "path": None, "body": None, "transaction": "tx"}


T0, T1, T2, T3 = (f"2026-01-01T00:00:00.00{n}Z" for n in range(4))


def test_calls_between_the_services_are_drawn_once_from_the_callers_journal():
    d1 = [entry(1, T0, "D1", "Issuer backend", "DeliverOTP", "request"),
          entry(2, T1, "Issuer backend", "D1", "DeliverOTP", "response", 202),
          entry(3, T2, "Issuer backend", "D1", "register card", "request")]  # receiver's copy of the bank's call
    issuer = [entry(7, T0, "D1", "Issuer backend", "DeliverOTP received", "request"),  # receiver's copy
              entry(8, T2, "Issuer backend", "D1", "register card", "request"),
              entry(9, T3, "D1", "Issuer backend", "register card", "response", 201)]
    merged = merge_journals(d1, issuer)
    assert [(e["id"], e["label"]) for e in merged] == [
        (1, "DeliverOTP"), (2, "DeliverOTP"), (8, "register card"), (9, "register card")]


def test_on_a_tie_the_issuers_side_goes_inside_the_d1_call_in_flight():
    d1 = [entry(1, T0, "3DS Server", "DS", "AReq"),
          entry(2, T1, "D1", "Issuer backend", "DeliverOTP", "request"),
          entry(3, T1, "Issuer backend", "D1", "DeliverOTP", "response", 202),
          entry(4, T1, "Cardholder", "ACS", "CReq")]
    issuer = [entry(5, T1, "Issuer SMS gateway", "Phone network", "sms", "request"),
              entry(6, T1, "Phone network", "Issuer SMS gateway", "sms", "response", 202),
              entry(6, T1, "Phone network", "Issuer SMS gateway", "sms", "response", 202)]  # asked twice
    merged = merge_journals(d1, issuer)
    assert [e["id"] for e in merged] == [1, 2, 5, 6, 3, 4]


def test_time_orders_entries_across_services():
    d1 = [entry(1, T0, "A", "D1", "x"), entry(2, T2, "D1", "A", "y")]
    issuer = [entry(3, T1, "Issuer app user", "Issuer backend", "approve")]
    assert [e["id"] for e in merge_journals(d1, issuer)] == [1, 3, 2]


def test_notes_are_drawn_as_notes_not_messages():
    text = mermaid([entry(1, T0, "D1", "D1", "SMS not sent", "note"), entry(2, T0, "D1", "ACS", "x")])
    assert "Note over D1: SMS not sent" in text
    assert "D1->>D1" not in text and "autonumber" in text


def deliver_otp(world, correlation="tx-otp", alias="acs-otp"):
    """D1 calls the reference issuer's DeliverOTP for a transaction known by two ids."""
    world.sim.journal.record(correlation, "3DS Server", "DS", "AReq", {"messageType": "AReq"}, aliases=[alias])
    client = world.sim.issuer_link.client("demo-issuer")
    result = client.call("POST", "/banking/d1/v1/issuers/demo-issuer/consumers/consumer-0004/otp", operation="otp",
                         correlation=correlation, label="DeliverOTP", secrets=("482913",),
                         json={"otp": "482913", "channel": "SMS", "purpose": "3DS", "transactionId": alias,
                               "cardId": "card-0004", "panLast4": "0008", "locale": "en",
                               "expiresAt": "2030-01-01T00:00:00.000Z", "merchantName": "Demo Shop",
                               "amount": "49.99", "currency": "EUR"})
    assert result.status == 202, result.body
    return correlation


def test_diagram_endpoint_shows_the_issuers_sms_gateway_inside_the_deliver_otp_call(world, sim):
    tx = deliver_otp(world)
    text = sim.get(f"/sandbox/journal/{tx}/diagram").get_data(as_text=True)
    lines = [line.strip() for line in text.splitlines()]
    request = lines.index("D1->>Issuer_backend: DeliverOTP")
    answer = next(i for i, line in enumerate(lines) if line.startswith("Issuer_backend-->>D1: DeliverOTP (202)"))
    gateway = next(i for i, line in enumerate(lines) if line.startswith("Issuer_SMS_gateway->>Phone_network"))
    assert request < gateway < answer, text
    assert "participant Phone_network as Phone network" in text
    assert "482913" not in text
    # the same diagram is found from the other id of the transaction
    assert sim.get("/sandbox/journal/acs-otp/diagram").get_data(as_text=True) == text
    d1_only = sim.get(f"/sandbox/journal/{tx}/diagram?issuer=false").get_data(as_text=True)
    assert "Issuer_SMS_gateway" not in d1_only and "D1->>Issuer_backend: DeliverOTP" in d1_only


def test_journal_endpoint_merges_on_request_and_marks_the_service(world, sim):
    tx = deliver_otp(world)
    plain = sim.get(f"/sandbox/journal?transaction={tx}").json
    merged = sim.get(f"/sandbox/journal?transaction={tx}&issuer=true").json
    assert {e.get("service") for e in merged} == {"simulator", "issuer"}
    assert len(merged) > len(plain) and all("service" not in e for e in plain)
    assert not any("482913" in str(e) for e in merged)


def test_issuer_journal_endpoint_answers_for_several_ids(world, issuer):
    deliver_otp(world)
    entries = issuer.get("/sandbox/journal?transaction=acs-otp&transaction=nothing").json
    assert entries and all(e["transaction"] == "acs-otp" for e in entries)
    assert issuer.get("/sandbox/journal/nothing/diagram").status_code == 404


def test_without_a_readable_issuer_journal_the_diagram_is_d1s_side_with_a_note(tmp_path):
    from scenarios.inprocess import build_world

    world = build_world(tmp_path, sim_config={"ISSUER_URL": "http://nowhere.invalid:9"})
    try:
        world.sim.journal.record("tx-9", "3DS Server", "DS", "AReq", {})
        text = world.sim_app.test_client().get("/sandbox/journal/tx-9/diagram").get_data(as_text=True)
        assert "3DS_Server->>DS: AReq" in text
        assert "%% issuer backend side not included: issuer backend journal unreachable" in text
    finally:
        world.close()
