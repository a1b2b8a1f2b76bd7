Feature: Certification rehearsal against your own issuer backend
  As an issuer integration team I point D1's outbound calls at the backend we are building and get a
  pass/fail report per case, with the request and the answer as evidence, before the real
  certification does it for us.

  Scenario: The reference issuer backend passes every case
    When the operator rehearses certification against the reference issuer backend
    Then every rehearsal case passes
    And the rehearsal's messages include the issuer's own SMS gateway sending the OTP

  Scenario Outline: A backend with a typical mistake fails exactly the cases that mistake breaks
    Given an issuer backend that makes the mistake "<mistake>"
    When the operator rehearses certification against that backend
    Then exactly the rehearsal cases "<failing>" fail
    And each failed rehearsal case shows the request and the answer as evidence

    Examples:
      | mistake                               | failing                   |
      | no_auth_check                         | AUTH-03, AUTH-04          |
      | accepts_any_token                     | AUTH-04                   |
      | token_accepts_wrong_secret            | AUTH-02                   |
      | consumer_bad_phone                    | CONS-01                   |
      | unknown_consumer_200                  | CONS-02                   |
      | otp_500                               | OTP-01                    |
      | otp_accepts_malformed                 | OTP-02                    |
      | authentication_not_pending            | AUTHN-01, AUTHN-02        |
      | html_404                              | CONS-02, OTP-03, AUTHN-03 |
      | threeds_notification_accept_malformed | TDS-02                    |
      | notifications_reject_duplicates       | NOTIF-03                  |
      | authentication_not_idempotent         | AUTHN-05                  |
