"""The DS's AReq checks, rule by rule, over every version × channel: the right Erro code, naming the
offending element, the IDs it could read — and nothing recorded half-way."""

from __future__ import annotations

import json
import uuid

import pytest
import threeds_support

from scenarios.threeds_server import build_areq
from simulator.threeds import messages as m
from simulator.threeds.validation import check_areq, parse_json

# One world per module, reset before each test (tests/threeds_support.py).
shared_world, world, sim, issuer = (threeds_support.shared_world, threeds_support.world, threeds_support.sim,
                                    threeds_support.issuer)

VISA = "4000000001000001"
VERSIONS = ["2.1.0", "2.2.0", "2.3.1"]
CHANNELS = ["01", "02", "03"]


def combos():
    for version in VERSIONS:
        for channel in CHANNELS:
            # 2.1.0 allows 3RI for non-payment only.
            yield version, channel, "02" if (version == "2.1.0" and channel == "03") else "01"


def post(sim, body) -> dict:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    resp = sim.post("/ds/areq", data=data, content_type="application/json")
    assert resp.status_code == 200, resp.data  # protocol answers are always HTTP 200
    return resp.get_json()


def counts(world) -> dict:
    db = world.sim.db
    return {table: db.scalar(f"SELECT COUNT(*) FROM {table}")
            for table in ("threeds_transactions", "threeds_operations", "outbox")}


def assert_erro(answer: dict, code: str, detail: str | None = None):
    assert answer["messageType"] == "Erro", answer
    assert answer["errorCode"] == code, answer
    assert answer["errorComponent"] == "D"
    assert answer["errorDescription"]
    assert m.is_uuid(answer["dsTransID"])  # the DS names its own transaction ID in every Erro
    if detail is not None:
        assert answer["errorDetail"] == detail, answer


# -- valid messages --------------------------------------------------------------------------
@pytest.mark.parametrize("version,channel,category", list(combos()))
def test_a_complete_areq_is_accepted_in_every_version_and_channel(sim, version, channel, category):
    areq = build_areq(VISA, version=version, channel=channel, category=category)
    ares = post(sim, areq)
    assert ares["messageType"] == "ARes", ares
    assert ares["messageVersion"] == version
    assert ares["threeDSServerTransID"] == areq["threeDSServerTransID"]
    assert m.is_uuid(ares["dsTransID"]) and m.is_uuid(ares["acsTransID"])
    assert (ares.get("sdkTransID") == areq["sdkTransID"]) if channel == "01" else "sdkTransID" not in ares
    assert m.format_errors("ARes", version, ares) == {}
    assert m.missing("ARes", version, channel, ares) == []


@pytest.mark.parametrize("version,channel,category", list(combos()))
def test_the_builder_output_passes_the_pure_checks_too(version, channel, category):
    result = check_areq(json.dumps(build_areq(VISA, version=version, channel=channel, category=category)))
    assert result.__class__.__name__ == "Valid", getattr(result, "body", lambda: None)()


# -- 101 / 102 / 204 -------------------------------------------------------------------------
@pytest.mark.parametrize("body,why", [
    (b"not json at all", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2, 3]", "not a JSON object"),
    (b'"AReq"', "not a JSON object"),
    (b"", "not valid JSON"),
    (b'{"messageType": "AReq", "x": NaN}', "not valid JSON"),
    (b'{"messageType": "AReq", "x": "\\ud800"}', "lone surrogate"),
])
def test_not_a_json_object_is_erro_101(sim, world, body, why):
    before = counts(world)
    answer = post(sim, body)
    assert_erro(answer, "101", "message")
    assert why in answer["errorDescription"]
    assert counts(world) == before


@pytest.mark.parametrize("message_type", ["CReq", "RRes", None, 42])
def test_a_message_that_is_not_an_areq_is_erro_101(sim, message_type):
    areq = build_areq(VISA)
    areq["messageType"] = message_type
    answer = post(sim, areq)
    assert_erro(answer, "101", "messageType")
    assert answer["threeDSServerTransID"] == areq["threeDSServerTransID"]


@pytest.mark.parametrize("bad", ["2.0.1", "2.4.0", "9.9.9", "2.2", "", 220])
def test_an_unsupported_version_is_erro_102(sim, bad):
    areq = build_areq(VISA)
    areq["messageVersion"] = bad
    answer = post(sim, areq)
    assert_erro(answer, "102", "messageVersion")
    assert "2.1.0, 2.2.0, 2.3.1" in answer["errorDescription"]
    assert answer["messageVersion"] == "2.3.1"  # the DS answers in a version it supports


