"""The ``scms`` operator command (not deployed as a Lambda function)."""
