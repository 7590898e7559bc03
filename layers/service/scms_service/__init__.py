"""Cloud-side code shared by the authority functions: configuration, errors as HTTP, AWS clients, stores.

Deployed as the ``scms-service`` Lambda layer beside the pure codec layer. Domain use cases
live beside each function (``functions/<authority>/scms_<authority>/``) and receive stores
from here; nothing in here knows which authority it serves.
"""