def test_a_missing_version_is_erro_201(sim):
    areq = build_areq(VISA, messageVersion=None)
    assert_erro(post(sim, areq), "201", "messageVersion")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_duplicated_element_is_erro_204_naming_it(sim, world, version):
    text = json.dumps(build_areq(VISA, version=version))
    text = text[:-1] + ', "acctNumber": "4000000002000000"}'
    before = counts(world)
    answer = post(sim, text)
    assert_erro(answer, "204", "acctNumber")
    assert answer["messageVersion"] == version
    assert counts(world) == before


def test_a_duplicate_inside_a_nested_object_is_found_too(sim):
    areq = build_areq(VISA, channel="01")
    text = json.dumps(areq).replace('"sdkInterface": "03"', '"sdkInterface": "03", "sdkInterface": "01"')
    assert_erro(post(sim, text), "204", "sdkInterface")


# -- 201 required elements, per channel and version ------------------------------------------
ALWAYS = ["threeDSServerTransID", "threeDSServerRefNumber", "threeDSServerURL", "threeDSRequestorID",
          "threeDSRequestorName", "threeDSRequestorURL", "deviceChannel", "messageCategory", "acctNumber"]
BROWSER = ["threeDSCompInd", "browserAcceptHeader", "browserUserAgent", "notificationURL",
           "threeDSRequestorAuthenticationInd"]
APP = ["sdkAppID", "sdkEncData", "sdkEphemPubKey", "sdkMaxTimeout", "sdkReferenceNumber", "sdkTransID",
       "deviceRenderOptions", "threeDSRequestorAuthenticationInd"]
PAYMENT = ["acquirerBIN", "acquirerMerchantID", "mcc", "merchantCountryCode", "merchantName", "purchaseAmount",
           "purchaseCurrency", "purchaseExponent", "purchaseDate"]


def required_cases():
    for version, channel, category in combos():
        names = list(ALWAYS) + {"01": APP, "02": BROWSER, "03": ["threeRIInd"]}[channel]
        if category == "01":
            names += PAYMENT
        if channel == "02":
            names += {"2.1.0": ["browserLanguage", "browserJavaEnabled", "browserColorDepth", "browserScreenHeight",
                                "browserScreenWidth", "browserTZ"],
                      "2.2.0": ["browserJavascriptEnabled", "browserLanguage", "browserColorDepth"],
                      "2.3.1": ["browserJavascriptEnabled", "acceptLanguage", "browserLanguage"]}[version]
        if channel == "01" and version == "2.3.1":
            names += ["sdkType", "defaultSdkType"]
        for name in names:
            yield version, channel, category, name


@pytest.mark.parametrize("version,channel,category,name", list(required_cases()))
def test_a_missing_required_element_is_erro_201_naming_it(sim, world, version, channel, category, name):
    areq = build_areq(VISA, version=version, channel=channel, category=category, **{name: None})
    before = counts(world)
    answer = post(sim, areq)
    assert_erro(answer, "201", name)
    assert answer["errorMessageType"] == "AReq"
    if name != "threeDSServerTransID":
        assert answer["threeDSServerTransID"] == areq["threeDSServerTransID"]
    if channel == "01" and name != "sdkTransID":
        assert answer["sdkTransID"] == areq["sdkTransID"]
    assert counts(world) == before


def test_every_missing_element_is_named_at_once(sim):
    areq = build_areq(VISA, browserAcceptHeader=None, browserUserAgent=None, merchantName=None)
    answer = post(sim, areq)
    assert_erro(answer, "201")
    assert set(answer["errorDetail"].split(", ")) == {"browserAcceptHeader", "browserUserAgent", "merchantName"}


@pytest.mark.parametrize("version", ["2.2.0", "2.3.1"])
def test_screen_details_are_needed_only_when_javascript_runs(sim, version):
    lean = dict(browserJavascriptEnabled=False, browserJavaEnabled=None, browserColorDepth=None,
                browserScreenHeight=None, browserScreenWidth=None, browserTZ=None)
    if version == "2.3.1":
        lean["browserLanguage"] = None
    assert post(sim, build_areq(VISA, version=version, **lean))["messageType"] == "ARes"
    answer = post(sim, build_areq(VISA, version=version, browserTZ=None))
    assert_erro(answer, "201", "browserTZ")


def test_non_payment_needs_no_purchase_data_unless_recurring(sim):
    npa = build_areq(VISA, category="02")
    assert "purchaseAmount" not in npa
    assert post(sim, npa)["messageType"] == "ARes"
    recurring = build_areq(VISA, category="02", threeDSRequestorAuthenticationInd="02")
    answer = post(sim, recurring)
    assert_erro(answer, "201")
    assert set(answer["errorDetail"].split(", ")) >= {"purchaseAmount", "recurringExpiry", "recurringFrequency"}


