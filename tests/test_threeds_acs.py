"""The ACS's decisions: every test card in every version and channel, the configurable rules
(amount threshold, challenge indicator, non-payment, 3RI), not-enrolled and expired cards, ECI per
scheme, the cryptogram, and the signed content of an app challenge."""

from __future__ import annotations

import base64
import json

import pytest
import threeds_support
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.jwk import ECKey

from d1sandbox import demo
from scenarios.threeds_server import build_areq
from simulator.threeds import acs
from simulator.threeds import messages as m
from simulator.threeds.keys import x5c_registry

# One world per module, reset before each test (tests/threeds_support.py).
shared_world, world, sim, issuer = (threeds_support.shared_world, threeds_support.world, threeds_support.sim,
                                    threeds_support.issuer)

CARDS = {(c["behavior"], c["scheme"]): c for c in demo.test_cards()}
VISA = CARDS[("frictionless", "visa")]
MC = CARDS[("frictionless", "mastercard")]
VERSIONS = ["2.1.0", "2.2.0", "2.3.1"]


def post(sim, areq: dict) -> dict:
    resp = sim.post("/ds/areq", json=areq)
    assert resp.status_code == 200
    return resp.get_json()


# -- outcomes by test card, version and channel ----------------------------------------------
OUTCOMES = [
    # behavior, scheme, transStatus, reason, eci (payment)
    ("frictionless", "visa", "Y", None, "05"),
    ("frictionless", "mastercard", "Y", None, "02"),
    ("attempted", "visa", "A", None, "06"),
    ("not-authenticated", "visa", "N", "01", "07"),
    ("rejected", "visa", "R", "11", None),
    ("unavailable", "visa", "U", "08", None),
    ("stepup-sms", "visa", "Y", None, "05"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("channel", ["01", "02"])
@pytest.mark.parametrize("behavior,scheme,status,reason,eci", OUTCOMES)
def test_each_outcome_card_gets_its_ares(sim, version, channel, behavior, scheme, status, reason, eci):
    ares = post(sim, build_areq(CARDS[(behavior, scheme)], version=version, channel=channel))
    assert ares["messageType"] == "ARes"
    assert ares["transStatus"] == status
    assert ares.get("transStatusReason") == reason
    assert ares.get("eci") == eci
    assert ares["acsReferenceNumber"] and ares["dsReferenceNumber"] and ares["acsOperatorID"]
    if status in ("Y", "A"):
        value = ares["authenticationValue"]
        assert len(value) == 28 and len(base64.b64decode(value)) == 20
    else:
        assert "authenticationValue" not in ares
    assert "acsURL" not in ares and "acsSignedContent" not in ares
    assert m.format_errors("ARes", version, ares) == {}
    assert m.missing("ARes", version, channel, ares) == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("behavior", sorted(acs.CHALLENGE_BEHAVIORS))
def test_challenge_cards_get_a_browser_challenge(sim, version, behavior):
    ares = post(sim, build_areq(CARDS[(behavior, "visa")], version=version))
    assert ares["transStatus"] == "C"
    assert ares["acsChallengeMandated"] == "Y"
    assert ares["acsURL"] == "http://sim.test/acs/browser/creq"
    expected_type = "03" if behavior in ("challenge-oob", "oob-unavailable") else "02"
    assert ares["authenticationType"] == expected_type
    assert "authenticationValue" not in ares and "eci" not in ares
    assert m.missing("ARes", version, "02", ares) == []
    assert m.format_errors("ARes", version, ares) == {}
    if version == "2.3.1":
        assert ares["authenticationMethod"] == (["11"] if expected_type == "03" else ["02"])


@pytest.mark.parametrize("version", VERSIONS)
def test_an_app_challenge_carries_signed_content_with_an_x5c_chain(sim, version):
    areq = build_areq(CARDS[("challenge-oob", "visa")], channel="01", version=version)
    ares = post(sim, areq)
    assert ares["transStatus"] == "C" and "acsURL" not in ares
    assert ares["acsRenderingType"] == {"acsInterface": "01", "acsUiTemplate": "04"}
    assert ares["sdkTransID"] == areq["sdkTransID"]
    token = ares["acsSignedContent"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "ES256" and len(header["x5c"]) == 2
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    root = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][1]))
    # The chain ends in the DS root the sandbox publishes, and the root signed the leaf.
    published = x509.load_pem_x509_certificate(sim.get("/ds/ca.pem").data)
    assert root == published
    root.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))
    # The leaf's key verifies the JWS, whose payload is what an SDK needs to start the challenge.
    key = ECKey.import_key(leaf.public_key())
    payload = json.loads(jws.deserialize_compact(token, key, registry=x5c_registry()).payload)
    assert payload["acsTransID"] == ares["acsTransID"]
    assert payload["acsURL"] == "http://sim.test/acs/app/creq"
    assert payload["sdkEphemPubKey"] == areq["sdkEphemPubKey"]
    assert payload["acsEphemPubKey"]["kty"] == "EC" and "d" not in payload["acsEphemPubKey"]
    assert m.missing("ARes", version, "01", ares) == []


