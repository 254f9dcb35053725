"""Keep secrets out of every line the pack prints or logs.

Secrets are registered when they are read (from an env var or a file) and replaced by
"****" wherever they appear; well-known token shapes are masked even if never registered.
"""

from __future__ import annotations

import re

_registered: set[str] = set()

MASK = "****"
_PEM_ARMOR = re.compile(r"^-----(BEGIN|END) [A-Z ]+-----$")
_PATTERNS = [
    # the header as written, and as it appears inside a JSON string (quotes escaped as \")
    re.compile(r'(Snowflake\s+Token=\\?")[^"\\]+(\\?")', re.IGNORECASE),
    re.compile(r"(Authorization:\s*Bearer\s+)\S+", re.IGNORECASE),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),
    re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)"),
    # key=value / key: value for secret-looking keys; the key must not be the tail of a longer word,
    # so spec keys such as snowflakeSecret: keep their (non-secret) object names visible; the value is
    # on the same line (prose such as "never the token:" must not mask the next line, e.g. a code fence)
    # (a quote may be JSON-escaped: \" or \' must stay whole, or the JSON breaks and the value leaks)
    re.compile(r"((?<![A-Za-z])(?:password|passcode|token|secret)[ \t]*[=:][ \t]*(?:\\?['\"])?)[^\s'\"\\,;]+",
               re.IGNORECASE),
]


def register_secret(value: str | None) -> None:
    """Remember a secret so that redact() masks it, including each line of a multi-line one."""
    if not value:
        return
    for part in [value, *value.splitlines()]:
        part = part.strip()
        # PEM armor lines ("-----BEGIN PRIVATE KEY-----") are not secret, and masking them would
        # stop the key-block pattern from finding the body of another key
        if len(part) >= 6 and not _PEM_ARMOR.match(part):
            _registered.add(part)


def redact(text: str) -> str:
    # shapes first: a registered value must not break a pattern's anchors before it is applied
    for pattern in _PATTERNS:
        text = pattern.sub(_mask_match, text)
    for secret in sorted(_registered, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _mask_match(match: re.Match) -> str:
    groups = [g for g in match.groups() if g is not None]
    if not groups:
        return MASK
    if len(groups) == 1:
        return groups[0] + MASK
    return groups[0] + MASK + groups[-1]
