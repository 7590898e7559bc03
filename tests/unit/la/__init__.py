"""Unit tests of the linkage authorities (pure, fakes)."""
