Feature: 3DS challenge by SMS OTP that D1 sends (flow D, D1 delivery)
  D1 generates the code with the issuer's OTP policy and sends the SMS itself, with the issuer's
  template and sender ID, to the phone number the issuer backend provides.

  Scenario: The named scenario replays the sequence diagram
    When the operator runs the "challenge-sms-d1" scenario
    Then it passes

  Scenario: A wrong code, then the right one, in the browser
    When the 3DS Server sends a 2.2.0 browser AReq for the "challenge-sms-d1" visa test card
    Then the DS answers a challenge ARes announcing authentication type "02"
    When the cardholder's browser opens the challenge in window "05" with threeDSSessionData "basket-7"
    Then the challenge shows the one-time code screen
    When the cardholder types a wrong one-time code from the SMS on the card's phone
    Then the challenge shows the one-time code screen
    And the challenge tells the cardholder "Attempts left: 2"
    When the cardholder types the one-time code from the SMS on the card's phone
    Then the SMS on the card's phone was sent by "d1"
    And the challenge ends with a final CRes "Y"
    And the 3DS Server received an RReq with transStatus "Y" and authenticationType "02"
    And the issuer backend received a 3DS notification with transStatus "Y" and challenge method "SMS_OTP"
