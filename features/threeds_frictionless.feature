Feature: EMV 3DS frictionless authentication through the sandbox Directory Server
  As the team behind a merchant's 3DS Server I point it at the sandbox DS (`POST /ds/areq`) and get
  what a certified DS and ACS answer: an ARes for every outcome the test cards stand for, the
  issuer told about it, and an Erro naming the element when my AReq is wrong.

  Scenario: The named frictionless scenario replays flow B
    When the operator runs the "frictionless" scenario
    Then it passes

  Scenario Outline: A test card gets its outcome in every version and channel
    When the 3DS Server sends a <version> <channel> AReq for the "<behavior>" <scheme> test card
    Then the DS answers an ARes with transStatus "<status>", reason "<reason>" and ECI "<eci>"

    Examples:
      | version | channel | behavior          | scheme     | status | reason | eci |
      | 2.1.0   | browser | frictionless      | visa       | Y      | -      | 05  |
      | 2.2.0   | app     | frictionless      | visa       | Y      | -      | 05  |
      | 2.3.1   | browser | frictionless      | mastercard | Y      | -      | 02  |
      | 2.2.0   | browser | attempted         | visa       | A      | -      | 06  |
      | 2.3.1   | app     | not-authenticated | visa       | N      | 01     | 07  |
      | 2.2.0   | browser | rejected          | visa       | R      | 11     | -   |
      | 2.1.0   | app     | unavailable       | visa       | U      | 08     | -   |
      | 2.2.0   | 3RI     | frictionless      | visa       | I      | -      | -   |

  Scenario: The issuer backend is told the outcome and the journal shows every message
    When the 3DS Server sends a 2.2.0 browser AReq for the "frictionless" visa test card
    And D1 delivers what its outbox owes
    Then the issuer backend received a 3DS notification with transStatus "Y" and challenge method "FRICTIONLESS"
    And the transaction's journal shows these messages in order:
      | from           | to             | message          |
      | 3DS Server     | DS             | AReq             |
      | DS             | ACS            | AReq             |
      | ACS            | DS             | ARes             |
      | DS             | 3DS Server     | ARes             |
      | D1             | Issuer backend | 3ds-notification |

  Scenario: A PAN in the demo range without a card is not enrolled
    When the 3DS Server sends a 2.2.0 browser AReq for the card number "4000000097000006"
    Then the DS answers an ARes with transStatus "U", reason "13" and ECI "-"

  Scenario Outline: A malformed AReq gets the Erro a certified DS gives
    When the 3DS Server sends a 2.2.0 browser AReq for the "frictionless" visa test card with <change>
    Then the DS answers an Erro <code> naming "<detail>"

    Examples:
      | change                          | code | detail              |
      | no browserAcceptHeader          | 201  | browserAcceptHeader |
      | purchaseAmount "49.99"          | 203  | purchaseAmount      |
      | messageVersion "2.0.1"          | 102  | messageVersion      |
      | acctNumber "4111111111111111"   | 305  | acctNumber          |
      | trustListStatus "Y"             | 203  | trustListStatus     |
