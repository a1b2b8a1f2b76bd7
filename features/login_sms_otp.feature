Feature: One-time login with SMS OTP and OIDC tokens (Mosaic-style)
  As an app developer I log my users in with a one-time code sent by SMS, and get standard OpenID
  Connect tokens that any JWT library can verify against the provider's published keys.

  Scenario: The named login scenario replays the whole flow
    When the operator runs the "login-sms-otp" scenario
    Then it passes

  Scenario: A new user signs up by SMS code and receives a verifiable ID token
    Given a login app "shop-app" with public sign-ups and the redirect URI "https://shop.example/verify"
    When the login app sends an SMS login code to "+16175550151" creating a new user
    And the user reads the login code in the SMS received on "+16175550151"
    And the login app validates that login code for "+16175550151"
    And the login app follows the validation result URI
    Then the browser is sent to "https://shop.example/verify" with an authorization code
    When the login app exchanges the authorization code at the token endpoint
    Then the ID token verifies against the provider's JWKS and names the phone "+16175550151"
    And exchanging the same authorization code again is refused with "invalid_grant"

  Scenario: The SMS uses the app's custom message and sender ID
    Given a login app "brand-app" with public sign-ups and the redirect URI "https://brand.example/cb"
    When the login app sends an SMS login code to the demo login user with the message "{app} code: {otp}" from "BRAND"
    Then the SMS on the demo login user's phone comes from "BRAND" and reads "Scenario App code: <otp>"

  Scenario: Too many wrong codes lock the phone number out until the lockout ends
    Given a login app "strict-app" that locks a phone out for 10 minutes after 2 wrong codes
    When the login app sends an SMS login code to the demo login user
    And the login app validates a wrong login code for the demo login user 2 times
    Then the last validation answers 429 "otp_locked"
    And a new SMS login code for the demo login user is refused with 429 "otp_locked"
    When the 10 minute login lockout passes on the sandbox clock
    Then the demo login user logs in to the login app

  Scenario: A redirect URI outside the app's allowlist is refused
    Given a login app "tight-app" with public sign-ups and the redirect URI "https://tight.example/cb"
    When the login app sends an SMS login code to the demo login user for the redirect URI "https://tight.example/cb/evil"
    Then the send request is refused with 400 "invalid_request"
