"""EMV 3DS: the Directory Server and the ACS (frictionless decisions, challenges, RReq).

messages.py (the message tables and schemas) · validation.py (bytes → message or Erro) · ds.py
(card-range routing) · acs.py (pure decisions) · service.py (AReq → ARes, end of a challenge) ·
transactions.py (state machine) · rreq.py (RReq/RRes) · timers.py (challenge deadlines) ·
routes.py (HTTP)."""
