"""A Chalice app's collaborators: built once per process on first use (a Lambda cold start), or set by tests.

The RA and MA apps hold their ``Services`` (stores, keys, the management API key check) here. ``get``
builds them under a lock, so concurrent first requests in one process (the local gateway's threads)
build them once; ``configure`` replaces them (tests) or forgets them (None: the next ``get`` builds).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from chalice.app import Request

from .auth import API_KEY_HEADER

__all__ = ["AppServices", "ChecksApiKey"]


class ChecksApiKey(Protocol):
    """Services that guard the management API: ``check_api_key(header value)`` raises unless it is the key."""

    @property
    def check_api_key(self) -> Callable[[str | None], None]: ...


S = TypeVar("S", bound=ChecksApiKey)


class AppServices(Generic[S]):
    """The process's ``S``, built by ``build`` on first use."""

    def __init__(self, build: Callable[[], S]) -> None:
        self._build = build
        self._value: S | None = None
        self._lock = threading.Lock()

    def get(self) -> S:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    def configure(self, value: S | None) -> None:
        """Use ``value`` instead of building (tests); None goes back to building on the next ``get``."""
        with self._lock:
            self._value = value

    def authorized(self, request: Request) -> S:
        """The services, once the request's management API key checks out (else the check's error)."""
        services = self.get()
        services.check_api_key(request.headers.get(API_KEY_HEADER.lower()))
        return services
