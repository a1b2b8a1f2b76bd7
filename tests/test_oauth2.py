"""D1's OAuth2 server for issuers: client credentials, scopes, expiry, revocation, and the bearer
guard on the inbound API (RFC 6749 / 6750 / 7009)."""

from __future__ import annotations

import base64

from d1sandbox import demo

CLIENT = (demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET)
CARD = "/v2/issuers/demo-issuer/cards/card-0001"


def token(sim, scope=None, auth=CLIENT):
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    resp = sim.post("/oauth2/token", data=data, auth=auth)
    assert resp.status_code == 200, resp.json
    return resp.json["access_token"]


def bearer(tok):
    return {"Authorization": f"Bearer {tok}"}


def other_issuer(sim, issuer_id="other-bank"):
    resp = sim.put(f"/sandbox/issuers/{issuer_id}",
                   json={"client_id": issuer_id, "client_secret": "other-bank-secret-1"})
    assert resp.status_code == 200, resp.json
    return issuer_id, "other-bank-secret-1"


# -- token endpoint --------------------------------------------------------------------------------
def test_http_basic_gives_a_bearer_token_with_every_scope(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
    assert resp.status_code == 200
    body = resp.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert set(body["scope"].split()) == {"card:write", "card:read", "3ds:read", "authenticator:write"}
    assert len(body["access_token"]) >= 40
    assert resp.headers["Cache-Control"] == "no-store"


def test_form_credentials_work_too(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": CLIENT[0],
                                           "client_secret": CLIENT[1]})
    assert resp.status_code == 200
    assert sim.get(CARD, headers=bearer(resp.json["access_token"])).status_code == 200


def test_basic_and_form_credentials_together_are_refused(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": CLIENT[0],
                                           "client_secret": CLIENT[1]}, auth=CLIENT)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"


def test_wrong_secret_is_invalid_client_401_with_www_authenticate(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(CLIENT[0], "wrong"))
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_client"
    assert resp.json["error_description"]
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert "wrong" not in resp.get_data(as_text=True)


def test_unknown_client_answers_like_a_wrong_secret(sim):
    unknown = sim.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x"))
    wrong = sim.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(CLIENT[0], "x"))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json == wrong.json


def test_missing_client_authentication_is_invalid_client(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"


def test_malformed_basic_header_is_invalid_client(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials"},
                    headers={"Authorization": "Basic not-base64!!"})
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"


def test_unsupported_grant_type(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "password", "username": "u", "password": "p"}, auth=CLIENT)
    assert resp.status_code == 400 and resp.json["error"] == "unsupported_grant_type"


def test_missing_grant_type_is_invalid_request(sim):
    resp = sim.post("/oauth2/token", data={}, auth=CLIENT)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"


def test_json_body_is_refused_with_a_hint(sim):
    resp = sim.post("/oauth2/token", json={"grant_type": "client_credentials"}, auth=CLIENT)
    assert resp.status_code == 400 and "x-www-form-urlencoded" in resp.json["message"]


def test_repeated_parameter_is_invalid_request(sim):
    resp = sim.post("/oauth2/token", data="grant_type=client_credentials&grant_type=client_credentials",
                    content_type="application/x-www-form-urlencoded", auth=CLIENT)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"


