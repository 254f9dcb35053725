"""Batches by Snowflake batch id: the state behind the asynchronous (202) protocol and idempotency.

Snowflake sends a batch id header with every POST and repeats it on the polling GETs and on
retries (docs.snowflake.com/en/sql-reference/external-functions-data-format, "Header format":
the id "can also be used as an idempotency token" and "The batch ID in a GET is the same as
the batch ID in the corresponding POST"). A batch stays here while it runs and, once finished,
for a bounded time and total size, so that polls and retried POSTs get the result instead of
running the rows again. Running batches are never evicted.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int  # the HTTP status to answer: 200, or a batch-level failure (429, 500, 503)
    body: bytes  # the JSON body to answer
    ok: int = 0  # rows with an answer (or NULL)
    errors: int = 0  # rows with an error value


@dataclass(slots=True)
class Batch:
    batch_id: str | None
    rows: int
    started: float = field(default_factory=time.monotonic)
    task: asyncio.Task | None = None
    outcome: Outcome | None = None
    finished_at: float | None = None
    went_async: bool = False  # a 202 was sent for it

    @property
    def done(self) -> bool:
        return self.outcome is not None


class BatchStore:
    def __init__(self, ttl_s: float, max_bytes: int):
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self._running: dict[str, Batch] = {}
        self._finished: OrderedDict[str, Batch] = OrderedDict()  # oldest finish first
        self._finished_bytes = 0

    def get(self, batch_id: str) -> Batch | None:
        self._evict_expired()
        return self._running.get(batch_id) or self._finished.get(batch_id)

    def add(self, batch: Batch) -> None:
        self.discard(batch.batch_id)
        self._running[batch.batch_id] = batch

    def finish(self, batch: Batch) -> None:
        """Move a batch that has its outcome from running to the bounded finished cache."""
        if self._running.get(batch.batch_id) is not batch:
            return  # replaced by a retry in the meantime; the newer batch owns the id
        del self._running[batch.batch_id]
        batch.finished_at = time.monotonic()
        self._finished[batch.batch_id] = batch
        self._finished_bytes += len(batch.outcome.body)
        while self._finished_bytes > self.max_bytes and self._finished:
            self._pop_oldest()
        self._evict_expired()

    def discard(self, batch_id: str) -> None:
        self._running.pop(batch_id, None)
        old = self._finished.pop(batch_id, None)
        if old is not None:
            self._finished_bytes -= len(old.outcome.body)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def finished(self) -> int:
        return len(self._finished)

    @property
    def finished_bytes(self) -> int:
        return self._finished_bytes

    def _evict_expired(self) -> None:
        cutoff = time.monotonic() - self.ttl_s
        while self._finished:
            oldest = next(iter(self._finished.values()))
            if oldest.finished_at > cutoff:
                break
            self._pop_oldest()

    def _pop_oldest(self) -> None:
        _, batch = self._finished.popitem(last=False)
        self._finished_bytes -= len(batch.outcome.body)
