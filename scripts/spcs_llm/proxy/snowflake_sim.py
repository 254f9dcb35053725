"""A client that drives /complete the way a Snowflake service function does, for tests and benchmarks.

What it copies from the documented behaviour (spcs_facts.md §6; docs.snowflake.com
external-functions-data-format and -implementation; release note bcr-1938):
- rows split into batches of MAX_BATCH_ROWS, each POSTed as ``{"data": [[i, arg], ...]}`` with an
  ``sf-external-function-query-batch-id`` header that stays the same on polls and retries;
- on 202 it polls with GET and the same headers until the answer is not 202;
- 404, 429, 500, 502, 503 and 504 are retried after an exponential backoff, up to
  MAX_BATCH_RETRIES (default 3, so 4 attempts); any other status fails the batch at once, and
  one failed batch fails the query (ON_BATCH_FAILURE = ABORT).
What it cannot know and so chooses: the backoff base, the poll interval and how many batches
run at once (Snowflake does not document them); connection errors count as retryable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp

BATCH_ID_HEADER = "sf-external-function-query-batch-id"
RETRIED_STATUSES = (404, 429, 500, 502, 503, 504)
NO_ANSWER = 0  # connection error or timeout: recorded as status 0 and retried


@dataclass
class BatchReport:
    batch_id: str
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)  # one per POST or poll answer
    data: list | None = None  # the delivered rows, when the batch succeeded

    @property
    def delivered(self) -> bool:
        return self.data is not None


@dataclass
class QueryReport:
    batches: list[BatchReport]

    @property
    def delivered_batches(self) -> int:
        return sum(b.delivered for b in self.batches)

    @property
    def failed(self) -> bool:
        return self.delivered_batches < len(self.batches)

    def values(self) -> list:
        """Every row's value in query order (only meaningful when no batch failed)."""
        return [value for b in self.batches for _, value in (b.data or [])]


class SnowflakeLikeClient:
    def __init__(self, url: str, *, batch_rows: int = 32, max_batch_retries: int = 3, parallel: int = 8,
                 backoff_s: float = 0.05, poll_s: float = 0.02, call_timeout_s: float = 30.0):
        self.url = url.rstrip("/") + "/complete"
        self.batch_rows = batch_rows
        self.max_batch_retries = max_batch_retries
        self.parallel = parallel
        self.backoff_s = backoff_s
        self.poll_s = poll_s
        self.call_timeout_s = call_timeout_s

    async def query(self, args: list, query_id: str = "q1") -> QueryReport:
        """Call the function once per value of `args` (one argument per row)."""
        chunks = [args[i:i + self.batch_rows] for i in range(0, len(args), self.batch_rows)]
        gate = asyncio.Semaphore(self.parallel)
        timeout = aiohttp.ClientTimeout(total=self.call_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async def one(n: int, chunk: list) -> BatchReport:
                async with gate:
                    return await self._batch(session, f"{query_id}:{n}", chunk)

            reports = await asyncio.gather(*(one(n, chunk) for n, chunk in enumerate(chunks)))
        return QueryReport(list(reports))

    async def _batch(self, session: aiohttp.ClientSession, batch_id: str, chunk: list) -> BatchReport:
        report = BatchReport(batch_id)
        body = {"data": [[i, arg] for i, arg in enumerate(chunk)]}
        headers = {BATCH_ID_HEADER: batch_id, "sf-external-function-format": "json",
                   "sf-external-function-format-version": "1.0"}
        while report.attempts <= self.max_batch_retries:
            report.attempts += 1
            status, payload = await self._call(session.post(self.url, json=body, headers=headers))
            while status == 202:
                report.statuses.append(status)
                await asyncio.sleep(self.poll_s)
                status, payload = await self._call(session.get(self.url, headers=headers))
            report.statuses.append(status)
            if status == 200:
                report.data = payload["data"]
                return report
            if status not in RETRIED_STATUSES and status != NO_ANSWER:
                return report
            await asyncio.sleep(self.backoff_s * 2 ** (report.attempts - 1))
        return report

    async def _call(self, request) -> tuple[int, dict | None]:
        try:
            async with request as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return NO_ANSWER, None
