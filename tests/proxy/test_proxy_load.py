"""10,000 rows through the proxy: nothing lost, duplicated or reordered."""

from __future__ import annotations

import asyncio

BATCHES, ROWS = 20, 500


def test_ten_thousand_rows_in_twenty_batches(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=64, max_pending_rows=4 * ROWS) as s:
            parallel = asyncio.Semaphore(4)  # like a warehouse sending a few batches at a time

            async def one(b: int):
                rows = [[i, f"b{b}-r{i}"] for i in range(ROWS)]
                async with parallel:
                    return b, await s.post(rows, batch_id=f"load:{b}")

            results = await asyncio.gather(*(one(b) for b in range(BATCHES)))
            seen = []
            for b, (status, body) in results:
                assert status == 200
                assert [i for i, _ in body["data"]] == list(range(ROWS))
                assert [v for _, v in body["data"]] == [f"echo: b{b}-r{i}" for i in range(ROWS)]
                seen.extend(v for _, v in body["data"])
            assert len(seen) == len(set(seen)) == BATCHES * ROWS
            assert s.backend.requests == BATCHES * ROWS  # each row sent to vLLM exactly once
            assert s.backend.max_in_flight <= 64
            assert s.proxy.stats["rows"] == BATCHES * ROWS and s.proxy.stats["row_errors"] == 0

    arun(scenario())
