"""Directory Server routing by card range: configurable per issuer, longest prefix first, and the
answer for a PAN that belongs to nobody."""

from __future__ import annotations

import threeds_support

from d1sandbox import demo
from scenarios.threeds_server import build_areq
from simulator.threeds.ds import CardRanges

# One world per module, reset before each test (tests/threeds_support.py).
shared_world, world, sim, issuer = (threeds_support.shared_world, threeds_support.world, threeds_support.sim,
                                    threeds_support.issuer)


def table(*products_by_issuer):
    configs = {}
    for issuer, products in products_by_issuer:
        configs[issuer] = {"card_products": products}
    return CardRanges.from_configs(configs)


def test_a_pan_routes_by_its_prefix():
    ranges = table(("bank-a", [{"name": "A", "scheme": "visa", "bin_ranges": [{"start": "400000", "end": "400099"}]}]),
                   ("bank-b", [{"name": "B", "scheme": "mastercard",
                                "bin_ranges": [{"start": "510000", "end": "559999"}]}]))
    assert ranges.route("4000500000000000").issuer_id == "bank-a"
    assert ranges.route("4001000000000000") is None
    route = ranges.route("5500000000000004")
    assert (route.issuer_id, route.scheme, route.product) == ("bank-b", "mastercard", "B")
    assert ranges.route("3400000000000009") is None


def test_the_longest_prefix_wins():
    ranges = table(("wide", [{"name": "W", "scheme": "visa", "bin_ranges": [{"start": "400000", "end": "499999"}]}]),
                   ("narrow", [{"name": "N", "scheme": "visa",
                                "bin_ranges": [{"start": "40000012", "end": "40000012"}]}]))
    assert ranges.route("4000001200000000").issuer_id == "narrow"
    assert ranges.route("4000001300000000").issuer_id == "wide"


def test_malformed_ranges_are_skipped():
    ranges = table(("x", [{"name": "X", "scheme": "visa", "bin_ranges": [
        {"start": "4000", "end": "40"}, {"start": "499999", "end": "400000"}, {"start": "abc", "end": "def"}]}]))
    assert len(ranges) == 0


def test_a_newly_onboarded_issuer_gets_its_range_at_once(sim):
    pan = demo.with_check_digit("423456000000001")
    before = sim.post("/ds/areq", json=build_areq(pan)).get_json()
    assert before["errorCode"] == "305"
    resp = sim.put("/sandbox/issuers/acme-bank", json={
        "name": "Acme Bank", "backend": {"url": "http://acme.example"},
        "card_products": [{"name": "Acme Visa", "scheme": "visa",
                           "bin_ranges": [{"start": "423456", "end": "423456"}]}]})
    assert resp.status_code == 200, resp.get_json()
    after = sim.post("/ds/areq", json=build_areq(pan)).get_json()
    # Routed to Acme's ACS, which has no card for that PAN: not enrolled.
    assert (after["messageType"], after["transStatus"], after["transStatusReason"]) == ("ARes", "U", "13")


def test_changing_the_demo_ranges_reroutes(sim):
    resp = sim.put("/sandbox/issuers/demo-issuer", json={
        "card_products": [{"name": "Only MC", "scheme": "mastercard",
                           "bin_ranges": [{"start": "510000", "end": "510000"}]}]})
    assert resp.status_code == 200
    visa = sim.post("/ds/areq", json=build_areq("4000000001000001")).get_json()
    assert visa["errorCode"] == "305"
    mc = sim.post("/ds/areq", json=build_areq("5100000012000004")).get_json()
    assert mc["transStatus"] == "Y" and mc["eci"] == "02"


def test_ds_ids_are_fresh_per_areq(sim):
    a = sim.post("/ds/areq", json=build_areq("4000000001000001")).get_json()
    b = sim.post("/ds/areq", json=build_areq("4000000001000001")).get_json()
    assert len({a["dsTransID"], b["dsTransID"], a["acsTransID"], b["acsTransID"]}) == 4
