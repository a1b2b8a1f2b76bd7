"""The one outbound client: retries, OAuth2 token cache, faults, journal redaction."""

import flask
import pytest
import requests

from d1sandbox.clock import Clock
from d1sandbox.outbound import ClientCredentialsToken, Fault, OutboundClient
from d1sandbox.wsgi_transport import mount


@pytest.fixture
def peer():
    app = flask.Flask("peer")
    app.state = {"calls": 0, "fail_first": 0, "tokens": 0, "reject_token": None}

    @app.post("/oauth2/token")
    def token():
        auth = flask.request.authorization
        if not auth or auth.password != "pw":
            return {"error": "invalid_client"}, 401
        app.state["tokens"] += 1
        return {"access_token": f"tok-{app.state['tokens']}", "token_type": "Bearer", "expires_in": 300}

    @app.post("/thing")
    def thing():
        app.state["calls"] += 1
        if app.state["reject_token"] and flask.request.headers.get("Authorization") == app.state["reject_token"]:
            return {"error": "invalid_token"}, 401
        if app.state["calls"] <= app.state["fail_first"]:
            return {"error": "busy"}, 503
        return {"ok": True, "echo": flask.request.get_json(), "auth": flask.request.headers.get("Authorization"),
                "correlation": flask.request.headers.get("X-Correlation-ID")}

    return app


def client_for(peer, **kw):
    session = mount(requests.Session(), {"http://peer.test": peer})
    clock = kw.pop("clock", Clock())
    journal = []
    token = kw.pop("token", None)
    if token == "oauth":
        token = ClientCredentialsToken("http://peer.test/oauth2/token", "id", "pw", session=session, clock=clock)
    client = OutboundClient("http://peer.test", source="D1", target="Issuer", clock=clock, session=session,
                            journal=lambda *a, **k: journal.append((a, k)), token=token, sleep=lambda s: None, **kw)
    return client, journal, clock


def test_retries_transient_failures_then_succeeds(peer):
    peer.state["fail_first"] = 2
    client, journal, _ = client_for(peer, retries=2)
    result = client.call("POST", "/thing", operation="thing", json={"a": 1})
    assert result.ok and result.attempts == 3
    assert len(journal) == 6  # request + response per attempt


def test_gives_up_after_the_retry_budget(peer):
    peer.state["fail_first"] = 10
    client, _, _ = client_for(peer, retries=1)
    result = client.call("POST", "/thing", operation="thing", json={})
    assert not result.ok and result.status == 503 and result.attempts == 2


def test_token_is_cached_until_expiry(peer):
    client, _, clock = client_for(peer, token="oauth")
    for _ in range(3):
        assert client.call("POST", "/thing", operation="thing", json={}).ok
    assert peer.state["tokens"] == 1
    clock.advance(400)
    assert client.call("POST", "/thing", operation="thing", json={}).body["auth"] == "Bearer tok-2"


def test_a_rejected_token_is_renewed_once(peer):
    client, _, _ = client_for(peer, token="oauth")
    client.call("POST", "/thing", operation="thing", json={})
    peer.state["reject_token"] = "Bearer tok-1"
    result = client.call("POST", "/thing", operation="thing", json={})
    assert result.ok and result.body["auth"] == "Bearer tok-2"


def test_faults_inject_status_and_timeouts(peer):
    faults = iter([Fault(status=500), Fault(timeout=True), None])
    client, _, _ = client_for(peer, retries=0, fault_hook=lambda op: next(faults))
    assert client.call("POST", "/thing", operation="x", json={}).status == 500
    assert client.call("POST", "/thing", operation="x", json={}).error == "timeout"
    assert client.call("POST", "/thing", operation="x", json={}).ok
    assert peer.state["calls"] == 1  # injected failures never reached the peer


def test_delay_longer_than_timeout_is_a_timeout(peer):
    client, _, _ = client_for(peer, retries=0, timeout=1.0, fault_hook=lambda op: Fault(delay_ms=5000))
    assert client.call("POST", "/thing", operation="x", json={}).error == "timeout"


def test_connection_errors_are_results_not_exceptions():
    client = OutboundClient("http://127.0.0.1:9", source="a", target="b", clock=Clock(), retries=0, timeout=0.5)
    result = client.call("GET", "/", operation="x")
    assert not result.ok and result.error.startswith("connection")


def test_journal_hook_receives_secrets_to_mask(peer):
    client, journal, _ = client_for(peer, retries=0)
    client.call("POST", "/thing", operation="otp", json={"otp": "123456"}, secrets=("123456",))
    (args, kwargs) = journal[0]
    assert kwargs["secrets"] == ("123456",)


def test_correlation_id_travels_as_a_header(peer):
    client, _, _ = client_for(peer, retries=0)
    assert client.call("POST", "/thing", operation="x", json={}, correlation="tx-42").body["correlation"] == "tx-42"
    assert client.call("POST", "/thing", operation="x", json={}).body["correlation"] is None


@pytest.mark.parametrize("correlation, sent", [
    (" ", None),  # found by tests/test_fuzz_openapi.py: DeliverOTP with transactionId " " → 502
    ("tx-1\r\nX-Injected: 1", "tx-1X-Injected: 1"),
    ("  tx-2  ", "tx-2"),
    ("取引-3", "-3"),
])
def test_correlation_ids_from_outside_never_break_the_call(peer, correlation, sent):
    client, _, _ = client_for(peer)
    result = client.call("POST", "/thing", operation="thing", json={}, correlation=correlation)
    assert result.ok, result.describe()
    assert result.body["correlation"] == sent


@pytest.fixture
def odd_peer():
    """A peer whose answers are valid HTTP but odd JSON (as a backend under rehearsal may send)."""
    app = flask.Flask("odd-peer")
    app.token_answer = {}

    @app.post("/oauth2/token")
    def token():
        return app.token_answer

    @app.post("/ok")
    def ok():
        return {"ok": True}

    @app.post("/deep")
    def deep():
        return flask.Response("[" * 100_000 + "]" * 100_000, mimetype="application/json")

    return app


def test_an_answer_nested_deeper_than_python_parses_is_kept_as_text(odd_peer):
    client, _, _ = client_for(odd_peer)
    result = client.call("POST", "/deep", operation="deep", json={})
    assert result.status == 200 and result.body["_text"].startswith("[[[")


@pytest.mark.parametrize("answer", [
    {"access_token": "tok", "expires_in": "soon"},
    {"access_token": "tok", "expires_in": None},
    {"access_token": {"not": "a string"}, "expires_in": 300},
    {"access_token": "", "expires_in": 300},
])
def test_a_malformed_token_answer_is_an_oauth2_error_not_a_crash(odd_peer, answer):
    odd_peer.token_answer = answer
    session = mount(requests.Session(), {"http://peer.test": odd_peer})
    token = ClientCredentialsToken("http://peer.test/oauth2/token", "id", "pw", session=session, clock=Clock())
    client = OutboundClient("http://peer.test", source="D1", target="Issuer", clock=Clock(), session=session,
                            token=token, sleep=lambda s: None)
    result = client.call("POST", "/ok", operation="ok", json={})
    assert result.error is not None and result.error.startswith("oauth2:"), result
