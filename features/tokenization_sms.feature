Feature: Tokenization with OTP step-up by SMS
  As a wallet I add a card to a phone; the payment network's TSP asks for a step-up, generates an OTP
  and has it sent to the cardholder by SMS — by D1 on the issuer's behalf, or by the issuer itself —
  and activates the token when the cardholder types it in.

  Scenario: The named SMS step-up scenario replays the whole flow
    When the operator runs the "tsp-stepup-sms" scenario
    Then it passes

  Scenario: D1 sends the SMS and the wallet activates the token
    When the wallet tokenizes the "stepup-sms" test card
    Then the TSP decides "REQUIRE_STEP_UP" offering only a masked SMS step-up method
    When the wallet asks for the activation OTP by SMS
    Then the cardholder receives an SMS sent by "d1" from "DemoBank" naming the card's last four digits
    When the wallet activates the token with the OTP the cardholder received
    Then the token is "ACTIVE" for the wallet and for the issuer
    And the issuer backend was told "TOKEN_CREATED, TOKEN_ACTIVATED" about the token

  Scenario: The issuer's own gateway sends the SMS (DeliverOTP)
    Given the demo issuer delivers step-up OTPs itself
    When the wallet tokenizes the "stepup-sms" test card
    And the wallet asks for the activation OTP by SMS
    Then the cardholder receives an SMS sent by "issuer" from "DemoBank" naming the card's last four digits
    When the wallet activates the token with the OTP the cardholder received
    Then the token is "ACTIVE" for the wallet and for the issuer

  Scenario: Wrong codes use up the attempts and the token is declined
    When the wallet tokenizes the "stepup-sms" test card
    And the wallet asks for the activation OTP by SMS
    And the wallet activates the token with a wrong OTP 3 times
    Then the last activation is refused with 403 "otp_attempts_exhausted"
    And the token is "DECLINED" for the wallet and for the issuer
    And the issuer backend was told "TOKEN_CREATED, TOKEN_DECLINED" about the token

  Scenario: An expired code is refused, a resent one activates the token
    When the wallet tokenizes the "stepup-sms" test card
    And the wallet asks for the activation OTP by SMS
    And the OTP lifetime of 5 minutes passes on the sandbox clock
    And the wallet activates the token with the OTP the cardholder received
    Then the last activation is refused with 400 "otp_expired"
    When the wallet asks for the activation OTP by SMS
    And the wallet activates the token with the OTP the cardholder received
    Then the token is "ACTIVE" for the wallet and for the issuer

  Scenario: When the primary SMS provider is down the fallback provider delivers
    Given the primary SMS provider fails with HTTP 503
    When the wallet tokenizes the "stepup-sms" test card
    And the wallet asks for the activation OTP by SMS
    Then the cardholder's SMS was delivered by "Sandbox SMS gateway B"

  Scenario: Approve and decline without step-up
    When the wallet tokenizes the "frictionless" test card
    Then the TSP decides "APPROVED" and the token is "ACTIVE"
    When the wallet tokenizes the "rejected" test card
    Then the TSP decides "DECLINED" and the token is "DECLINED"
