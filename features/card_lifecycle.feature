Feature: Card lifecycle between the bank and D1 (Flow A)
  As an issuer's integration engineer I issue, renew, replace and delete cards from the bank's back
  office, so that D1 — and the Directory Server behind it — always know exactly the cards the bank
  has live, and nothing else.

  Background:
    Given the bank has a new consumer in its back office

  Scenario: A card is registered in D1, renewed, replaced and deleted
    When the bank issues a card to that consumer
    Then D1 holds the card as ACTIVE, showing only its last four digits
    And the Directory Server authenticates the card's PAN
    When the bank renews the card until "3212"
    Then D1 holds the same card with expiry "3212"
    When the bank replaces the card with a new PAN
    Then D1 holds the old card as REPLACED, linked to the new card
    And the Directory Server no longer knows the old card's PAN
    And the Directory Server authenticates the new card's PAN
    When the bank deletes the new card
    Then D1 holds the new card as DELETED
    And the Directory Server no longer knows the new card's PAN
    And renewing the deleted card is refused with HTTP 409
    And the old card's 3DS history in D1 lists its authentication

  Scenario: Repeated lifecycle requests answer the same and change nothing twice
    When the bank issues a card to that consumer
    And the bank issues the same card again
    And the bank renews the card until "3212"
    And the bank renews the card until "3212"
    Then D1's audit trail of the card reads "register, renew"

  Scenario: D1 refuses a card outside the bank's card ranges and nothing is half-written
    When the bank tries to issue a card whose PAN is outside its card ranges
    Then the back office answers HTTP 422 naming the field "pan"
    And neither the bank nor D1 holds that card

  Scenario: Deleting a card deletes the tokens wallets hold for it
    When the bank issues a card to that consumer
    And the wallet tokenizes that card
    Then the TSP decides "APPROVED" and the token is "ACTIVE"
    When the bank deletes the card
    Then the token is "DELETED" for the wallet and for the issuer
    And the issuer backend was told "TOKEN_CREATED, TOKEN_ACTIVATED, TOKEN_DELETED" about the token

  Scenario: The named card-lifecycle scenario replays Flow A
    When the operator runs the "card-lifecycle" scenario
    Then it passes
