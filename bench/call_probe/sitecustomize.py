"""Record every AWS API call the local stack serves, for ``bench/cost_drivers.py`` only.

On ``scms serve``'s PYTHONPATH, with ``SCMS_BENCH_CALLS_OUT`` set, this wraps moto's WSGI dispatcher
(``DomainDispatcherApplication.__call__``: every call of every process of the stack reaches the moto
server through it) and appends one JSON line per call to ``<out>``: the time, the service (from the
SigV4 credential scope), the operation (``X-Amz-Target``, else method and path), the status and, for
DynamoDB only, the request and response bodies (to size items for read and write units). The variable
is removed from the environment at once, so the pool's workers (spawned later) do not load moto.
Nothing here runs outside the benchmark.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from typing import Any

_OUT = os.environ.pop("SCMS_BENCH_CALLS_OUT", None)
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_LOCK = threading.Lock()


def _install(out: str) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    sink = open(out, "a", encoding="utf-8")  # open for the process's life

    def recorded(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []

        def capture(code: str, headers: Any, *args: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *args)

        chunks = original(self, environ, capture)
        try:
            answer = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = scope.group(1) if scope else "?"
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        entry: dict[str, Any] = {
            "t": time.time(),
            "service": service,
            "op": target.rsplit(".", 1)[-1]
            if target
            else f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}",
            "status": int(status[0].split()[0]) if status else 0,
        }
        if service == "dynamodb":
            entry["request"] = json.loads(body or b"{}")
            try:
                entry["response"] = json.loads(answer or b"{}")
            except ValueError:
                entry["response"] = {}
        with _LOCK:
            sink.write(json.dumps(entry) + "\n")
            sink.flush()
        return [answer]

    DomainDispatcherApplication.__call__ = recorded  # type: ignore[method-assign]


if _OUT:
    _install(_OUT)
