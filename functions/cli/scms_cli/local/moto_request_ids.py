"""moto's request-id rewrite only on bodies that hold a ``<RequestId>`` element (local stack only; issue #5 §7).

moto 5.2.5 ends every response (``BaseResponse._enrich_response``) with
``re.sub(r"(?<=<RequestId>).*(?=<\\/RequestId>)", request_id, body)``: a look-behind tried at every
position of the body. A Query page of 200 pool items or a certificate chunk is 100-300 KB of JSON
(1.6 ms for 116 KB), about 180 such answers per burst: some 0.3 s of the ``scms serve`` process's CPU
spent on bodies where it can never match (a py-spy sample put it at a tenth, counting waiting threads). The
look-behind needs the text ``<RequestId>`` in the body: a text body without it is returned as it is,
which is what the substitution returns; every other body goes through moto's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ELEMENT = "<RequestId>"


def request_ids_rewritten_only_where_present() -> Callable[[], None]:
    """Skip moto's request-id substitution on text bodies without ``<RequestId>`` (idempotent); returns the undo."""
    from moto.core.responses import BaseResponse

    current = BaseResponse.__dict__["_enrich_response"].__func__
    if getattr(current, "_scms_undo", None) is not None:
        return current._scms_undo  # type: ignore[no-any-return]
    original = current

    def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and _ELEMENT not in body:
            # What moto does besides the substitution: the status as text, a request id generated
            # (gen_amzn_requestid_long also sets the header), nothing else.
            return original(headers, "")[0], body
        return original(headers, body)  # type: ignore[no-any-return]

    def undo() -> None:
        BaseResponse._enrich_response = staticmethod(original)  # type: ignore[method-assign]

    enrich_response._scms_undo = undo  # type: ignore[attr-defined]
    BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign]
    return undo
