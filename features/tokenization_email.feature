Feature: Tokenization with OTP step-up by email
  D1 emails the OTP on the issuer's behalf from the issuer's sending subdomain, in the cardholder's
  language — but only once the issuer's DNS zone publishes the records D1 generated for it.

  Scenario: The named email step-up scenario replays the whole flow
    When the operator runs the "tsp-stepup-email" scenario
    Then it passes

  Scenario: A Japanese cardholder receives the OTP email in Japanese and activates the token
    When the wallet tokenizes the "stepup-email" test card
    Then the TSP decides "REQUIRE_STEP_UP" offering only a masked EMAIL step-up method
    When the wallet asks for the activation OTP by email
    Then the cardholder receives an email from "no-reply@email.demobank.example" with the subject "Demo Bank 確認コードのお知らせ"
    And the email is in Japanese and names the card's last four digits
    When the wallet activates the token with the OTP the cardholder received
    Then the token is "ACTIVE" for the wallet and for the issuer

  Scenario: Without the DNS records the email is not sent and the error names what is missing
    Given the demo issuer's "DKIM" DNS record is withdrawn from its zone
    When the wallet tokenizes the "stepup-email" test card
    And the wallet asks for the activation OTP by email
    Then the OTP request is refused with 409 "email_domain_not_ready" naming the "DKIM" record
    And the cardholder's mailbox shows the email as blocked
    When the demo issuer publishes the DNS records D1 generated
    And the wallet asks for the activation OTP by email
    And the wallet activates the token with the OTP the cardholder received
    Then the token is "ACTIVE" for the wallet and for the issuer

  Scenario: The issuer's own gateway sends the email (DeliverOTP), no D1 DNS records needed
    Given the demo issuer delivers step-up OTPs itself
    And the demo issuer's "DKIM" DNS record is withdrawn from its zone
    When the wallet tokenizes the "stepup-email" test card
    And the wallet asks for the activation OTP by email
    Then the cardholder receives an email sent by the issuer
    When the wallet activates the token with the OTP the cardholder received
    Then the token is "ACTIVE" for the wallet and for the issuer