def test_sms_card_app_challenge_uses_the_text_template(sim):
    ares = post(sim, build_areq(CARDS[("challenge-sms-d1", "visa")], channel="01"))
    assert ares["acsRenderingType"]["acsUiTemplate"] == "01" and ares["authenticationType"] == "02"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("behavior,expected", [("frictionless", "I"), ("challenge-oob", "I"),
                                               ("not-authenticated", "N"), ("attempted", "A")])
def test_3ri_never_challenges(sim, version, behavior, expected):
    category = "02" if version == "2.1.0" else "01"
    ares = post(sim, build_areq(CARDS[(behavior, "visa")], channel="03", version=version, category=category))
    want = "Y" if (version == "2.1.0" and expected == "I") else expected
    assert ares["transStatus"] == want
    assert "acsURL" not in ares


def test_non_payment_results_carry_no_cryptogram(sim):
    ares = post(sim, build_areq(VISA, category="02"))
    assert ares["transStatus"] == "Y" and "authenticationValue" not in ares and "eci" not in ares


# -- configurable rules ------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("indicator,status", [("01", "Y"), ("02", "Y"), ("03", "C"), ("04", "C")])
def test_requestor_challenge_indicator(sim, version, indicator, status):
    ares = post(sim, build_areq(VISA, version=version, challenge_ind=indicator))
    assert ares["transStatus"] == status
    if status == "C":
        assert ares["acsChallengeMandated"] == "N"


def test_data_share_only_is_information_only_from_2_2_0(sim):
    assert post(sim, build_areq(VISA, version="2.2.0", challenge_ind="06"))["transStatus"] == "I"
    assert post(sim, build_areq(VISA, version="2.3.1", challenge_ind="06"))["transStatus"] == "I"


def test_a_mandated_challenge_ignores_no_challenge_requested(sim):
    ares = post(sim, build_areq(CARDS[("challenge-sms-d1", "visa")], challenge_ind="02"))
    assert ares["transStatus"] == "C" and ares["acsChallengeMandated"] == "Y"


def test_amount_threshold_from_the_issuer_configuration(sim):
    resp = sim.put("/sandbox/issuers/demo-issuer", json={"acs": {"challenge_amount_threshold": 10000}})
    assert resp.status_code == 200
    assert post(sim, build_areq(VISA, amount="9999"))["transStatus"] == "Y"
    over = post(sim, build_areq(VISA, amount="10000"))
    assert over["transStatus"] == "C" and over["acsChallengeMandated"] == "N"
    assert post(sim, build_areq(VISA, amount="250000", challenge_ind="02"))["transStatus"] == "Y"
    assert post(sim, build_areq(VISA, amount="250000", version="2.2.0", challenge_ind="05"))["transStatus"] == "Y"
    # Switching the rule off again takes effect on the next AReq (cached config, by version).
    sim.put("/sandbox/issuers/demo-issuer", json={"acs": {"challenge_amount_threshold": None}})
    assert post(sim, build_areq(VISA, amount="250000"))["transStatus"] == "Y"


def test_a_frictionless_card_forced_to_challenge_has_no_app_so_runs_sms(sim):
    # consumer-0001 has no enrolled app instance: authenticationType 02, and 2.2.0 tells the cardholder.
    ares = post(sim, build_areq(VISA, version="2.2.0", challenge_ind="04"))
    assert ares["authenticationType"] == "02"
    assert "SMS" in ares["cardholderInfo"]


def test_oob_disabled_by_the_issuer_means_sms(sim):
    sim.put("/sandbox/issuers/demo-issuer", json={"oob_enabled": False})
    ares = post(sim, build_areq(CARDS[("challenge-oob", "visa")], version="2.1.0", language="ja-JP"))
    assert ares["authenticationType"] == "02"
    assert "SMS" in ares["cardholderInfo"] and "ワンタイムコード" in ares["cardholderInfo"]


