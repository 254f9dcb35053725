"""JSON bytes for replies that can never fail to encode.

A model's answer may hold a lone surrogate (vLLM can emit "\\ud83d" without its pair when a
generation stops inside an emoji); such a string has no UTF-8 form and a plain ``.encode()``
raises, which used to fail the whole batch. Here it becomes U+FFFD, the Unicode replacement
character, and every other character is kept.
"""

from __future__ import annotations

import json
from typing import Any


def to_json_bytes(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # Via UTF-16 with surrogatepass: valid pairs join, lone halves become U+FFFD.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()

