"""Steps of the card lifecycle feature (Flow A). Thin: the work is in scenarios/issuer_admin.py."""

from behave import given, then, when

from scenarios.issuer_admin import (
    D1Inbound,
    DirectoryServerProbe,
    IssuerAdmin,
    directory_server_available,
    fresh_id,
    fresh_pan,
)


def _admin(context) -> IssuerAdmin:
    if not hasattr(context, "issuer_admin"):
        context.issuer_admin = IssuerAdmin(context.sandbox)
    return context.issuer_admin


def _ds(context):
    """The DS probe, or None when this simulator has no DS (then D1's card state is checked instead)."""
    if not hasattr(context, "ds_probe"):
        context.ds_probe = DirectoryServerProbe(context.sandbox) if directory_server_available(context.sandbox) \
            else None
    return context.ds_probe


@given("the bank has a new consumer in its back office")
def step_new_consumer(context):
    context.lifecycle = {"consumer": fresh_id("consumer")}
    _admin(context).create_consumer(context.lifecycle["consumer"])
    context.facts["consumerId"] = context.lifecycle["consumer"]


@when("the bank issues a card to that consumer")
def step_issue_card(context):
    lc = context.lifecycle
    lc.update(card=fresh_id("card"), pan=fresh_pan(), expiry="3012")
    context.issued = _admin(context).issue_card(lc["card"], lc["consumer"], lc["pan"], lc["expiry"])
    context.facts.update(transaction=lc["card"], cardId=lc["card"])


@when("the bank issues the same card again")
def step_issue_same_card(context):
    lc = context.lifecycle
    again = _admin(context).issue_card(lc["card"], lc["consumer"], lc["pan"], lc["expiry"])
    assert again["d1"] == context.issued["d1"], (again["d1"], context.issued["d1"])


@then("D1 holds the card as ACTIVE, showing only its last four digits")
def step_card_active(context):
    lc = context.lifecycle
    card = _admin(context).expect_state(lc["card"], "ACTIVE")
    assert card["maskedPan"] == "****" + lc["pan"][-4:] and "pan" not in card
    assert lc["pan"] not in str(context.sandbox.trace[-1].response)


@then("the Directory Server authenticates the card's PAN")
def step_ds_knows_card(context):
    lc = context.lifecycle
    if _ds(context):
        lc["first_ares"] = _ds(context).expect_authenticated(lc["pan"], lc["expiry"])
    else:
        _admin(context).expect_state(lc["card"], "ACTIVE")


@when('the bank renews the card until "{expiry}"')
def step_renew(context, expiry):
    context.lifecycle["expiry"] = expiry
    context.renewed = _admin(context).renew(context.lifecycle["card"], expiry)


@then('D1 holds the same card with expiry "{expiry}"')
def step_renewed(context, expiry):
    card = _admin(context).expect_state(context.lifecycle["card"], "ACTIVE")
    assert card["expiry"] == expiry and card["cardId"] == context.lifecycle["card"], card


@when("the bank replaces the card with a new PAN")
def step_replace(context):
    lc = context.lifecycle
    lc.update(new_card=fresh_id("card"), new_pan=fresh_pan(), new_expiry="3312")
    context.replaced = _admin(context).replace(lc["card"], lc["new_pan"], lc["new_expiry"], lc["new_card"])
    context.facts["replacementCardId"] = lc["new_card"]


@then("D1 holds the old card as REPLACED, linked to the new card")
def step_replaced(context):
    lc = context.lifecycle
    old = _admin(context).expect_state(lc["card"], "REPLACED")
    new = _admin(context).expect_state(lc["new_card"], "ACTIVE")
    assert old["replacedBy"] == lc["new_card"] and new["replaces"] == lc["card"], (old, new)
    assert new["consumerId"] == lc["consumer"]


