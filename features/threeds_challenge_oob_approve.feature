Feature: 3DS challenge approved out of band in the issuer's banking app (flow C, app channel)
  As the issuer's integration team I see D1 ask my backend to push an approval to my app, my
  cardholder approve it, and the payment authenticated — with the RReq to the merchant's 3DS
  Server and the outcome notified to my backend.

  Scenario: The named scenario replays the sequence diagram
    When the operator runs the "challenge-oob-approve" scenario
    Then it passes

  Scenario: Approve in the app, continue in the SDK
    When the 3DS Server sends a 2.2.0 app AReq for the "challenge-oob" visa test card
    Then the DS answers a challenge ARes announcing authentication type "03"
    When the 3DS SDK starts the challenge
    Then the challenge shows the OOB screen
    And the challenge tells the cardholder "Open the Demo Bank app"
    When the 3DS SDK sends oobContinue
    Then the challenge shows the OOB screen
    And the challenge tells the cardholder "still waiting"
    When the cardholder approves the payment in the banking app
    And the 3DS SDK sends oobContinue
    Then the challenge ends with a final CRes "Y"
    And the 3DS Server received an RReq with transStatus "Y" and authenticationType "03"
    And the issuer backend received a 3DS notification with transStatus "Y" and challenge method "OOB"
    And the transaction's journal shows these messages in order:
      | from           | to             | message          |
      | 3DS Server     | DS             | AReq             |
      | DS             | 3DS Server     | ARes             |
      | Cardholder     | ACS            | CReq             |
      | D1             | Issuer backend | authentication   |
      | ACS            | Cardholder     | CRes             |
      | D1             | Issuer backend | authentication-result |
      | ACS            | DS             | RReq             |
      | DS             | 3DS Server     | RReq             |
      | DS             | ACS            | RRes             |
      | D1             | Issuer backend | 3ds-notification |
