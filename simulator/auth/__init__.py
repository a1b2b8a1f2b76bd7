"""D1's OAuth2 server for issuers and the bearer-token guard every inbound API domain uses."""

from .guard import document_security, issuer_token_required, require_issuer_token, tokens
from .models import SCOPES, TokenInfo, TokenService
from .routes import blp

__all__ = ["SCOPES", "TokenInfo", "TokenService", "blp", "document_security", "issuer_token_required",
           "require_issuer_token", "tokens"]
