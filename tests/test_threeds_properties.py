"""Property tests: whatever the body, `POST /ds/areq` answers HTTP 200 with an ARes or an Erro —
never a 500, never anything else — and an Erro never leaves a half-recorded transaction."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.inprocess import build_world
from scenarios.threeds_server import build_areq
from simulator.threeds import messages as m

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@pytest.fixture(scope="module")
def client():
    world = build_world(Path(tempfile.mkdtemp(prefix="d1prop-")))
    yield world.sim_app.test_client(), world
    world.close()


def answer(client, data: bytes) -> dict:
    resp = client.post("/ds/areq", data=data, content_type="application/json")
    assert resp.status_code == 200, resp.data[:300]
    body = resp.get_json()
    assert isinstance(body, dict) and body.get("messageType") in ("ARes", "Erro"), body
    if body["messageType"] == "Erro":
        assert body["errorCode"] in m.ERROR_CODES and body["errorDetail"]
        assert m.format_errors("Erro", body["messageVersion"], body) == {}
    else:
        assert m.format_errors("ARes", body["messageVersion"], body) == {}
    return body


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12)


@SETTINGS
@given(st.binary(max_size=600))
def test_any_bytes(client, data):
    answer(client[0], data)


@SETTINGS
@given(json_values)
def test_any_json_value(client, value):
    answer(client[0], json.dumps(value).encode())


BASE = {(v, c): build_areq("4000000001000001", version=v, channel=c,
                           category="02" if (v, c) == ("2.1.0", "03") else "01")
        for v in m.VERSIONS for c in m.CHANNELS}
ELEMENT_NAMES = sorted(m.all_names("AReq") | {"dsTransID", "unknownThing"})
WEIRD = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.text(max_size=60) | \
    st.lists(st.text(max_size=5), max_size=3) | \
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3) | \
    st.sampled_from(["", "01", "02", "03", "2.2.0", "Y", "N", "4000000001000001", "20301231", "http://x.test/y"])


@SETTINGS
@given(st.sampled_from(sorted(BASE)), st.dictionaries(st.sampled_from(ELEMENT_NAMES), WEIRD, max_size=6),
       st.lists(st.sampled_from(ELEMENT_NAMES), max_size=4))
def test_mutated_areqs(client, key, changes, removals):
    sim, world = client
    areq = dict(BASE[key])
    areq["threeDSServerTransID"] = json.loads(json.dumps(build_areq("4000000001000001")["threeDSServerTransID"]))
    for name in removals:
        areq.pop(name, None)
    areq.update(changes)
    before = world.sim.db.scalar("SELECT COUNT(*) FROM threeds_transactions")
    body = answer(sim, json.dumps(areq).encode())
    after = world.sim.db.scalar("SELECT COUNT(*) FROM threeds_transactions")
    if body["messageType"] == "Erro":
        assert after == before  # nothing recorded half-way
        # An Erro that names missing or malformed elements names ones the message really concerns.
        if body["errorCode"] in ("201", "203"):
            for name in body["errorDetail"].split(", "):
                assert name.split(".")[0] in m.all_names("AReq"), body
    else:
        assert after == before + 1


@SETTINGS
@given(st.sampled_from(sorted(BASE)), st.sampled_from(ELEMENT_NAMES))
def test_duplicating_any_element_is_204(client, key, name):
    areq = dict(BASE[key])
    areq["threeDSServerTransID"] = build_areq("4000000001000001")["threeDSServerTransID"]
    text = json.dumps(areq)
    text = text[:-1] + f', {json.dumps(name)}: "x", {json.dumps(name)}: "y"}}'
    body = answer(client[0], text.encode())
    assert body["errorCode"] in ("204", "101"), body
    if body["errorCode"] == "204":
        assert name in body["errorDetail"].split(", ")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([(msg, v) for msg in ("AReq", "ARes", "CReq", "CRes", "RReq", "RRes") for v in m.VERSIONS]),
       st.data())
def test_the_compiled_checks_agree_with_the_marshmallow_schemas(kind, data):
    """The DS's hot path uses compiled checkers; the marshmallow schemas (OpenAPI, docs) are the
    reference. Both must find the same offending elements for any values."""
    message, version = kind
    names = sorted(e.name for e in m.elements(message, version))
    chosen = data.draw(st.dictionaries(st.sampled_from(names), WEIRD | json_values, max_size=8))
    fast = set(m.format_errors(message, version, chosen))
    reference = set(m.schema_errors(message, version, chosen, partial=True)) - {"_schema"}
    assert fast == reference, (chosen, m.format_errors(message, version, chosen))


@SETTINGS
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_the_app_acs_url_answers_any_body_with_cres_or_erro(client, data):
    resp = client[0].post("/acs/app/creq", data=data, content_type="application/json")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["messageType"] == "Erro" and body["errorComponent"] == "A" and body["errorCode"] in m.ERROR_CODES


@SETTINGS
@given(st.text(max_size=200), st.none() | st.text(max_size=60))
def test_the_browser_acs_url_answers_any_creq_with_a_page(client, creq, session_data):
    form = {"creq": creq} if session_data is None else {"creq": creq, "threeDSSessionData": session_data}
    resp = client[0].post("/acs/browser/creq", data=form, headers={"Accept": "text/html"})
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert "Traceback" not in resp.get_data(as_text=True)
