"""Use cases of the RA (one module per use case)."""
