Feature: 3DS browser challenge in the cardholder's language (browser channel)
  The creq form-posted to the acsURL opens a page sized by challengeWindowSize, in the browser's
  language; the OOB page polls while the cardholder approves in the app; the last page posts the
  cres and the untouched threeDSSessionData to the merchant's notificationURL.

  Scenario: The named scenario replays the sequence diagram
    When the operator runs the "challenge-browser" scenario
    Then it passes

  Scenario: A Japanese browser approves in the app while the page polls
    When the 3DS Server sends a 2.3.1 browser AReq for the "challenge-oob" visa test card from a "ja-JP" browser
    Then the DS answers a challenge ARes announcing authentication type "03"
    When the cardholder's browser opens the challenge in window "02" with threeDSSessionData "cart=42&step=3ds"
    Then the challenge shows the OOB screen
    And the challenge page is in "ja" and sized 390x400
    When the cardholder approves the payment in the banking app
    And the challenge page polls the ACS
    Then the poll says the challenge is over
    When the cardholder presses "continue" on the challenge page
    Then the challenge ends with a final CRes "Y"
    And the merchant's notification URL received threeDSSessionData "cart=42&step=3ds" unchanged
    And the 3DS Server received an RReq with transStatus "Y" and authenticationType "03"

  Scenario: The cardholder cancels on the page
    When the 3DS Server sends a 2.2.0 browser AReq for the "challenge-sms-d1" visa test card
    And the cardholder's browser opens the challenge in window "01" with threeDSSessionData "x"
    And the cardholder presses "cancel" on the challenge page
    Then the challenge ends with a final CRes "N"
    And the 3DS Server received an RReq with transStatus "N" and authenticationType "02"