def test_instalments_need_their_count_and_decoupled_needs_its_max_time(sim):
    answer = post(sim, build_areq(VISA, threeDSRequestorAuthenticationInd="03", recurringExpiry="20301231",
                                  recurringFrequency="30"))
    assert_erro(answer, "201", "purchaseInstalData")
    answer = post(sim, build_areq(VISA, threeDSRequestorDecReqInd="Y"))
    assert_erro(answer, "201", "threeDSRequestorDecMaxTime")


def test_elements_of_another_channel_are_ignored(sim):
    # An app AReq carrying browser elements (even malformed ones) is still an app AReq.
    areq = build_areq(VISA, channel="01", browserTZ="not a tz", notificationURL="nope")
    assert post(sim, areq)["messageType"] == "ARes"


# -- 203 formats and versions ----------------------------------------------------------------
FORMAT_CASES = [
    ("acctNumber", "4000-0000-0100-0001"), ("acctNumber", "400000"), ("acctNumber", 4000000001000001),
    ("threeDSServerTransID", "not-a-uuid"), ("threeDSServerURL", "ftp://3ds-server.test/rreq"),
    ("threeDSServerURL", "no url"), ("purchaseAmount", 4999), ("purchaseAmount", "49.99"),
    ("purchaseCurrency", "EUR"), ("purchaseExponent", "22"), ("purchaseDate", "20261340250000"),
    ("merchantName", "M" * 41), ("mcc", "541"), ("cardExpiryDate", "3013"), ("deviceChannel", "04"),
    ("messageCategory", "03"), ("threeDSCompInd", "X"), ("browserColorDepth", "25"),
    ("browserJavaEnabled", "false"), ("browserIP", "999.1.1.1"), ("notificationURL", "/relative"),
    ("threeDSRequestorAuthenticationInd", "42"), ("threeDSRequestorChallengeInd", "77"),
    ("email", "not-an-email"), ("transType", "02"), ("acctType", "04"), ("threeDSRequestorName", ""),
    ("mobilePhone", {"cc": "1", "subscriber": "555-0101"}), ("mobilePhone", "+16175550101"),
    ("threeDSRequestorURL", None),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name,bad", FORMAT_CASES)
def test_a_wrong_format_is_erro_203_naming_the_element(sim, world, version, name, bad):
    areq = build_areq(VISA, version=version)
    if version == "2.3.1" and name == "threeDSRequestorChallengeInd":
        bad = [bad]
    areq[name] = bad
    before = counts(world)
    answer = post(sim, areq)
    if name in ("deviceChannel", "messageCategory"):
        # With an unknown channel/category the DS cannot tell what else is required: still 203.
        assert_erro(answer, "203")
        assert name in answer["errorDetail"].split(", ")
    else:
        expected = name.split(".")[0]
        assert_erro(answer, "203")
        assert expected in answer["errorDetail"].split(", ")[0], answer
    assert counts(world) == before


def test_nested_format_errors_name_the_inner_element(sim):
    areq = build_areq(VISA, channel="01", deviceRenderOptions={"sdkInterface": "09", "sdkUiType": ["01"]})
    assert_erro(post(sim, areq), "203", "deviceRenderOptions.sdkInterface")
    areq = build_areq(VISA, channel="01", sdkMaxTimeout="04")
    assert_erro(post(sim, areq), "203", "sdkMaxTimeout")


@pytest.mark.parametrize("version,element,value", [
    ("2.1.0", "browserJavascriptEnabled", True),
    ("2.1.0", "threeDSRequestorDecReqInd", "N"),
    ("2.1.0", "whiteListStatus", "Y"),
    ("2.2.0", "trustListStatus", "Y"),
    ("2.2.0", "acceptLanguage", ["en"]),
    ("2.2.0", "taxId", "DE123"),
    ("2.3.1", "whiteListStatus", "Y"),
    ("2.1.0", "payeeOrigin", "https://shop.example"),
])
def test_an_element_of_another_version_is_erro_203(sim, version, element, value):
    areq = build_areq(VISA, version=version, **{element: value})
    answer = post(sim, areq)
    assert_erro(answer, "203", element)
    assert "not defined in this messageVersion" in answer["errorDescription"]


@pytest.mark.parametrize("version,element,value", [
    ("2.2.0", "whiteListStatus", "Y"), ("2.2.0", "whiteListStatusSource", "01"),
    ("2.3.1", "trustListStatus", "Y"), ("2.3.1", "trustListStatusSource", "01"),
    ("2.3.1", "taxId", "DE123"), ("2.2.0", "threeDSRequestorDecReqInd", "N"),
])
def test_an_element_of_its_own_version_is_accepted(sim, version, element, value):
    extra = {element: value}
    if element.endswith("Status"):
        extra[element + "Source"] = "01"
    assert post(sim, build_areq(VISA, version=version, **extra))["messageType"] == "ARes"


def test_elements_no_version_defines_are_ignored(sim):
    assert post(sim, build_areq(VISA, merchantFavouriteColour="blue"))["messageType"] == "ARes"


def test_challenge_indicator_is_an_array_only_in_2_3_1(sim):
    assert_erro(post(sim, build_areq(VISA, version="2.2.0", threeDSRequestorChallengeInd=["01"])),
                "203", "threeDSRequestorChallengeInd")
    assert_erro(post(sim, build_areq(VISA, version="2.3.1", threeDSRequestorChallengeInd="01")),
                "203", "threeDSRequestorChallengeInd")


# -- 202 / 305 / 301 -------------------------------------------------------------------------
def test_a_critical_extension_nobody_knows_is_erro_202(sim):
    ext = [{"name": "Scheme X", "id": "X-EXT-1", "criticalityIndicator": True, "data": {"k": "v"}}]
    assert_erro(post(sim, build_areq(VISA, messageExtension=ext)), "202", "X-EXT-1")
    ext[0]["criticalityIndicator"] = False
    assert post(sim, build_areq(VISA, messageExtension=ext))["messageType"] == "ARes"


def test_3ri_payment_in_2_1_0_is_erro_305(sim):
    areq = build_areq(VISA, version="2.1.0", channel="03", category="01")
    assert_erro(post(sim, areq), "305", "deviceChannel, messageCategory")


def test_a_pan_outside_every_card_range_is_erro_305(sim, world):
    before = counts(world)
    answer = post(sim, build_areq("4111111111111111"))
    assert_erro(answer, "305", "acctNumber")
    assert "not in a range" in answer["errorDescription"]
    assert counts(world) == before


def test_a_reused_threeds_server_trans_id_is_erro_301(sim, world):
    areq = build_areq(VISA)
    assert post(sim, areq)["transStatus"] == "Y"
    before = counts(world)
    again = post(sim, areq)
    assert_erro(again, "301", "threeDSServerTransID")
    assert counts(world) == before


def test_an_erro_is_journaled_under_the_transaction_it_names(sim, world):
    areq = build_areq(VISA, browserUserAgent=None)
    answer = post(sim, areq)
    entries = world.sim.journal.for_transaction(areq["threeDSServerTransID"])
    assert [(e["from"], e["to"], e["label"]) for e in entries] == [("3DS Server", "DS", "AReq"),
                                                                    ("DS", "3DS Server", "Erro")]
    assert entries[0]["body"]["acctNumber"] == "****0001"  # PAN masked in the journal
    # The DS-generated ID finds the same entries.
    assert world.sim.journal.for_transaction(answer["dsTransID"]) == entries


def test_an_oversized_body_is_erro_101(sim):
    areq = build_areq(VISA, channel="01", sdkEncData="A" * 300_000)
    assert_erro(post(sim, areq), "101", "message")


def test_parse_json_reports_duplicates_at_any_depth():
    value, dupes, problem = parse_json(b'{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}')
    assert problem is None and set(dupes) == {"a", "c"} and value["a"] == 3


def test_erro_keeps_only_well_formed_ids(sim):
    areq = build_areq(VISA, sdkTransID="nope", channel="01")
    answer = post(sim, areq)
    assert_erro(answer, "203", "sdkTransID")
    assert "sdkTransID" not in answer  # not echoed: it is not a transaction ID
    assert answer["threeDSServerTransID"] == areq["threeDSServerTransID"]


def test_the_openapi_description_documents_the_ds(sim):
    spec = sim.get("/openapi.json").get_json()
    op = spec["paths"]["/ds/areq"]["post"]
    refs = json.dumps(op["requestBody"])
    for version in ("210", "220", "231"):
        assert f"AReq{version}" in refs
    schemas = spec["components"]["schemas"]
    assert "browserAcceptHeader" in schemas["AReq220"]["properties"]
    assert "trustListStatus" in schemas["AReq231"]["properties"]
    assert "trustListStatus" not in schemas["AReq220"]["properties"]
    assert "Erro231" in json.dumps(op["responses"])


def test_uuid_helper():
    assert m.is_uuid(str(uuid.uuid4())) and not m.is_uuid("x" * 36) and not m.is_uuid(None)
