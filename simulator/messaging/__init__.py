"""Messaging: SMS and email on an issuer's behalf, and the sandbox phone network that receives them."""
