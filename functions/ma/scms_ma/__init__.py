"""The misbehaviour authority: reports, revocation decisions and their fan-out (issue #6 §1, protocol.md §3.6)."""
