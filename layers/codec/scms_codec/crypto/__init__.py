"""Cryptographic primitives of IEEE 1609.2 / 1609.2.1; import the submodules directly."""
