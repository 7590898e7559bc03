"""The local gateway serves one Chalice app's routes concurrently, each thread with its own request."""

from __future__ import annotations

import json
import threading
from typing import Any

from chalice.app import Chalice
from werkzeug.test import Client

from scms_cli.local.gateway import Gateway, LambdaContext, Route


def _app_whose_route_overlaps_another() -> tuple[Chalice, threading.Barrier]:
    """An app whose route reads ``current_request`` after every caller has entered it (a barrier of 2)."""
    app = Chalice(app_name="overlap")
    both_inside = threading.Barrier(2, timeout=30)

    @app.route("/echo/{name}")
    def echo(name: str) -> dict[str, Any]:
        both_inside.wait()  # both requests are now inside the app at once
        request = app.current_request
        assert request is not None
        assert request.uri_params is not None
        return {"name": name, "seen": request.uri_params["name"]}

    return app, both_inside


def _concurrently(calls: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    def run(k: int) -> None:
        results[k] = calls[k]()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _event(name: str) -> dict[str, Any]:
    return {
        "resource": "/echo/{name}",
        "path": f"/echo/{name}",
        "httpMethod": "GET",
        "headers": None,
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"name": name},
        "stageVariables": None,
        "requestContext": {"resourcePath": "/echo/{name}", "httpMethod": "GET", "path": f"/echo/{name}"},
        "body": None,
        "isBase64Encoded": False,
    }


def test_two_requests_inside_one_app_at_once_each_see_their_own_request() -> None:
    app, _ = _app_whose_route_overlaps_another()
    client = Client(Gateway([Route("GET", "/echo/{name}", "RaFunction", app)], concurrent=True))
    answers = _concurrently([lambda: client.get("/echo/a").get_json(), lambda: client.get("/echo/b").get_json()])
    # Both were inside the route together (else the barrier would break and the route answer 500).
    assert sorted((a["name"], a["seen"]) for a in answers) == [("a", "a"), ("b", "b")]


def test_twin_a_bare_chalice_app_called_from_two_threads_mixes_the_requests() -> None:
    # Why the gateway needs per-thread requests: the same overlap on the unpatched app.
    app, _ = _app_whose_route_overlaps_another()
    answers = _concurrently(
        [lambda: app(_event("a"), LambdaContext("RaFunction")), lambda: app(_event("b"), LambdaContext("RaFunction"))]
    )
    seen = [json.loads(a["body"])["seen"] for a in answers]
    assert seen[0] == seen[1]  # both read the request that was set last


def test_a_handler_that_is_not_a_chalice_app_still_gets_one_request_at_a_time() -> None:
    inside = 0
    most = 0
    guard = threading.Lock()
    release = threading.Event()
    entered = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        entered.set()
        release.wait(30)
        with guard:
            inside -= 1
        return {"statusCode": 200, "body": "{}"}

    gateway = Gateway([Route("GET", "/plain", "PlainFunction", handler)], concurrent=True)
    client = Client(gateway)
    first = threading.Thread(target=lambda: client.get("/plain"))
    first.start()
    assert entered.wait(30)
    second = threading.Thread(target=lambda: client.get("/plain"))
    second.start()
    # The second request waits on the function's lock while the first is inside.
    lock = gateway._locks["PlainFunction"]
    assert isinstance(lock, type(threading.Lock()))
    assert lock.locked()
    release.set()
    first.join()
    second.join()
    assert most == 1


def test_without_concurrent_a_chalice_app_gets_one_request_at_a_time() -> None:
    app, _ = _app_whose_route_overlaps_another()
    gateway = Gateway([Route("GET", "/echo/{name}", "RaFunction", app)], concurrent=False)
    lock = gateway._locks["RaFunction"]
    assert isinstance(lock, type(threading.Lock()))
    assert "current_request" not in type(app).__dict__  # the app is left as it is


def test_twin_with_concurrent_a_chalice_app_holds_no_lock() -> None:
    app, _ = _app_whose_route_overlaps_another()
    gateway = Gateway([Route("GET", "/echo/{name}", "RaFunction", app)], concurrent=True)
    assert not isinstance(gateway._locks["RaFunction"], type(threading.Lock()))
    assert "current_request" in type(app).__dict__
