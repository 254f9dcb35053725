"""The bounded time window of the evidence steps: --since 30m / 2h / 1d, at most MAX_MINUTES."""

from __future__ import annotations

import re

from ..errors import SpcsLlmError

DEFAULT_SINCE = "1h"
MAX_MINUTES = 7 * 24 * 60  # a week: the SPCS_GET_* helpers default to one day; older rows are rarely needed
_UNITS = {"m": 1, "h": 60, "d": 24 * 60}
_FORM = re.compile(r"^(\d+)\s*([mhd])$")


def minutes(since: str) -> int:
    """Minutes back from now for a --since value; a clear error for anything else."""
    match = _FORM.match(str(since).strip().lower())
    if not match or int(match.group(1)) < 1:
        raise SpcsLlmError(f"--since {since!r} is not a time window",
                           hint="use a number with m, h or d, e.g. 30m, 2h or 1d")
    value = int(match.group(1)) * _UNITS[match.group(2)]
    if value > MAX_MINUTES:
        raise SpcsLlmError(f"--since {since!r} is longer than the {MAX_MINUTES // 1440}-day limit",
                           hint="narrow the window (e.g. 1d); event-table queries scan every row in it")
    return value
