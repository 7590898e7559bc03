"""1609.2 secured data: SignedData, SignedCertificateRequest, EncryptedData (all recipient kinds)."""
