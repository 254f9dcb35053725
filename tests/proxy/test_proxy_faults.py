"""Backend faults: a chaos vLLM and a Snowflake-like client (batch ids, 202 polling, 4 attempts).

Transient faults must cost a row's retry, not the batch; a permanent one fails only its row.
"""

from __future__ import annotations

import asyncio
import json

from spcs_llm.proxy.fake_backend import Chaos
from spcs_llm.proxy.snowflake_sim import SnowflakeLikeClient

ROWS, BATCH_ROWS, CONCURRENCY = 10_000, 32, 32
PERMANENT = 4_321  # the one row vLLM always fails


def _expected(args: list) -> list:
    return [f"echo: {arg}" for arg in args]


def test_ten_thousand_rows_at_5_and_2_percent_faults_are_all_delivered_in_order(proxy_stack, arun):
    async def scenario():
        chaos = Chaos(error_rate=0.05, malformed_rate=0.02, seed=7)
        async with proxy_stack(concurrency=CONCURRENCY, row_retries=4, backend={"chaos": chaos}) as s:
            args = [f"row {i}" for i in range(ROWS)]
            args[PERMANENT] = "poison #status=500"
            client = SnowflakeLikeClient(s.url, batch_rows=BATCH_ROWS, parallel=8)
            report = await client.query(args)

            assert len(report.batches) == 313
            assert report.delivered_batches == 313 and not report.failed
            values = report.values()
            expected = _expected(args)
            assert [v for i, v in enumerate(values) if i != PERMANENT] == \
                [v for i, v in enumerate(expected) if i != PERMANENT]
            for batch in report.batches:  # each batch echoes its row indexes in order
                assert [i for i, _ in batch.data] == list(range(len(batch.data)))
            error = values[PERMANENT]["error"]
            assert error["code"] == "backend_error" and "500" in error["message"]
            # Its batch took one Snowflake retry (only that row ran again); nearly all others none.
            assert sum(b.attempts > 1 for b in report.batches) <= 3
            assert report.batches[PERMANENT // BATCH_ROWS].statuses == [503, 200]

            faults = sum(s.backend.faults.values())
            assert faults > 500  # the chaos really happened (about 7 % of 10,000 calls)
            assert s.backend.requests / ROWS <= 1.5
            assert s.backend.max_in_flight <= CONCURRENCY
            assert s.proxy.backend.max_in_flight <= CONCURRENCY

    arun(scenario())


def test_hangs_and_replies_cut_off_mid_body_are_retried_and_never_exceed_the_slots(proxy_stack, arun):
    async def scenario():
        chaos = Chaos(truncated_rate=0.03, hang_rate=0.01, hang_s=5, error_rate=0.02, seed=3)
        async with proxy_stack(concurrency=8, request_timeout=0.1, row_timeout=5,
                               backend={"chaos": chaos}) as s:
            args = [f"r{i}" for i in range(1_000)]
            report = await SnowflakeLikeClient(s.url, batch_rows=8, parallel=4).query(args)
            assert not report.failed
            assert report.values() == _expected(args)
            assert s.backend.faults.get("hang", 0) > 0 and s.backend.faults.get("truncated", 0) > 0
            # Timed-out calls are aborted and keep their slot a moment: vLLM never sees more than 8.
            assert s.backend.max_in_flight <= 8

    arun(scenario())


def test_retried_batch_after_vllm_died_mid_batch_only_calls_the_unfinished_rows(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(row_retries=2) as s:
            rows = [[i, f"fast {i}"] for i in range(16)] + [[i, f"slow {i} #sleep=0.2"] for i in range(16, 32)]
            posting = asyncio.create_task(s.post(rows, batch_id="q:1"))
            await s.wait_until(lambda: s.backend.requests >= 32)
            s.backend.down = True  # vLLM dies while the slow rows run
            status, body = await posting
            assert status == 503
            assert "16 of 32 rows got no answer" in body["error"] and "16 finished rows are kept" in body["error"]
            kept = json.dumps([[i, f"echo: {arg}"] for i, arg in rows[:16]], ensure_ascii=False)
            assert s.proxy.store.finished_bytes >= len(kept)  # the kept rows count against the cache cap
            s.backend.down = False  # vLLM is back; Snowflake retries the batch
            before = s.backend.requests
            status, body = await s.post(rows, batch_id="q:1")
            assert status == 200
            assert body["data"] == [[i, f"echo: {arg}"] for i, arg in rows]
            assert s.backend.requests - before == 16
            assert s.proxy.stats["rows_kept_from_earlier_attempts"] == 16

    arun(scenario())


def test_a_retry_with_other_rows_under_the_same_batch_id_runs_them_all(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(row_retries=0) as s:
            s.backend.fail_status = 503
            assert (await s.post([[0, "a"], [1, "b"]], batch_id="q:2"))[0] == 503
            s.backend.fail_status = None
            status, body = await s.post([[0, "c"], [1, "d"]], batch_id="q:2")
            assert (status, body) == (200, {"data": [[0, "echo: c"], [1, "echo: d"]]})

    arun(scenario())


def test_a_lone_surrogate_in_an_answer_is_replaced_not_a_500(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            status, body = await s.post([[0, "half an emoji \ud83d."], [1, "whole \U0001F600"]])
            assert status == 200
            assert body["data"] == [[0, "echo: half an emoji \ufffd."], [1, "echo: whole \U0001F600"]]

    arun(scenario())


def test_too_many_rows_or_bytes_answer_a_clear_413(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(max_batch_rows=10, max_body_mb=0.01) as s:
            status, body = await s.post([[i, "x"] for i in range(11)])
            assert status == 413
            assert "11 rows; at most 10" in body["error"] and "MAX_BATCH_ROWS" in body["error"]
            status, body = await s.post([[0, "x" * 20_000]])
            assert status == 413 and "larger than 0.01 MiB" in body["error"]
            assert s.backend.requests == 0
            assert (await s.post([[i, "x"] for i in range(10)]))[0] == 200

    arun(scenario())


def test_a_caller_that_hangs_up_stops_its_batch_calling_vllm(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=2) as s:
            rows = [[i, f"r{i} #sleep=0.3"] for i in range(20)]
            posting = asyncio.create_task(s.post(rows))  # no batch id: nobody can collect it later
            await s.wait_until(lambda: s.backend.requests == 2)
            posting.cancel()  # the caller hangs up
            await asyncio.gather(posting, return_exceptions=True)
            await s.wait_until(lambda: s.proxy.pending_rows == 0 and s.backend.in_flight == 0)
            await asyncio.sleep(0.7)  # the slots are free again (grace over): nothing new starts
            assert s.backend.requests == 2
            assert s.proxy.stats["abandoned_batches"] == 1

    arun(scenario())


def test_a_batch_nobody_polls_any_more_is_abandoned_and_its_finished_rows_stay_kept(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=1, sync_budget=0.1, abandon_after=0.3) as s:
            rows = [[0, "quick"]] + [[i, f"slow {i} #sleep=0.25"] for i in range(1, 10)]
            assert (await s.post(rows, batch_id="q:3"))[0] == 202  # then Snowflake gives up: no polls
            await s.wait_until(lambda: s.proxy.stats["abandoned_batches"] == 1, timeout=3)
            await s.wait_until(lambda: s.proxy.pending_rows == 0)
            called = s.backend.requests
            assert called < 10
            status, body = await s.poll("q:3")
            assert status == 503 and "abandoned" in body["error"]
            status, body = await s.post(rows, batch_id="q:3")  # a later retry of the batch resumes it
            while status == 202:  # this time Snowflake keeps polling
                await asyncio.sleep(0.05)
                status, body = await s.poll("q:3")
            assert status == 200 and [v for _, v in body["data"]] == [f"echo: {arg}" for _, arg in rows]
            # Rows answered before the abandonment were not sent again (the aborted one was).
            assert s.backend.requests <= 10 + 1

    arun(scenario())


def test_a_timed_out_call_keeps_its_slot_until_vllm_has_dropped_it(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=1, row_timeout=0.2) as s:
            status, body = await s.post([[0, "hangs #sleep=5"]])
            assert status == 200 and body["data"][0][1]["error"]["code"] == "timeout"
            assert s.proxy.backend.in_flight == 1  # the aborted call still counts for a short grace
            await s.wait_until(lambda: s.backend.in_flight == 0)  # vLLM's side ended it
            await s.wait_until(lambda: s.proxy.backend.in_flight == 0, timeout=2)
            assert (await s.post([[0, "next"]]))[1] == {"data": [[0, "echo: next"]]}

    arun(scenario())
