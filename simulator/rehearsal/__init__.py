"""Certification rehearsal: D1's outbound calls against an issuer backend, judged case by case.

`plan` (the cases), `checks` (pure judgement of answers), `runner` (the probe over D1's outbound
client), `report` (text / JSON / JUnit XML), `service` + `routes` (`POST /sandbox/rehearsals`)."""
