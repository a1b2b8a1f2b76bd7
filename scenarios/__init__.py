"""Drivers for the outside actors (3DS Server/merchant, cardholder, issuer app user, wallet, login
app) and the named end-to-end scenarios built from them."""
