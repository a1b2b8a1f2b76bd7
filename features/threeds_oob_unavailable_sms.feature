Feature: OOB unavailable, the challenge falls back to SMS OTP (flow D)
  "When a 3DS transaction is challenged and the OOB flow is unavailable, the D1 3DS service falls
  back to the SMS OTP challenge." The demo consumer-0005 has an app, but the reference issuer cannot
  reach it (503 app_unreachable).

  Scenario: The named scenario replays the sequence diagram
    When the operator runs the "oob-unavailable-sms" scenario
    Then it passes

  Scenario: The banking app cannot be reached, a code comes by SMS instead
    When the 3DS Server sends a 2.3.1 app AReq for the "oob-unavailable" visa test card
    Then the DS answers a challenge ARes announcing authentication type "03"
    When the 3DS SDK starts the challenge
    Then the challenge shows the one-time code screen
    And the challenge tells the cardholder "could not reach your banking app"
    When the cardholder types the one-time code from the SMS on the card's phone
    Then the SMS on the card's phone was sent by "d1"
    And the challenge ends with a final CRes "Y"
    And the 3DS Server received an RReq with transStatus "Y" and authenticationType "02"
    And the issuer backend received a 3DS notification with transStatus "Y" and challenge method "SMS_OTP"
