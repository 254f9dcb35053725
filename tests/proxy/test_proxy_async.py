"""Snowflake's asynchronous protocol: 202 after the sync budget, polling GETs, idempotent retries."""

from __future__ import annotations

import asyncio
import time

from spcs_llm.proxy.batches import Batch, BatchStore, Outcome


def test_slow_batch_answers_202_then_polls_return_the_result(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(sync_budget=0.2) as s:
            rows = [[i, f"r{i} #sleep=0.6"] for i in range(5)]
            status, body = await s.post(rows, batch_id="q1:b1")
            assert status == 202
            assert body["batch_id"] == "q1:b1" and body["rows"] == 5
            status, _ = await s.poll("q1:b1")
            assert status == 202  # still running
            # Snowflake retries the POST (same batch id) while it runs: the rows must not run twice.
            status, _ = await s.post(rows, batch_id="q1:b1")
            assert status == 202
            assert s.backend.requests == 5
            await s.wait_until(lambda: s.proxy.pending_rows == 0)
            status, body = await s.poll("q1:b1")
            assert status == 200
            assert body["data"] == [[i, f"echo: r{i} #sleep=0.6"] for i in range(5)]
            # Polling again, or a late retry of the POST, gets the kept result without new calls.
            assert (await s.poll("q1:b1"))[0] == 200
            status, again = await s.post(rows, batch_id="q1:b1")
            assert (status, again) == (200, body)
            assert s.backend.requests == 5

    arun(scenario())


def test_repeated_post_within_budget_joins_the_running_batch(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(sync_budget=5) as s:
            rows = [[0, "a #sleep=0.3"], [1, "b #sleep=0.3"]]
            first, second = await asyncio.gather(s.post(rows, batch_id="dup"), s.post(rows, batch_id="dup"))
            assert first == second
            assert first[0] == 200
            assert s.backend.requests == 2

    arun(scenario())


def test_fast_batch_with_batch_id_answers_200_directly(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            status, body = await s.post([[0, "x"]], batch_id="fast")
            assert (status, body) == (200, {"data": [[0, "echo: x"]]})

    arun(scenario())


def test_batch_without_batch_id_waits_past_the_budget(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(sync_budget=0.1) as s:
            status, body = await s.post([[0, "x #sleep=0.3"]])  # nothing to poll by: no 202
            assert (status, body) == (200, {"data": [[0, "echo: x #sleep=0.3"]]})

    arun(scenario())


def test_failed_async_batch_reports_503_and_a_retry_runs_it_again(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(sync_budget=0.1, row_retries=0) as s:
            s.backend.fail_status = 500
            rows = [[0, "x #sleep=0.3"]]
            assert (await s.post(rows, batch_id="f1"))[0] == 202
            await s.wait_until(lambda: s.proxy.pending_rows == 0)
            status, body = await s.poll("f1")
            assert status == 503 and "500" in body["error"]
            s.backend.fail_status = None
            assert (await s.post(rows, batch_id="f1"))[0] == 202  # a retry after failure runs again
            await s.wait_until(lambda: s.proxy.pending_rows == 0)
            assert await s.poll("f1") == (200, {"data": [[0, "echo: x #sleep=0.3"]]})
            assert s.backend.requests == 2

    arun(scenario())


def test_poll_without_header_or_for_unknown_batch(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            status, body = await s.poll(None)
            assert status == 400 and "sf-external-function-query-batch-id" in body["error"]
            status, body = await s.poll("never-seen")
            assert status == 404 and "unknown batch id" in body["error"]

    arun(scenario())


def test_finished_results_expire_after_the_ttl(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(result_ttl=0.2) as s:
            assert (await s.post([[0, "x"]], batch_id="t1"))[0] == 200
            assert (await s.poll("t1"))[0] == 200
            await asyncio.sleep(0.3)
            assert (await s.poll("t1"))[0] == 404

    arun(scenario())


def _finished(batch_id: str, size: int) -> Batch:
    batch = Batch(batch_id, 1)
    batch.outcome = Outcome(200, b"x" * size, ok=1)
    batch.answers = None  # a 200 batch keeps only its body
    return batch


def test_store_evicts_oldest_finished_batches_beyond_the_size_cap():
    store = BatchStore(ttl_s=60, max_bytes=250)
    for name in ("a", "b", "c"):
        batch = _finished(name, 100)
        store.add(batch)
        store.finish(batch)
    assert store.get("a") is None  # 300 bytes > 250: the oldest went
    assert store.get("b") is not None and store.get("c") is not None
    assert store.finished_bytes == 200


def test_store_never_evicts_running_batches_and_drops_expired_ones():
    store = BatchStore(ttl_s=0.05, max_bytes=10)
    running = Batch("run", 3)
    store.add(running)
    done = _finished("done", 5)
    store.add(done)
    store.finish(done)
    time.sleep(0.1)
    assert store.get("done") is None
    assert store.get("run") is running
    assert (store.running, store.finished, store.finished_bytes) == (1, 0, 0)


def test_store_ignores_a_finish_from_a_batch_replaced_by_a_retry():
    store = BatchStore(ttl_s=60, max_bytes=1000)
    old, new = Batch("id", 1), Batch("id", 1)
    store.add(old)
    store.add(new)
    old.outcome = Outcome(503, b"{}")
    store.finish(old)
    assert store.get("id") is new


def test_store_never_evicts_an_uncollected_202_result_for_size_and_reports_full():
    store = BatchStore(ttl_s=60, max_bytes=250)
    waiting = Batch("async", 1)
    waiting.collected = False  # answered 202, Snowflake has not polled the result yet
    waiting.outcome = Outcome(200, b"x" * 100, ok=1)
    waiting.answers = None
    store.add(waiting)
    store.finish(waiting)
    for name in ("a", "b"):
        batch = _finished(name, 100)
        store.add(batch)
        store.finish(batch)
    assert store.get("async") is waiting  # the collected ones went first
    assert store.get("a") is None and store.get("b") is not None
    assert not store.full
    store.discard("b")
    late = Batch("late", 1)
    late.collected = False
    late.outcome = Outcome(200, b"y" * 200, ok=1)
    late.answers = None
    store.add(late)
    store.finish(late)
    assert store.full  # only uncollected results, over the cap: new batches get 429
    store.collected(waiting)
    assert store.get("async") is None and not store.full  # collected: now it may go


def test_store_counts_the_kept_rows_of_a_failed_batch():
    store = BatchStore(ttl_s=60, max_bytes=1000)
    batch = Batch("f", 3)
    batch.keep(0, [0, "a"], False)
    batch.kept_bytes = 8  # measured by the server when the attempt fails
    batch.outcome = Outcome(503, b"{}")
    store.add(batch)
    store.finish(batch)
    assert store.finished_bytes == 8 + 2
    store.discard("f")
    assert store.finished_bytes == 0
