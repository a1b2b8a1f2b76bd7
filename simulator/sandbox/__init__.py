"""Sandbox controls: reset, test data, issuer onboarding, inbox, clock, faults, journal."""
