"""The OpenAPI document of the JSON API, and a plain docs page rendered from it."""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from service.validation import CONTEXT, MAX_CONTENT_CHARS, MAX_FIELD_CHARS

bp = Blueprint("docs", __name__)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
        }
    },
}


_LABEL = {"type": "string", "enum": ["spam", "ham"]}


def _comment_schema() -> dict[str, Any]:
    # Optional fields may be null or "": both mean "not given". NUL characters are refused, but a
    # `pattern` saying so makes schema-driven generators (schemathesis) many times slower.
    optional = lambda limit: {"type": ["string", "null"], "maxLength": limit}  # noqa: E731
    properties: dict[str, Any] = {"content": {"type": "string", "minLength": 1, "maxLength": MAX_CONTENT_CHARS}}
    properties.update({name: optional(MAX_FIELD_CHARS) for name in CONTEXT})
    properties["comment_id"] = {**optional(200), "description": "your own id, echoed back"}
    return {
        "type": "object",
        "description": "Strings must not contain NUL characters; null or an empty string means not given.",
        "required": ["content"],
        "additionalProperties": False,
        "properties": properties,
    }


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "Malformed body",
        401: "Missing or invalid key",
        404: "Not found",
        413: "Too large",
        415: "Not JSON",
        422: "Invalid field",
        429: "Rate limit reached; retry after the Retry-After seconds",
        503: "Database unavailable",
    }
    # Whatever takes a key is rate limited, per key and per client address.
    listed = [*statuses, 429] if 401 in statuses else list(statuses)
    responses = {
        str(s): {
            "description": meaning[s],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in listed
    }
    if "429" in responses:
        responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}
    return responses


