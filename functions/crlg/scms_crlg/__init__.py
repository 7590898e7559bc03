"""The CRL generator's use cases: sign the linked and hash CRLs that revocations feed (issue #6 §1)."""