# -- not enrolled, expired, replaced, deleted --------------------------------------------------
def test_a_pan_in_range_without_a_card_is_not_enrolled(sim, world):
    ares = post(sim, build_areq(demo.with_check_digit("400000009700000")))
    assert ares["transStatus"] == "U" and ares["transStatusReason"] == "13"
    mc = post(sim, build_areq(demo.with_check_digit("510000009700000")))
    assert mc["transStatus"] == "N" and mc["transStatusReason"] == "13" and mc["eci"] == "00"
    # No card, so no operation in any card's history, and nothing to notify.
    assert world.sim.db.scalar("SELECT COUNT(*) FROM threeds_operations") == 0
    assert world.sim.db.scalar("SELECT COUNT(*) FROM outbox") == 0


@pytest.mark.parametrize("state", ["DELETED", "REPLACED"])
def test_deleted_or_replaced_cards_are_unknown_to_the_acs(sim, world, state):
    with world.sim.db.transaction():
        world.sim.db.update("cards", {"card_id": VISA["cardId"]}, {"state": state})
    ares = post(sim, build_areq(VISA))
    assert (ares["transStatus"], ares["transStatusReason"]) == ("U", "13")


def test_an_expired_card_is_not_authenticated(sim, world):
    with world.sim.db.transaction():
        world.sim.db.update("cards", {"card_id": VISA["cardId"]}, {"expiry": "2001"})
    ares = post(sim, build_areq(VISA))
    assert (ares["transStatus"], ares["transStatusReason"], ares["eci"]) == ("N", "05", "07")


# -- pure functions ----------------------------------------------------------------------------
@pytest.mark.parametrize("scheme,status,expected", [
    ("visa", "Y", "05"), ("visa", "A", "06"), ("visa", "N", "07"), ("amex", "Y", "05"), ("jcb", "A", "06"),
    ("discover", "N", "07"), ("mastercard", "Y", "02"), ("mastercard", "A", "01"), ("mastercard", "N", "00"),
    ("visa", "U", None), ("mastercard", "R", None),
])
def test_eci_by_scheme(scheme, status, expected):
    assert acs.eci(scheme, status) == expected


def test_authentication_value_is_28_base64_chars_and_unique_per_transaction():
    a = acs.authentication_value(b"k", "tx-1", "Y")
    b = acs.authentication_value(b"k", "tx-2", "Y")
    assert len(a) == 28 and a != b and a == acs.authentication_value(b"k", "tx-1", "Y")
    assert len(base64.b64decode(a)) == 20


def _card(behavior, **kw):
    base = dict(card_id="c", issuer_id="i", consumer_id="p", scheme="visa", state="ACTIVE", behavior=behavior,
                expiry="3012", pan_last4="0001")
    base.update(kw)
    return acs.Card(**base)


@pytest.mark.parametrize("behavior,config,has_app,expected", [
    ("challenge-oob", {"oob_enabled": True, "otp_delivery": "D1"}, True, ("OOB", "D1", None)),
    ("challenge-oob", {"oob_enabled": True, "otp_delivery": "ISSUER"}, False, ("SMS_OTP", "ISSUER", "NO_APP_INSTANCE")),
    ("challenge-oob", {"oob_enabled": False, "otp_delivery": "D1"}, True, ("SMS_OTP", "D1", "OOB_DISABLED")),
    ("oob-unavailable", {"oob_enabled": True, "otp_delivery": "D1"}, True, ("OOB", "D1", None)),
    ("challenge-sms-d1", {"oob_enabled": True, "otp_delivery": "ISSUER"}, True, ("SMS_OTP", "D1", None)),
    ("challenge-sms-issuer", {"oob_enabled": True, "otp_delivery": "D1"}, True, ("SMS_OTP", "ISSUER", None)),
])
def test_choose_method(behavior, config, has_app, expected):
    chosen = acs.choose_method(_card(behavior), config, has_app=has_app)
    assert (chosen.method, chosen.otp_delivery, chosen.fallback_reason) == expected


def test_decide_reads_the_challenge_indicator_as_string_or_list():
    areq = {"deviceChannel": "02", "messageCategory": "01", "purchaseAmount": "1"}
    assert acs.decide({**areq, "threeDSRequestorChallengeInd": ["01", "04"]}, _card("frictionless"), {},
                      version="2.3.1", today_yymm="2601").status == "C"
    assert acs.decide({**areq, "threeDSRequestorChallengeInd": "04"}, _card("frictionless"), {},
                      version="2.2.0", today_yymm="2601").status == "C"
    assert acs.decide(areq, None, {}, version="2.2.0", today_yymm="2601").reason == "13"