def test_scope_subset_and_unknown_scope(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials", "scope": "card:read"}, auth=CLIENT)
    assert resp.json["scope"] == "card:read"
    bad = sim.post("/oauth2/token", data={"grant_type": "client_credentials", "scope": "card:read admin"}, auth=CLIENT)
    assert bad.status_code == 400 and bad.json["error"] == "invalid_scope" and "admin" in bad.json["message"]


def test_tokens_are_stored_only_as_hashes(sim, world):
    tok = token(sim)
    rows = world.sim.db.all("SELECT * FROM issuer_access_tokens")
    assert rows and all(tok not in str(row.values()) for row in rows)


def test_the_token_answer_is_journaled_without_the_token(sim, world):
    tok = token(sim)
    entries = world.sim.journal.for_transaction("oauth2-inbound")
    assert entries and tok not in str(entries)


def test_a_new_issuer_gets_tokens_with_its_own_credentials(sim):
    issuer_id, secret = other_issuer(sim)
    assert token(sim, auth=(issuer_id, secret))


# -- the bearer guard --------------------------------------------------------------------------------
def test_missing_token_is_401_with_a_bare_bearer_challenge(sim):
    resp = sim.get(CARD)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="d1sandbox"'


def test_non_bearer_authorization_is_401_invalid_request(sim):
    resp = sim.get(CARD, headers={"Authorization": "Basic " + base64.b64encode(b"a:b").decode()})
    assert resp.status_code == 401 and 'error="invalid_request"' in resp.headers["WWW-Authenticate"]


def test_forged_token_is_401_invalid_token(sim):
    resp = sim.get(CARD, headers=bearer("forged-" + "x" * 40))
    assert resp.status_code == 401 and resp.json["error"] == "invalid_token"
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_token_expires_on_the_sandbox_clock(sim, world):
    tok = token(sim)
    world.clock.advance(3599)
    assert sim.get(CARD, headers=bearer(tok)).status_code == 200
    world.clock.advance(2)
    resp = sim.get(CARD, headers=bearer(tok))
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_revoked_token_is_401_at_once(sim):
    tok = token(sim)
    assert sim.get(CARD, headers=bearer(tok)).status_code == 200
    resp = sim.post("/oauth2/revoke", data={"token": tok, "token_type_hint": "access_token"}, auth=CLIENT)
    assert resp.status_code == 200
    resp = sim.get(CARD, headers=bearer(tok))
    assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers
    # RFC 7009 §2.2: revoking again (or an unknown token) is not an error.
    assert sim.post("/oauth2/revoke", data={"token": tok}, auth=CLIENT).status_code == 200
    assert sim.post("/oauth2/revoke", data={"token": "never-issued"}, auth=CLIENT).status_code == 200


def test_revocation_needs_client_authentication_and_the_owning_client(sim):
    tok = token(sim)
    assert sim.post("/oauth2/revoke", data={"token": tok}).status_code == 401
    issuer_id, secret = other_issuer(sim)
    resp = sim.post("/oauth2/revoke", data={"token": tok}, auth=(issuer_id, secret))
    assert resp.status_code == 400 and resp.json["error"] == "unauthorized_client"
    assert sim.get(CARD, headers=bearer(tok)).status_code == 200  # still valid
    assert sim.post("/oauth2/revoke", data={}, auth=CLIENT).json["error"] == "invalid_request"


def test_another_issuers_resources_are_403(sim):
    issuer_id, secret = other_issuer(sim)
    other = token(sim, auth=(issuer_id, secret))
    resp = sim.get(CARD, headers=bearer(other))
    assert resp.status_code == 403 and resp.json["error"] == "forbidden"
    resp = sim.post("/v2/issuers/demo-issuer/cards/card-0001/operations/delete", headers=bearer(other))
    assert resp.status_code == 403
    # …and nothing happened to the card.
    assert sim.get(CARD, headers=bearer(token(sim))).json["state"] == "ACTIVE"


def test_a_token_without_the_scope_is_403_insufficient_scope(sim):
    read_only = token(sim, scope="card:read")
    assert sim.get(CARD, headers=bearer(read_only)).status_code == 200
    resp = sim.post(CARD + "/operations/renew", json={"expiry": "3112"}, headers=bearer(read_only))
    assert resp.status_code == 403 and resp.json["error"] == "insufficient_scope"
    assert 'scope="card:write"' in resp.headers["WWW-Authenticate"]
    resp = sim.get("/issuers/demo-issuer/cards/card-0001/3ds/operations", headers=bearer(read_only))
    assert resp.status_code == 403


def test_every_inbound_path_requires_a_token(sim):
    paths = [
        ("post", "/v2/issuers/demo-issuer/cards"),
        ("put", "/v2/issuers/demo-issuer/cards/card-x"),
        ("post", "/v2/issuers/demo-issuer/cards/card-0001/operations/renew"),
        ("post", "/v2/issuers/demo-issuer/cards/card-0001/operations/replace"),
        ("post", "/v2/issuers/demo-issuer/cards/card-0001/operations/delete"),
        ("get", "/issuers/demo-issuer/cards/card-0001/3ds/operations"),
        ("get", "/issuers/demo-issuer/cards/card-0001/3ds/operations/op-1"),
        ("post", "/issuers/demo-issuer/appInstances/app-0002/authnCredentials/operations/delete"),
        ("post", "/issuers/demo-issuer/consumers/consumer-0001/appInstances"),
    ]
    for method, path in paths:
        resp = getattr(sim, method)(path, json={})
        assert resp.status_code == 401, (method, path, resp.status_code)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_openapi_documents_the_bearer_scheme_and_the_token_endpoint(sim):
    spec = sim.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["issuerBearer"]["scheme"] == "bearer"
    token_op = spec["paths"]["/oauth2/token"]["post"]
    assert "application/x-www-form-urlencoded" in token_op["requestBody"]["content"]
    assert {"200", "400", "401"} <= set(token_op["responses"])
    renew = spec["paths"]["/v2/issuers/{issuer_id}/cards/{card_id}/operations/renew"]["post"]
    assert renew["security"] == [{"issuerBearer": ["card:write"]}]
    assert "401" in renew["responses"] and "403" in renew["responses"]
