"""Typed builders and parsers for every 1609.2.1 SPDU the flows use."""
