"""OOB authenticators: enrollment and `authnCredentials/operations/delete`, with the consumer
notifications D1 sends the issuer through the outbox."""

from __future__ import annotations

import pytest

from d1sandbox import demo

CLIENT = (demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET)
DELETE = "/issuers/demo-issuer/appInstances/{}/authnCredentials/operations/delete"
ENROLL = "/issuers/demo-issuer/consumers/{}/appInstances"


@pytest.fixture
def auth(sim):
    tok = sim.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=CLIENT).json["access_token"]
    return {"Authorization": "Bearer " + tok}


def consumer_events(issuer):
    return [n["body"] for n in issuer.get("/admin/notifications?kind=consumer").json]


def test_delete_credentials_removes_oob_and_notifies_the_issuer(sim, issuer, auth, world):
    authenticators = world.sim.services["authenticators"]
    assert [r["app_instance_id"] for r in authenticators.active_for("demo-issuer", "consumer-0002")] == ["app-0002"]
    resp = sim.post(DELETE.format("app-0002"), headers=auth)
    assert resp.status_code == 200
    assert resp.json["state"] == "DELETED" and resp.json["consumerId"] == "consumer-0002"
    assert authenticators.active_for("demo-issuer", "consumer-0002") == []  # no OOB any more
    assert issuer.get("/admin/consumers/consumer-0002").json["appInstanceId"] == "app-0002"  # not yet told
    assert world.drain() == 1
    events = consumer_events(issuer)
    assert len(events) == 1
    assert events[0]["eventType"] == "AUTHENTICATOR_DELETED" and events[0]["appInstanceId"] == "app-0002"
    assert events[0]["eventId"] and events[0]["timestamp"].endswith("Z")
    assert issuer.get("/admin/consumers/consumer-0002").json["appInstanceId"] is None


def test_delete_credentials_twice_answers_the_same_and_notifies_once(sim, issuer, auth, world):
    first = sim.post(DELETE.format("app-0002"), headers=auth)
    again = sim.post(DELETE.format("app-0002"), headers=auth)
    assert again.status_code == 200 and again.json == first.json
    world.drain()
    assert len(consumer_events(issuer)) == 1


def test_delete_credentials_of_an_unknown_app_instance_is_404(sim, auth, world):
    resp = sim.post(DELETE.format("app-nope"), headers=auth)
    assert resp.status_code == 404 and resp.json["error"] == "app_instance_not_found"
    assert world.sim.outbox.stats() == {}


def test_another_issuers_app_instance_is_not_found(sim, auth):
    sim.put("/sandbox/issuers/other-bank", json={"client_id": "other-bank", "client_secret": "other-bank-secret-1"})
    tok = sim.post("/oauth2/token", data={"grant_type": "client_credentials"},
                   auth=("other-bank", "other-bank-secret-1")).json["access_token"]
    resp = sim.post("/issuers/other-bank/appInstances/app-0002/authnCredentials/operations/delete",
                    headers={"Authorization": "Bearer " + tok})
    assert resp.status_code == 404
    assert sim.post(DELETE.format("app-0002"), headers={"Authorization": "Bearer " + tok}).status_code == 403


def test_enroll_creates_the_app_instance_and_notifies_the_issuer(sim, issuer, auth, world):
    resp = sim.post(ENROLL.format("consumer-0003"), json={"appInstanceId": "app-carol"}, headers=auth)
    assert resp.status_code == 201
    assert resp.json == {**resp.json, "appInstanceId": "app-carol", "consumerId": "consumer-0003", "state": "ACTIVE"}
    active = world.sim.services["authenticators"].active_for("demo-issuer", "consumer-0003")
    assert [r["app_instance_id"] for r in active] == ["app-carol"]
    world.drain()
    events = consumer_events(issuer)
    assert [(e["eventType"], e["appInstanceId"]) for e in events] == [("AUTHENTICATOR_ENROLLED", "app-carol")]
    assert issuer.get("/admin/consumers/consumer-0003").json["appInstanceId"] == "app-carol"


def test_enroll_repeat_is_quiet_and_re_enroll_after_delete_notifies(sim, issuer, auth, world):
    sim.post(ENROLL.format("consumer-0003"), json={"appInstanceId": "app-carol"}, headers=auth)
    again = sim.post(ENROLL.format("consumer-0003"), json={"appInstanceId": "app-carol"}, headers=auth)
    assert again.status_code == 200
    sim.post(DELETE.format("app-carol"), headers=auth)
    back = sim.post(ENROLL.format("consumer-0003"), json={"appInstanceId": "app-carol"}, headers=auth)
    assert back.status_code == 200 and back.json["state"] == "ACTIVE"
    world.drain()
    kinds = [e["eventType"] for e in reversed(consumer_events(issuer))]
    assert kinds == ["AUTHENTICATOR_ENROLLED", "AUTHENTICATOR_DELETED", "AUTHENTICATOR_ENROLLED"]


def test_enroll_an_app_instance_of_another_consumer_is_409(sim, auth, world):
    resp = sim.post(ENROLL.format("consumer-0003"), json={"appInstanceId": "app-0002"}, headers=auth)
    assert resp.status_code == 409 and "appInstanceId" in resp.json["fields"]
    assert world.sim.outbox.stats() == {}


def test_enroll_generates_an_id_and_validates_it(sim, auth):
    resp = sim.post(ENROLL.format("consumer-0003"), headers=auth)
    assert resp.status_code == 201 and resp.json["appInstanceId"].startswith("app-")
    bad = sim.post(ENROLL.format("consumer-0003"), json={"appInstanceId": "no spaces"}, headers=auth)
    assert bad.status_code == 422 and "appInstanceId" in bad.json["fields"]


def test_the_issuer_app_enrolls_through_its_backend(issuer, world):
    """App → issuer backend → D1 (token, journal) → outbox → issuer's notification receiver."""
    resp = issuer.post("/app/consumers/consumer-0003/appInstances", json={"appInstanceId": "app-carol-2"})
    assert resp.status_code == 201 and resp.json["appInstanceId"] == "app-carol-2"
    world.drain()
    assert issuer.get("/admin/consumers/consumer-0003").json["appInstanceId"] == "app-carol-2"


def test_the_issuer_admin_deletes_credentials_through_d1(issuer, world):
    resp = issuer.post("/admin/app-instances/app-0002/delete-credentials")
    assert resp.status_code == 200 and resp.json["state"] == "DELETED"
    world.drain()
    assert issuer.get("/admin/consumers/consumer-0002").json["appInstanceId"] is None
    missing = issuer.post("/admin/app-instances/app-nope/delete-credentials")
    assert missing.status_code == 404 and missing.json["error"] == "app_instance_not_found"
