Feature: 3DS challenge declined out of band in the issuer's banking app (flow C, browser channel)
  When the cardholder declines in the banking app, the challenge page ends the payment as not
  authenticated and hands the result back to the merchant.

  Scenario: The named scenario replays the sequence diagram
    When the operator runs the "challenge-oob-decline" scenario
    Then it passes

  Scenario: Decline in the app, continue on the page
    When the 3DS Server sends a 2.2.0 browser AReq for the "challenge-oob" visa test card
    Then the DS answers a challenge ARes announcing authentication type "03"
    When the cardholder's browser opens the challenge in window "03" with threeDSSessionData "order-1001"
    Then the challenge shows the OOB screen
    When the cardholder declines the payment in the banking app
    And the cardholder presses "continue" on the challenge page
    Then the challenge ends with a final CRes "N"
    And the merchant's notification URL received threeDSSessionData "order-1001" unchanged
    And the 3DS Server received an RReq with transStatus "N" and authenticationType "03"
    And the issuer backend received a 3DS notification with transStatus "N" and challenge method "OOB"
