"""Turn one service-function row into one chat request, or into a per-row error value.

Row convention (docs/proxy.md): ``[row_index, request, params?]``

- ``request`` is a prompt string, an OpenAI messages array, or a chat request object (a dict
  with "messages"); a string that is JSON of a messages array or of such an object counts as
  that. SQL NULL gives NULL back without calling vLLM.
- ``params`` (optional) is an object (or JSON text of one) merged over the request: sampling
  parameters such as max_tokens or temperature, and the proxy's own ``return_format``:
  "text" (default, the answer is the completion string) or "full" (the whole response object).

Answers are strings (or response objects with "choices"); errors are always ``{"error": {...}}``
objects, so no error can be read as an answer. parse_row never raises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

RETURN_FORMATS = ("text", "full")
MAX_MESSAGES = 10_000


@dataclass(slots=True)
class Row:
    index: Any  # echoed back to Snowflake; the row's position when the row has no usable index
    request: dict | None = None  # the chat request to send; None when `value` is already the answer
    full: bool = False  # return the whole response object instead of the text
    value: Any = None  # the answer when no call is made: an error value, or None for SQL NULL


def error_value(code: str, message: str, status: int | None = None) -> dict:
    """The one shape of a per-row error, distinct from every answer."""
    err: dict = {"code": code, "message": message}
    if status is not None:
        err["status"] = status
    return {"error": err}


def is_error_value(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"error"} and isinstance(value["error"], dict)


class _Invalid(Exception):
    pass


def parse_row(row: Any, position: int) -> Row:
    """Parse row number `position` of a batch. Any input yields a Row; nothing raises."""
    if not isinstance(row, list) or not row:
        return _invalid(position, f"a row must be [row_index, request, params?]; got {_kind(row)}")
    index = row[0]
    if not isinstance(index, int) or isinstance(index, bool):
        return _invalid(position, f"the row index must be an integer; got {_kind(index)}")
    args = row[1:]
    if not 1 <= len(args) <= 2:
        return _invalid(index, f"expected 1 or 2 arguments (request, params); got {len(args)}")
    if args[0] is None:
        return Row(index)  # SQL NULL in, NULL out
    try:
        request = _request(args[0])
        params = _params(args[1] if len(args) == 2 else None)
        return _merge(index, request, params)
    except _Invalid as err:
        return _invalid(index, str(err))
    except (RecursionError, MemoryError):
        return _invalid(index, "the request is nested too deeply")


def _invalid(index: Any, message: str) -> Row:
    return Row(index, value=error_value("invalid_row", message))


def _request(arg: Any) -> dict:
    if isinstance(arg, str):
        decoded = _json_request(arg)
        if decoded is not None:
            arg = decoded
        elif not arg.strip():
            raise _Invalid("the prompt is empty")
        else:
            return {"messages": [{"role": "user", "content": arg}]}
    if isinstance(arg, list):
        return {"messages": _messages(arg)}
    if isinstance(arg, dict):
        if "messages" not in arg:
            raise _Invalid('a chat request object needs "messages"')
        return {**arg, "messages": _messages(arg["messages"])}
    raise _Invalid(f"the request must be a prompt string, a messages array or a chat request; got {_kind(arg)}")


def _json_request(text: str) -> Any:
    """JSON of a chat request or a messages array, else None (the text is then a plain prompt)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        decoded = json.loads(stripped)
    except (ValueError, RecursionError):
        return None  # not JSON (or absurdly nested): plain prompt text
    if isinstance(decoded, dict) and "messages" in decoded:
        return decoded
    if isinstance(decoded, list) and decoded and all(isinstance(m, dict) and "role" in m for m in decoded):
        return decoded
    return None


def _messages(value: Any) -> list:
    if not isinstance(value, list) or not value:
        raise _Invalid(f'"messages" must be a non-empty array; got {_kind(value)}')
    if len(value) > MAX_MESSAGES:
        raise _Invalid(f'"messages" has {len(value)} entries; at most {MAX_MESSAGES} are allowed')
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise _Invalid(f"message {i} must be an object with role and content; got {_kind(message)}")
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise _Invalid(f'message {i} needs a "role" string; got {_kind(role)}')
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _Invalid(f'message {i} "content" must be a string or an array of parts; got {_kind(content)}')
    return value


def _params(arg: Any) -> dict:
    if arg is None or (isinstance(arg, str) and not arg.strip()):
        return {}
    if isinstance(arg, str):
        try:
            arg = json.loads(arg)
        except ValueError:
            raise _Invalid("the params argument is text but not JSON of an object") from None
    if not isinstance(arg, dict):
        raise _Invalid(f"the params argument must be an object such as {{'max_tokens': 256}}; got {_kind(arg)}")
    if "messages" in arg:
        raise _Invalid('the params object must not contain "messages"; put them in the request argument')
    return arg


def _merge(index: int, request: dict, params: dict) -> Row:
    body = {**request, **params}
    return_format = body.pop("return_format", "text")
    if return_format not in RETURN_FORMATS:
        raise _Invalid(f"return_format {_short(return_format)} is not valid; allowed: text, full")
    if body.get("stream") not in (None, False):
        raise _Invalid("stream is not supported by /complete; stream through /v1/chat/completions instead")
    body.pop("stream", None)
    body.pop("stream_options", None)
    return Row(index, request=body, full=return_format == "full")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
