"""The API document on the local gateway: ``GET /openapi.yaml`` (the file as is) and ``GET /docs`` (a page).

The page is rendered here, on each request, from ``docs/openapi.yaml`` parsed as YAML: every
operation with its parameters, request body, responses (media types, ASN.1 types, headers) and
Table 8 error codes, then the JSON schemas. It is one self-contained HTML document (inline CSS,
no script, nothing fetched from the network); the parsed document is also embedded as JSON in a
``<script type="application/json" id="openapi">`` element for tools.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from werkzeug.wrappers import Response

from .template import REPO_ROOT

__all__ = ["DOCS_PATH", "OPENAPI_DOCUMENT", "SPEC_PATH", "load_document", "render_page", "serve"]

OPENAPI_DOCUMENT = REPO_ROOT / "docs" / "openapi.yaml"
SPEC_PATH = "/openapi.yaml"
DOCS_PATH = "/docs"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load_document(path: Path = OPENAPI_DOCUMENT) -> dict[str, Any]:
    """The OpenAPI document as a mapping."""
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def serve(method: str, path: str, document: Path = OPENAPI_DOCUMENT) -> Response | None:
    """The answer for ``method path`` if it is one of the two documentation paths, else None."""
    if path not in (SPEC_PATH, DOCS_PATH):
        return None
    if method.upper() not in ("GET", "HEAD"):
        return Response(json.dumps({"message": "Method Not Allowed"}), status=405, content_type="application/json")
    try:
        text = document.read_text(encoding="utf-8")
        parsed = yaml.safe_load(text) if path == DOCS_PATH else None
    except (OSError, yaml.YAMLError):
        return _unavailable()
    if path == SPEC_PATH:
        return Response(text, status=200, content_type="application/yaml; charset=utf-8")
    if not isinstance(parsed, Mapping):
        return _unavailable()
    return Response(render_page(parsed), status=200, content_type="text/html; charset=utf-8")


def _unavailable() -> Response:
    return Response(json.dumps({"message": "API document unavailable"}), status=500, content_type="application/json")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ref(document: Mapping[str, Any], node: Any) -> Any:
    """``node`` with a local ``$ref`` followed (repeatedly); other nodes as they are."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = document
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
        seen += 1
        if seen > 32:
            break
    return node


def _schema_label(schema: Any) -> str:
    """A short name for a schema: its component name, its type, or a oneOf of those."""
    if not isinstance(schema, Mapping):
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            return f" {'|' if key != 'allOf' else '&'} ".join(_schema_label(s) for s in schema[key])
    kind = schema.get("type", "")
    text = " | ".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    if "pattern" in schema:
        text += f" /{schema['pattern']}/"
    if "enum" in schema:
        text += " (" + ", ".join(map(str, schema["enum"])) + ")"
    if "minimum" in schema or "maximum" in schema:
        text += f" {schema.get('minimum', '')}..{schema.get('maximum', '')}"
    return text


def _media(document: Mapping[str, Any], content: Mapping[str, Any] | None) -> str:
    if not content:
        return "<em>no body</em>"
    items = []
    for media_type, media in content.items():
        media = media or {}
        detail = media.get("x-asn1-type") or _schema_label(media.get("schema"))
        module = media.get("x-asn1-module")
        label = f"<code>{_e(media_type)}</code>"
        if detail:
            label += f": <strong>{_e(detail)}</strong>"
        if module:
            label += f" <small>({_e(module)})</small>"
        items.append(label)
    return "<br>".join(items)


