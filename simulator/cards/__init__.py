"""D1's card registry (create/register/renew/replace/delete), the 3DS operation history and OOB
authenticators. Rules in `models.py` (and `history.py`, `authenticators.py`); HTTP in `routes.py`."""
