"""Use cases of the linkage authorities LA1 and LA2 (one module per use case)."""
