"""Batches by Snowflake batch id: the state behind the asynchronous (202) protocol, idempotency and
the rows a retried batch does not have to run again.

Snowflake sends a batch id header with every POST and repeats it on the polling GETs and on
retries (docs.snowflake.com/en/sql-reference/external-functions-data-format, "Header format":
the id "can also be used as an idempotency token" and "The batch ID in a GET is the same as
the batch ID in the corresponding POST"). A batch stays here while it runs and, once finished,
for a bounded time and total size:

- a finished (200) batch answers polls and retried POSTs without running its rows again;
- a failed (429/503) batch keeps the rows that did get an answer, so when Snowflake retries it
  (same id, same rows) only the unfinished rows go to vLLM again;
- a result that was answered 202 and not collected yet is never evicted for size (a poll would
  get 404); when such results alone fill the cache, new batches get 429 until they are collected
  or expire. Running batches are never evicted.
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
    fingerprint: bytes = b""  # digest of the POST body: a retry must carry the same rows
    answers: list | None = None  # per row: its [index, value] pair, None while unfinished
    kept_bytes: int = 0  # size of the kept answers, JSON-encoded (measured when an attempt fails)
    error_rows: int = 0  # kept answers that are error values
    started: float = field(default_factory=time.monotonic)
    last_contact: float = field(default_factory=time.monotonic)  # last POST or poll for it
    watchers: int = 0  # POST handlers waiting for it right now
    attempt: int = 1  # 1 for the first POST, +1 for each retry that runs rows again
    task: asyncio.Task | None = None
    outcome: Outcome | None = None
    finished_at: float | None = None
    went_async: bool = False  # a 202 was sent for this attempt
    collected: bool = True  # False while a 202-answered result waits for its poll
    abandon_reason: str | None = None
    stored_bytes: int = 0  # what the store counts for it while finished

    def __post_init__(self) -> None:
        if self.answers is None:
            self.answers = [None] * self.rows

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def keep(self, position: int, pair: list, is_error: bool) -> None:
        self.answers[position] = pair
        self.error_rows += is_error

    def touch(self) -> None:
        self.last_contact = time.monotonic()

    def size(self) -> int:
        """Bytes held once finished: the answer body, or the kept rows of a failed attempt."""
        return len(self.outcome.body) + (self.kept_bytes if self.answers is not None else 0)


class BatchStore:
    def __init__(self, ttl_s: float, max_bytes: int):
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self._running: dict[str, Batch] = {}
        self._evictable: OrderedDict[str, Batch] = OrderedDict()  # oldest first
        self._protected: OrderedDict[str, Batch] = OrderedDict()  # answered 202, not collected yet
        self._finished_bytes = 0

    def get(self, batch_id: str) -> Batch | None:
        self._evict_expired()
        return self._running.get(batch_id) or self._evictable.get(batch_id) or self._protected.get(batch_id)

    def add(self, batch: Batch) -> None:
        """Register a batch that starts (or starts again: a retry of a failed attempt) running."""
        self.discard(batch.batch_id)
        self._running[batch.batch_id] = batch

    def finish(self, batch: Batch) -> None:
        """Move a batch that has its outcome from running to the bounded finished cache."""
        if self._running.get(batch.batch_id) is not batch:
            return  # replaced in the meantime; the newer batch owns the id
        del self._running[batch.batch_id]
        batch.finished_at = time.monotonic()
        batch.stored_bytes = batch.size()
        self._finished_bytes += batch.stored_bytes
        (self._evictable if batch.collected else self._protected)[batch.batch_id] = batch
        self._evict_for_size()
        self._evict_expired()

    def collected(self, batch: Batch) -> None:
        """A poll or POST received the finished result: from now on it may be evicted for size."""
        batch.collected = True
        if self._protected.pop(batch.batch_id, None) is batch:
            batch.finished_at = time.monotonic()  # kept for the TTL from delivery on
            self._evictable[batch.batch_id] = batch
            self._evict_for_size()

    def discard(self, batch_id: str) -> None:
        self._running.pop(batch_id, None)
        for kept in (self._evictable, self._protected):
            old = kept.pop(batch_id, None)
            if old is not None:
                self._finished_bytes -= old.stored_bytes

    def running_batches(self) -> list[Batch]:
        return list(self._running.values())

    @property
    def full(self) -> bool:
        """Results nobody has collected yet fill the cache: take no new batches until they go."""
        self._evict_expired()
        return self._finished_bytes > self.max_bytes and not self._evictable

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def finished(self) -> int:
        return len(self._evictable) + len(self._protected)

    @property
    def finished_bytes(self) -> int:
        return self._finished_bytes

    def _evict_for_size(self) -> None:
        while self._finished_bytes > self.max_bytes and self._evictable:
            self._pop_oldest(self._evictable)

    def _evict_expired(self) -> None:
        cutoff = time.monotonic() - self.ttl_s
        for kept in (self._evictable, self._protected):
            while kept and next(iter(kept.values())).finished_at <= cutoff:
                self._pop_oldest(kept)

    def _pop_oldest(self, kept: OrderedDict) -> None:
        _, batch = kept.popitem(last=False)
        self._finished_bytes -= batch.stored_bytes
