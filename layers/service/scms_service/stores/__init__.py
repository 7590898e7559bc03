"""One module per table: a Protocol, its boto3 adapter (client injectable) and an in-memory fake (style.md 4)."""
