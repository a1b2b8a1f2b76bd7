Feature: 3DS challenge by SMS OTP that the issuer sends (flow D, DeliverOTP)
  D1 generates the code and hands it to the issuer backend (DeliverOTP); the bank's own SMS gateway
  sends it. The challenge-sms-issuer card always uses this mode, whatever the issuer's default.

  Scenario: The named scenario replays the sequence diagram
    When the operator runs the "challenge-sms-issuer" scenario
    Then it passes

  Scenario: The bank's gateway delivers the code, the SDK submits it
    When the 3DS Server sends a 2.1.0 app AReq for the "challenge-sms-issuer" visa test card
    Then the DS answers a challenge ARes announcing authentication type "02"
    When the 3DS SDK starts the challenge
    Then the challenge shows the one-time code screen
    When the cardholder types the one-time code from the SMS on the card's phone
    Then the SMS on the card's phone was sent by "issuer"
    And the challenge ends with a final CRes "Y"
    And the 3DS Server received an RReq with transStatus "Y" and authenticationType "02"
    And the transaction's journal shows these messages in order:
      | from           | to             | message    |
      | Cardholder     | ACS            | CReq       |
      | D1             | Issuer backend | DeliverOTP |
      | ACS            | Cardholder     | CRes       |
      | ACS            | DS             | RReq       |