@then("the Directory Server no longer knows the old card's PAN")
def step_ds_forgot_old(context):
    lc = context.lifecycle
    if _ds(context):
        _ds(context).expect_unknown(lc["pan"], lc["expiry"])
    else:
        _admin(context).expect_state(lc["card"], "REPLACED")


@then("the Directory Server authenticates the new card's PAN")
def step_ds_knows_new(context):
    lc = context.lifecycle
    if _ds(context):
        _ds(context).expect_authenticated(lc["new_pan"], lc["new_expiry"])
    else:
        _admin(context).expect_state(lc["new_card"], "ACTIVE")


@when("the bank deletes the new card")
def step_delete(context):
    _admin(context).delete(context.lifecycle["new_card"])


@then("D1 holds the new card as DELETED")
def step_deleted(context):
    _admin(context).expect_state(context.lifecycle["new_card"], "DELETED")


@then("the Directory Server no longer knows the new card's PAN")
def step_ds_forgot_new(context):
    lc = context.lifecycle
    if _ds(context):
        _ds(context).expect_unknown(lc["new_pan"], lc["new_expiry"])
    else:
        _admin(context).expect_state(lc["new_card"], "DELETED")


@then("renewing the deleted card is refused with HTTP {status:d}")
def step_renew_deleted(context, status):
    resp = _admin(context).try_renew(context.lifecycle["new_card"], "3412")
    assert resp.status_code == status and resp.json()["error"] == "card_deleted", (resp.status_code, resp.text)


@then("the old card's 3DS history in D1 lists its authentication")
def step_history(context):
    lc = context.lifecycle
    operations = _admin(context).threeds_operations(lc["card"])["operations"]
    if "first_ares" in lc:
        ids = [op["threeDSServerTransID"] for op in operations]
        assert lc["first_ares"]["_threeDSServerTransID"] in ids, ids
        first = next(op for op in operations if op["threeDSServerTransID"] == lc["first_ares"]["_threeDSServerTransID"])
        assert first["transStatus"] == "Y" and first["status"] == "COMPLETED", first
    else:  # no DS in this build: the history exists and is empty
        assert operations == [], operations


@then('D1\'s audit trail of the card reads "{operations}"')
def step_audit(context, operations):
    trail = [entry["operation"] for entry in D1Inbound(context.sandbox).audit(context.lifecycle["card"])]
    assert trail == [op.strip() for op in operations.split(",")], trail


@when("the bank tries to issue a card whose PAN is outside its card ranges")
def step_issue_outside(context):
    from d1sandbox.demo import with_check_digit

    lc = context.lifecycle
    lc.update(card=fresh_id("card"), pan=with_check_digit("411111111111111"))
    context.response = context.sandbox.issuer("Bank operator", "POST", "/admin/cards", json_body={
        "cardId": lc["card"], "consumerId": lc["consumer"], "pan": lc["pan"], "expiry": "3012"})


@then('the back office answers HTTP {status:d} naming the field "{field}"')
def step_refused_field(context, status, field):
    resp = context.response
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert field in resp.json().get("fields", {}), resp.json()


@then("neither the bank nor D1 holds that card")
def step_nothing_written(context):
    card_id = context.lifecycle["card"]
    assert context.sandbox.issuer("Bank operator", "GET", f"/admin/cards/{card_id}").status_code == 404
    assert D1Inbound(context.sandbox).card(card_id).status_code == 404


@when("the wallet tokenizes that card")
def step_tokenize_lifecycle_card(context):
    from scenarios.wallet import Wallet

    lc = context.lifecycle
    context.wallet = getattr(context, "wallet", None) or Wallet(context.sandbox)
    context.card = {"cardId": lc["card"], "consumerId": lc["consumer"]}
    context.answer = context.wallet.tokenize(context.card)
    context.token_ref = context.answer["tokenRefId"]
    context.facts["tokenRefId"] = context.token_ref


@when("the bank deletes the card")
def step_delete_card(context):
    _admin(context).delete(context.lifecycle["card"])
