"""Use cases of the ECA (one module per use case)."""
