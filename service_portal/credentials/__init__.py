"""Verified credentials: evidence for brand authorisations and HV qualifications."""
