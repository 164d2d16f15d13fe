"""Request bodies in, validated comments out; every problem becomes a clear 4xx."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Request

from service.errors import ApiError, PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError
from spamfilter.comment import CONTEXT_FIELDS, Comment

MAX_CONTENT_CHARS = 100_000
MAX_FIELD_CHARS = 2_000
MAX_JSON_DEPTH = 20
_SPACED_COLON = re.compile(rb'"[ \t\n\r]+:')  # a key's end, then space, then its colon
# The context a check accepts: the corpus fields less `created_at` (the check's own time is now).
CONTEXT = tuple(name for name in CONTEXT_FIELDS if name != "created_at")
COMMENT_FIELDS = ("content", *CONTEXT, "comment_id")


@dataclass(frozen=True)
class CheckInput:
    """One comment to check, with the caller's own id for it if given."""

    comment: Comment
    comment_id: str | None = None


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object: 415 when it is not JSON, 400 when it does not parse."""
    if not request.is_json:
        raise UnsupportedMediaTypeError("send the body as application/json")
    return loads_body(request_body(request))


def request_body(request: Request, cache: bool = False) -> bytes:
    """The body; 413 when over the limit, also when streamed (chunked) without a Content-Length."""
    raw = request.get_data(cache=cache)
    limit = request.max_content_length
    # Werkzeug stops reading a streamed body at the limit without a word: look for a byte more.
    streamed = request.content_length is None and limit is not None and len(raw) >= limit
    if streamed and request.environ["wsgi.input"].read(1):
        raise PayloadTooLargeError(f"request body larger than {limit} bytes")
    return raw


def loads_body(raw: bytes) -> dict[str, Any]:
    """Bytes to a JSON object: 400 when not UTF-8 or not JSON, 422 when not an object or too deep."""
    try:
        body = orjson.loads(raw)  # a tenth of the stdlib's time; the stdlib explains failures below
    except orjson.JSONDecodeError:
        body = _explain(raw)
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object")
    depth = _depth(body, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(f"the body is nested more than {MAX_JSON_DEPTH} levels deep")
    # Both parsers keep the last of repeated keys; refuse them instead, so no reader of the body
    # sees another comment. Each key is followed by `":` (or by space and `:`), so when the count
    # of `":` equals the keys parsed, and no `"` is followed by space and `:`, no key was repeated.
    keys = len(body) if depth <= 2 else _count_keys(body)
    if raw.count(b'":') != keys or _SPACED_COLON.search(raw):
        json.loads(raw, object_pairs_hook=_unique_keys)
    return body


def _count_keys(value: Any) -> int:
    stack, keys = [value], 0
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return keys


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        repeated = next(k for i, (k, _) in enumerate(pairs) if any(k == other for other, _ in pairs[:i]))
        raise ApiError(f"the body is not valid JSON: the key {repeated[:64]!r} appears twice in one object")
    return found


def _explain(raw: bytes) -> Any:
    """Parse again with the standard library, for its precise message (or a value orjson refuses)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(f"the body is not valid UTF-8 (byte {exc.start})") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise ApiError(f"the body is not valid JSON: {message}") from exc
    except ValueError as exc:  # e.g. an integer longer than Python converts (4,300 digits)
        raise ApiError(f"the body is not valid JSON: {exc}") from exc
    if _has_big_int(body):
        raise ApiError("the body is not valid JSON: integer out of range")
    return body


def _has_big_int(value: Any) -> bool:
    # orjson refuses integers beyond 64 bits; the standard library takes them. Refusing them
    # here keeps one rule for every body, whichever parser read it.
    if isinstance(value, int) and not isinstance(value, bool):
        return not -(2**63) <= value < 2**64
    if isinstance(value, dict):
        return any(_has_big_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_big_int(v) for v in value)
    return False


def _string(data: dict[str, Any], name: str, path: str, limit: int, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ValidationError(f"{path}{name} is required", field=f"{path}{name}")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{path}{name} must be a string", field=f"{path}{name}")
    if "\x00" in value:
        raise ValidationError(f"{path}{name} must not contain NUL characters", field=f"{path}{name}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate such as "\ud800" has no UTF-8 form
            raise ValidationError(f"{path}{name} is not valid Unicode", field=f"{path}{name}") from exc
    if len(value) > limit:
        raise ValidationError(f"{path}{name} is longer than {limit} characters", field=f"{path}{name}")
    return value


def parse_comment(data: Any, path: str = "", extra: tuple[str, ...] = ()) -> CheckInput:
    """Validate one comment object: `content` required, known optional fields, nothing else."""
    if not isinstance(data, dict):
        raise ValidationError(f"{path or 'the body'} must be a JSON object", field=path.rstrip(".") or None)
    unknown = sorted(set(data) - set(COMMENT_FIELDS) - set(extra))
    if unknown:
        raise ValidationError(f"unknown field {path}{unknown[0]}", field=f"{path}{unknown[0]}")
    content = _string(data, "content", path, MAX_CONTENT_CHARS, required=True)
    context = {name: _string(data, name, path, MAX_FIELD_CHARS) for name in CONTEXT}
    comment_id = _string(data, "comment_id", path, 200)
    return CheckInput(Comment(text=content or "", **context), comment_id)


def parse_batch(body: dict[str, Any], limit: int) -> list[CheckInput]:
    """`{"comments": [...]}` with between 1 and `limit` comments."""
    unknown = sorted(set(body) - {"comments"})
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]}", field=unknown[0])
    comments = body.get("comments")
    if not isinstance(comments, list) or not comments:
        raise ValidationError("comments must be a non-empty list", field="comments")
    if len(comments) > limit:
        raise PayloadTooLargeError(f"at most {limit} comments per batch, got {len(comments)}", field="comments")
    return [parse_comment(item, f"comments[{i}].") for i, item in enumerate(comments)]
