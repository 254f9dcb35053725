"""One row from request to final value: retried attempts with bounded exponential backoff and jitter.

A row ends in one of three ways (docs/proxy.md, "Faults"):
- done with a value: the answer, ``backend_rejected`` (vLLM 4xx: a retry cannot help) or
  ``timeout`` (no answer within --row-timeout, retries and backoff included);
- unfinished: every attempt failed. The batch then answers 503 (429 if vLLM said it is
  overloaded) so that Snowflake retries it later; the rows that did finish are kept and are not
  sent again;
- done with ``backend_error``: as unfinished, but in a retry of the batch (or in a batch without a
  batch id, which nobody can retry) and while vLLM kept answering other calls: the fault is this
  row's, and failing the batch again would only repeat it. Random faults rarely hit one row on
  every attempt of two batch attempts (at 7 % per call and 4 retries: 0.07^10), a broken row always does.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from .backend import Backend, CallFailed, RowRejected, completion_text
from .rows import Row, error_value

MAX_BACKOFF_S = 8.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int  # retries after the first attempt
    row_timeout: float  # seconds for all attempts and waits of one row
    request_timeout: float  # cap of one attempt
    backoff: float  # seconds before the first retry

    def delay(self, retry: int, rng: random.Random) -> float:
        """Wait before retry number `retry` (1-based): doubling, capped, 50-100 % jitter so that
        the rows of a batch that failed together do not hit vLLM again all at the same instant."""
        return min(MAX_BACKOFF_S, self.backoff * 2 ** (retry - 1)) * rng.uniform(0.5, 1.0)


async def run_row(backend: Backend, row: Row, policy: RetryPolicy, rng: random.Random, *,
                  last_chance: bool) -> tuple[bool, Any, int, CallFailed | None]:
    """(done, value, attempts, last failure if not done). A plain tuple: this runs once per row.
    `last_chance`: a retry of the batch, or a batch nobody can retry (see the module doc)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.row_timeout
    timeout = min(policy.request_timeout, policy.row_timeout)
    attempts = 0
    successes_before = None  # vLLM's success count when this row first failed
    while True:
        attempts += 1
        try:
            reply = await backend.chat(row.request, timeout=timeout)
            return True, (reply if row.full else completion_text(reply)), attempts, None
        except RowRejected as rejected:
            return True, error_value("backend_rejected", rejected.message, rejected.status), attempts, None
        except CallFailed as failed:
            failure = failed
        if successes_before is None:
            successes_before = backend.successes
        wait = policy.delay(attempts, rng) if attempts <= policy.retries else None
        left = deadline - loop.time()
        if left <= 0 or (wait is not None and wait >= left):
            return True, error_value(
                "timeout", f"no answer from vLLM within {policy.row_timeout:g} s "
                           f"({_attempts(attempts)}); last: {failure.reason}"), attempts, None
        if wait is None:
            if last_chance and failure.status != 429 and backend.successes > successes_before:
                return True, error_value(
                    "backend_error", f"vLLM failed this row on {_attempts(attempts)} while answering "
                                     f"other rows; last: {failure.reason}"), attempts, None
            return False, None, attempts, failure
        await asyncio.sleep(wait)
        timeout = min(policy.request_timeout, deadline - loop.time())


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"
