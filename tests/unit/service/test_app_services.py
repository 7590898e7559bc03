"""scms_service.app_services: built once per process (also under concurrent first requests), set by tests, keyed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest
from scms_service.app_services import AppServices


class WrongKey(Exception):
    pass


@dataclass
class _Services:
    check_api_key: Callable[[str | None], None]


def _check(header: str | None) -> None:
    if header != "the-key":
        raise WrongKey("management API key")


def _request(headers: dict[str, str]) -> Any:
    return cast(Any, SimpleNamespace(headers=headers))


def test_concurrent_first_requests_build_the_services_once() -> None:
    built: list[_Services] = []

    def build() -> _Services:
        time.sleep(0.05)  # a slow cold start, so the threads overlap in it (not a timing assertion)
        built.append(_Services(_check))
        return built[-1]

    holder = AppServices(build)
    seen: list[_Services] = []
    threads = [threading.Thread(target=lambda: seen.append(holder.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and all(s is built[0] for s in seen)


def test_configure_replaces_and_none_builds_again() -> None:
    holder = AppServices(lambda: _Services(_check))
    first = holder.get()
    mine = _Services(_check)
    holder.configure(mine)
    assert holder.get() is mine
    holder.configure(None)
    assert holder.get() is not mine and holder.get() is not first


def test_authorized_needs_the_management_key() -> None:
    holder = AppServices(lambda: _Services(_check))
    assert holder.authorized(_request({"x-api-key": "the-key"})) is holder.get()
    with pytest.raises(WrongKey):
        holder.authorized(_request({"x-api-key": "not-it"}))
    with pytest.raises(WrongKey):
        holder.authorized(_request({}))