def _review_paths() -> dict[str, Any]:
    """The review queue's operations (service/reviews.py), with their own schemas inlined."""
    nullable = {"type": ["string", "null"]}
    check_id = {"type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[A-Za-z0-9]+$"}
    item = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "content": {"type": "string"},
            **{name: nullable for name in ("author", "author_url", "permalink", "type", "lang")},
            "verdict": {"type": "string", "enum": ["ham", "review", "spam", "discard"]},
            "spam_probability": {"type": "number", "minimum": 0, "maximum": 1},
            "reasons": {"type": "array"},
            "model_version": {"type": "string"},
            "created_at": {"type": "string"},
            "label": {"type": ["string", "null"], "enum": ["spam", "ham", None]},
            "label_id": {"type": ["integer", "null"]},
        },
    }
    decision = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "label_id": {"type": "integer"},
            "label": {"type": "string"},
            "status": {"type": "string"},
        },
    }
    query = lambda name, schema, text: {"name": name, "in": "query", "schema": schema, "description": text}  # noqa: E731
    verdicts = "(ham|review|spam|discard)"
    verdict_list = f"^,*({verdicts}(,+{verdicts})*)?,*$"
    moment = {"anyOf": [{"type": "string", "format": f} for f in ("date-time", "date")] + [{"const": ""}]}
    body = lambda schema: {"required": True, "content": {"application/json": {"schema": schema}}}  # noqa: E731
    ok = lambda schema: {"description": "OK", "content": {"application/json": {"schema": schema}}}  # noqa: E731
    return {
        "/v1/reviews": {
            "get": {
                "summary": "The key's site's review queue, most uncertain first",
                "parameters": [
                    query("verdict", {"type": "string", "pattern": verdict_list}, "comma list"),
                    query("reason", {"type": "string"}, "text in a reason"),
                    query("since", moment, "ISO 8601 date or time (UTC when without offset)"),
                    query("until", moment, "ISO 8601 date or time (UTC when without offset)"),
                    query("labelled", {"type": "string", "enum": ["false", "true", "all"]}, "default false"),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "default 50"),
                    query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}, "default 0"),
                ],
                "responses": {
                    "200": ok(
                        {
                            "type": "object",
                            "required": ["items", "total", "limit", "offset", "next_offset"],
                            "properties": {
                                "items": {"type": "array", "items": item},
                                "total": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                                "next_offset": {"type": ["integer", "null"]},
                            },
                        }
                    ),
                    **_errors(401, 422, 503),
                },
            }
        },
        "/v1/reviews/{check_id}": {
            "post": {
                "summary": "A moderator's decision on one kept check",
                "parameters": [{"name": "check_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": body({"type": "object", "required": ["label"], "properties": {"label": _LABEL}}),
                "responses": {"200": ok(decision), **_errors(400, 401, 404, 413, 415, 422, 503)},
            }
        },
        "/v1/reviews/bulk": {
            "post": {
                "summary": "One decision on up to 500 kept checks",
                "requestBody": body(
                    {
                        "type": "object",
                        "required": ["ids", "label"],
                        "properties": {
                            "ids": {"type": "array", "minItems": 1, "maxItems": 500, "items": check_id},
                            "label": _LABEL,
                        },
                    }
                ),
                "responses": {
                    "200": ok({"type": "object", "properties": {"results": {"type": "array", "items": decision}}}),
                    **_errors(400, 401, 404, 413, 415, 422, 503),
                },
            }
        },
        "/v1/labels/{label_id}/undo": {
            "post": {
                "summary": "Revert a label's latest standing change; returns its audit history",
                "parameters": [{"name": "label_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": ok(
                        {
                            "type": "object",
                            "properties": {
                                "label_id": {"type": "integer"},
                                "label": {"type": ["string", "null"]},
                                "history": {"type": "array"},
                            },
                        }
                    ),
                    **_errors(401, 404, 503),
                },
            }
        },
    }


def build_spec(batch_limit: int) -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    result = {
        "type": "object",
        "required": ["id", "verdict", "spam_probability", "reasons", "model_version", "cached"],
        "properties": {
            "id": {"type": "string", "description": "check id: send it back with /v1/feedback"},
            "verdict": {"type": "string", "enum": ["ham", "review", "spam", "discard"]},
            "spam_probability": {"type": "number", "minimum": 0, "maximum": 1},
            "reasons": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"feature": {"type": "string"}, "weight": {"type": "number"}},
                },
            },
            "model_version": {"type": "string"},
            "cached": {"type": "boolean"},
            "comment_id": {"type": "string"},
        },
    }
    json_body = lambda ref: {"required": True, "content": {"application/json": {"schema": {"$ref": ref}}}}  # noqa: E731
    ok = lambda ref, text: {"description": text, "content": {"application/json": {"schema": {"$ref": ref}}}}  # noqa: E731
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "spamfilter",
            "version": "1",
            "description": "Comment spam filter. Akismet-compatible routes live under /1.1 and /1.2.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _ERROR,
                "Comment": _comment_schema(),
                "CheckResult": result,
                "Batch": {
                    "type": "object",
                    "required": ["comments"],
                    "additionalProperties": False,
                    "properties": {
                        "comments": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": batch_limit,
                            "items": {"$ref": "#/components/schemas/Comment"},
                        }
                    },
                },
                "BatchResult": {
                    "type": "object",
                    "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/CheckResult"}}},
                },
                "Feedback": {
                    "description": "Either `id` (from a check) or the comment's fields (`content` and context), plus `label`.",
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["id", "label"],
                            "additionalProperties": False,
                            "properties": {"id": {"type": "string"}, "label": _LABEL},
                        },
                        {
                            **_comment_schema(),
                            "required": ["content", "label"],
                            "properties": {"label": _LABEL, **_comment_schema()["properties"]},
                        },
                    ],
                },
                "FeedbackResult": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "label": {"type": "string"},
                        "status": {"type": "string", "enum": ["created", "updated", "unchanged"]},
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/check": {
                "post": {
                    "summary": "Check one comment",
                    "requestBody": json_body("#/components/schemas/Comment"),
                    "responses": {
                        "200": ok("#/components/schemas/CheckResult", "Verdict"),
                        **_errors(400, 401, 413, 415, 422),
                    },
                }
            },
            "/v1/check/batch": {
                "post": {
                    "summary": f"Check up to {batch_limit} comments, answered in order",
                    "requestBody": json_body("#/components/schemas/Batch"),
                    "responses": {
                        "200": ok("#/components/schemas/BatchResult", "Verdicts"),
                        **_errors(400, 401, 413, 415, 422),
                    },
                }
            },
            "/v1/feedback": {
                "post": {
                    "summary": "Label a comment as spam or ham",
                    "requestBody": json_body("#/components/schemas/Feedback"),
                    "responses": {
                        "201": ok("#/components/schemas/FeedbackResult", "Label stored"),
                        "200": ok("#/components/schemas/FeedbackResult", "Label already stored, or changed"),
                        **_errors(400, 401, 404, 413, 415, 422, 503),
                    },
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "alive"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness and degraded components",
                    "security": [],
                    "responses": {"200": {"description": "ready or degraded"}},
                }
            },
            **_review_paths(),
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI document."""
    return jsonify(build_spec(current_app.config["SPAMFILTER_BATCH_LIMIT"]))


@bp.get("/docs")
def docs() -> Response:
    """A readable page listing every operation of the OpenAPI document."""
    spec = build_spec(current_app.config["SPAMFILTER_BATCH_LIMIT"])
    rows = "".join(
        f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td><td>{html.escape(op['summary'])}</td>"
        f"<td>{', '.join(sorted(op['responses']))}</td></tr>"
        for path, item in spec["paths"].items()
        for method, op in item.items()
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>spamfilter API</title><style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
td,th{{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}}</style></head><body>
<h1>spamfilter API</h1><p>Send <code>Authorization: Bearer KEY</code>. Machine-readable: <a href="/openapi.json">/openapi.json</a>.
Errors are <code>{{"error": {{"code", "message", "field"}}}}</code>. The Akismet-compatible API is at <code>/1.1/…</code> and <code>/1.2/…</code>.</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>statuses</th></tr>{rows}</table></body></html>"""
    return Response(page, mimetype="text/html")
