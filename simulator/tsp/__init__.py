"""TSP: the payment network's token service — tokenization decisions, step-up OTP (from the one OTP
engine, delivered through the one messaging service), activation and the token lifecycle.
`decision.py` holds the rules, `service.py` the state, `routes.py` the HTTP."""
