"""The ACA: batch issuance of authorization certificates (issue #5 §5; protocol.md §3.3 "ACA (per request)")."""
