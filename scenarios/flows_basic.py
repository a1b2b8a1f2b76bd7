"""The named scenarios, each replaying one sequence diagram through the actor drivers."""

from __future__ import annotations

from .client import Sandbox, ScenarioFailed
from .registry import scenario


@scenario("smoke", "Both services healthy, demo issuer onboarded, test cards published")
def smoke(sb: Sandbox) -> dict:
    sb.sim("Operator", "GET", "/health", expect=200)
    sb.issuer("Operator", "GET", "/health", expect=200)
    cards = sb.sim("Operator", "GET", "/sandbox/test-cards", expect=200).json()
    behaviors = {card["behavior"] for card in cards}
    if "frictionless" not in behaviors:
        raise ScenarioFailed("the demo test cards lack a frictionless card")
    issuers = sb.sim("Operator", "GET", "/sandbox/issuers", expect=200).json()
    if not issuers:
        raise ScenarioFailed("no issuer is onboarded")
    return {"test_cards": len(cards), "issuers": [i["issuerId"] for i in issuers]}
