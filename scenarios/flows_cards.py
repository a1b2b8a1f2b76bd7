"""Named scenario for Flow A (card lifecycle), replayed through the bank operator's driver."""

from __future__ import annotations

from .client import Sandbox, ScenarioFailed
from .issuer_admin import DirectoryServerProbe, IssuerAdmin, directory_server_available, fresh_id, fresh_pan
from .registry import scenario


@scenario("card-lifecycle", "Flow A: the bank creates a consumer and a card (registered in D1 with its OAuth2 "
                            "token), renews, replaces and deletes it; the DS stops authenticating retired PANs")
def card_lifecycle(sb: Sandbox) -> dict:
    admin = IssuerAdmin(sb)
    consumer_id, card_id, new_card_id = fresh_id("consumer"), fresh_id("card"), fresh_id("card")
    pan, new_pan = fresh_pan(), fresh_pan()
    ds = DirectoryServerProbe(sb) if directory_server_available(sb) else None

    admin.create_consumer(consumer_id)
    issued = admin.issue_card(card_id, consumer_id, pan, "3012")
    if issued["d1"]["state"] != "ACTIVE" or issued["d1"]["maskedPan"] != "****" + pan[-4:]:
        raise ScenarioFailed(f"D1 did not register the card as expected: {issued['d1']}")
    first = ds.expect_authenticated(pan, "3012") if ds else None

    renewed = admin.renew(card_id, "3212")
    if renewed["d1"]["expiry"] != "3212" or renewed["d1"]["cardId"] != card_id:
        raise ScenarioFailed("renew did not keep the card and move its expiry")

    replaced = admin.replace(card_id, new_pan, "3312", new_card_id)
    if replaced["d1"]["replaces"] != card_id:
        raise ScenarioFailed("the new card is not linked to the one it replaces")
    old = admin.expect_state(card_id, "REPLACED")
    if old["replacedBy"] != new_card_id:
        raise ScenarioFailed("the replaced card does not name its replacement")
    if ds:
        ds.expect_unknown(pan, "3212")
        ds.expect_authenticated(new_pan, "3312")

    admin.delete(new_card_id)
    admin.expect_state(new_card_id, "DELETED")
    if ds:
        ds.expect_unknown(new_pan, "3312")
    refused = admin.try_renew(new_card_id, "3412")
    if refused.status_code != 409:
        raise ScenarioFailed(f"renewing a deleted card answered {refused.status_code}, expected 409")

    history = admin.threeds_operations(card_id)
    if first is not None and first["_threeDSServerTransID"] not in {
            op["threeDSServerTransID"] for op in history["operations"]}:
        raise ScenarioFailed("the card's 3DS history lacks its authentication")
    return {"transaction": card_id, "cardId": card_id, "replacementCardId": new_card_id, "consumerId": consumer_id,
            "directoryServerChecked": ds is not None, "threeDSOperations": len(history["operations"])}