def _operation(document: Mapping[str, Any], path: str, method: str, op: Mapping[str, Any], shared: list[Any]) -> str:
    anchor = op.get("operationId") or f"{method}-{path}"
    out = [
        f'<section class="op" id="{_e(anchor)}">',
        f'<h3><span class="m {_e(method)}">{_e(method.upper())}</span> <code>{_e(path)}</code></h3>',
        f"<p><strong>{_e(op.get('summary', ''))}</strong>"
        + (f" <small>— {_e(op['x-function'])}</small>" if "x-function" in op else "")
        + "</p>",
    ]
    if op.get("description"):
        out.append(f'<p class="d">{_e(op["description"])}</p>')
    if op.get("security"):
        names = ", ".join(name for requirement in op["security"] for name in requirement)
        out.append(f"<p>Security: <code>{_e(names)}</code></p>")
    params = [_ref(document, p) for p in [*shared, *op.get("parameters", [])]]
    if params:
        out.append(
            "<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Required</th><th>Schema</th><th>Description</th></tr>"
        )
        for p in params:
            out.append(
                f"<tr><td><code>{_e(p.get('name'))}</code></td><td>{_e(p.get('in'))}</td>"
                f"<td>{'yes' if p.get('required') else 'no'}</td>"
                f"<td><code>{_e(_schema_label(p.get('schema')))}</code></td>"
                f'<td class="d">{_e(p.get("description", ""))}</td></tr>'
            )
        out.append("</table>")
    if "requestBody" in op:
        body = _ref(document, op["requestBody"])
        required = "required" if body.get("required") else "optional"
        out.append(f"<h4>Request body ({required})</h4><p>{_media(document, body.get('content'))}</p>")
    out.append("<h4>Responses</h4><table><tr><th>Status</th><th>Description</th><th>Body</th><th>Headers</th></tr>")
    for status, response in op.get("responses", {}).items():
        response = _ref(document, response)
        headers = ", ".join(f"<code>{_e(h)}</code>" for h in (response.get("headers") or {}))
        out.append(
            f'<tr><td><strong>{_e(status)}</strong></td><td class="d">{_e(response.get("description", ""))}</td>'
            f"<td>{_media(document, response.get('content'))}</td><td>{headers}</td></tr>"
        )
    out.append("</table>")
    errors = op.get("x-ieee-1609-2-1-errors") or []
    if errors:
        out.append("<h4>IEEE 1609.2.1 error codes (<code>Ieee-1609.2.1-Error</code>)</h4><table>")
        out.append("<tr><th>Code</th><th>When</th></tr>")
        for error in errors:
            code, when = _e(error.get("code")), _e(error.get("description", ""))
            out.append(f"<tr><td><code>{code}</code></td><td>{when}</td></tr>")
        out.append("</table>")
    out.append("</section>")
    return "\n".join(out)


_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#222}
code{font:13px ui-monospace,monospace;background:#f3f3f3;padding:0 .2em}
table{border-collapse:collapse;width:100%;margin:.3rem 0 1rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#fafafa}
.d{white-space:pre-wrap}
.op{border-top:2px solid #ccc;margin-top:1.5rem}
.m{display:inline-block;min-width:4.5em;text-align:center;color:#fff;border-radius:3px;padding:0 .3em}
.get{background:#2a7ab0}.post{background:#3a8f3a}.delete{background:#b03a2e}.put,.patch{background:#a06a00}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:12px}
"""


def render_page(document: Mapping[str, Any]) -> str:
    """A self-contained HTML page listing every operation of ``document`` and its schemas."""
    info = document.get("info", {})
    title = f"{info.get('title', 'API')} {info.get('version', '')}".strip()
    operations: list[tuple[str, str, Mapping[str, Any], list[Any]]] = []
    for path, item in (document.get("paths") or {}).items():
        for method in _METHODS:
            if method in item:
                operations.append((path, method, item[method], list(item.get("parameters", []))))
    toc = "\n".join(
        f'<li><a href="#{_e(op.get("operationId") or f"{m}-{p}")}"><span class="m {_e(m)}">{_e(m.upper())}</span>'
        f" <code>{_e(p)}</code></a> {_e(op.get('summary', ''))}</li>"
        for p, m, op, _ in operations
    )
    body = "\n".join(_operation(document, p, m, op, shared) for p, m, op, shared in operations)
    schemas = "\n".join(
        f'<h3 id="schema-{_e(name)}">{_e(name)}</h3><pre>{_e(json.dumps(schema, indent=2, ensure_ascii=False))}</pre>'
        for name, schema in (document.get("components", {}).get("schemas") or {}).items()
    )
    security = "\n".join(
        f"<li><code>{_e(name)}</code>: {_e(s.get('type'))} in {_e(s.get('in'))} <code>{_e(s.get('name'))}</code>"
        f' <span class="d">{_e(s.get("description", ""))}</span></li>'
        for name, s in (document.get("components", {}).get("securitySchemes") or {}).items()
    )
    embedded = json.dumps(document, ensure_ascii=True).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{_e(title)}</h1>
<p>OpenAPI {_e(document.get("openapi", ""))} — the document itself:
<a href="{SPEC_PATH}"><code>{SPEC_PATH}</code></a></p>
<p class="d">{_e(info.get("description", ""))}</p>
<h2>Operations</h2>
<ul>
{toc}
</ul>
<h2>Security schemes</h2>
<ul>{security}</ul>
{body}
<h2>Schemas</h2>
{schemas}
<script type="application/json" id="openapi">{embedded}</script>
</body></html>
"""
