Feature: The sandbox comes up ready for integration work
  As an integration engineer I start the sandbox and find a demo issuer with test cards,
  so that I can rehearse every flow without configuring anything.

  Scenario: Both services are healthy with the demo issuer seeded
    When the operator runs the "smoke" scenario
    Then it passes
    And the sandbox publishes at least 11 test cards
