"""Shared infrastructure of D1 Sandbox: clock, store, journal, outbound HTTP, errors, CLI."""

__version__ = "0.1.0"
