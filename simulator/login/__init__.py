"""One-time login (Mosaic-style "login with SMS OTP") and the OIDC provider behind it.

Domain objects hold the rules and know nothing of HTTP:
  apps.py (login apps and their OTP policy), users.py, keys.py (the RS256 signing key and JWKS),
  oidc.py (authorization codes, access/ID tokens, userinfo), service.py (send / validate / result),
  delivery.py (how the SMS leaves D1), errors.py (OAuth2-style error answers).
HTTP lives in routes.py (`/cis/v1/auth/...`) and oidc_routes.py (`/oidc/...`, discovery, JWKS)."""
