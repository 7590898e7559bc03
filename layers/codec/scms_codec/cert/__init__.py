"""1609.2 certificates: build, sign, issue (ECQV), hash, verify, chain walk."""
