"""POST /complete over real HTTP: order, row formats, concurrency bound, every error path."""

from __future__ import annotations

import asyncio
import json

from spcs_llm.proxy.rows import is_error_value


def test_order_preserved_one_row_per_input_when_rows_finish_out_of_order(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=16) as s:
            # Later rows finish first: the reply must still follow the input order.
            rows = [[i, f"row {i} #sleep={0.002 * (40 - i):.3f}"] for i in range(40)]
            status, body = await s.post(rows)
            assert status == 200
            assert [r[0] for r in body["data"]] == list(range(40))
            assert [r[1] for r in body["data"]] == [f"echo: row {i} #sleep={0.002 * (40 - i):.3f}"
                                                   for i in range(40)]
            assert s.backend.requests == 40

    arun(scenario())


def test_row_indexes_are_echoed_not_renumbered(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            status, body = await s.post([[7, "a"], [3, "b"], [7, "c"]])
            assert status == 200
            assert body["data"] == [[7, "echo: a"], [3, "echo: b"], [7, "echo: c"]]

    arun(scenario())


def test_concurrency_bound_is_process_wide(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=4, backend={"latency": 0.03}) as s:
            batches = [[[i, f"b{b} r{i}"] for i in range(20)] for b in range(3)]
            results = await asyncio.gather(*(s.post(rows) for rows in batches))
            assert all(status == 200 for status, _ in results)
            # Three batches at once, still never more than 4 calls in flight; and the bound was used.
            assert s.backend.max_in_flight == 4
            assert s.backend.requests == 60

    arun(scenario())


def test_rows_of_a_batch_run_concurrently(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=32, backend={"latency": 0.2}) as s:
            loop = asyncio.get_running_loop()
            started = loop.time()
            status, _ = await s.post([[i, f"p{i}"] for i in range(32)])
            elapsed = loop.time() - started
            assert status == 200
            assert s.backend.max_in_flight == 32
            assert elapsed < 0.2 * 4  # row by row would take 32 x 0.2 s

    arun(scenario())


def test_row_formats_and_params_reach_vllm_as_chat_requests(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(model="served-model", backend={"model": "served-model"}) as s:
            s.backend.record_bodies = True
            messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "m"}]
            rows = [
                [0, "plain"],
                [1, messages],
                [2, {"messages": [{"role": "user", "content": "d"}], "temperature": 0.5}],
                [3, json.dumps({"messages": [{"role": "user", "content": "j"}]})],
                [4, json.dumps(messages)],
                [5, "with params", {"max_tokens": 16, "temperature": 0}],
                [6, "params as text", '{"max_tokens": 8}'],
                [7, "full", {"return_format": "full"}],
                [8, None],
                [9, "null params", None],
            ]
            status, body = await s.post(rows)
            assert status == 200
            values = dict(body["data"])
            assert values[0] == "echo: plain"
            assert values[1] == "echo: m"
            assert values[2] == "echo: d"
            assert values[3] == "echo: j"
            assert values[4] == "echo: m"
            assert values[5] == "echo: with params"
            assert values[6] == "echo: params as text"
            assert values[7]["choices"][0]["message"]["content"] == "echo: full"
            assert values[8] is None  # SQL NULL in, NULL out, no call
            assert values[9] == "echo: null params"
            sent = {b["messages"][-1]["content"]: b for b in s.backend.bodies}
            assert len(s.backend.bodies) == 9
            assert all(b["model"] == "served-model" for b in s.backend.bodies)
            assert all("return_format" not in b and "stream" not in b for b in s.backend.bodies)
            assert sent["with params"]["max_tokens"] == 16 and sent["with params"]["temperature"] == 0
            assert sent["params as text"]["max_tokens"] == 8
            assert sent["d"]["temperature"] == 0.5
            assert sent["m"]["messages"] == messages

    arun(scenario())


def test_model_is_discovered_when_not_configured(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(backend={"model": "only-model"}) as s:
            s.backend.record_bodies = True
            status, _ = await s.post([[0, "x"], [1, "y"]])
            assert status == 200
            assert {b["model"] for b in s.backend.bodies} == {"only-model"}

    arun(scenario())


def test_malformed_rows_get_error_values_and_the_rest_is_answered(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            rows = [[0, "good"], "not a row", [], [2], [3, 42], [4, "x", "not json"], [5, "a", {}, "extra"],
                    ["idx", "y"], [8, {"no": "messages"}], [9, "s", {"stream": True}], [10, "   "],
                    [11, "ok too"]]
            status, body = await s.post(rows)
            assert status == 200
            assert len(body["data"]) == len(rows)
            values = [value for _, value in body["data"]]
            assert values[0] == "echo: good" and values[-1] == "echo: ok too"
            for value in values[1:-1]:
                assert is_error_value(value), value
                assert value["error"]["code"] == "invalid_row"
                assert value["error"]["message"]
            # Rows without a usable index are answered at their position in the batch.
            assert [i for i, _ in body["data"]] == [0, 1, 2, 2, 3, 4, 5, 7, 8, 9, 10, 11]
            assert s.backend.requests == 2

    arun(scenario())


def test_vllm_4xx_for_one_row_is_a_per_row_error(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            rows = [[0, "fine"], [1, "too long #status=400"], [2, "big", {"max_tokens": 10**6}], [3, "fine too"]]
            status, body = await s.post(rows)
            assert status == 200
            values = dict(body["data"])
            assert values[0] == "echo: fine" and values[3] == "echo: fine too"
            assert values[1] == {"error": {"code": "backend_rejected", "message": "injected failure 400",
                                           "status": 400}}
            assert values[2]["error"]["status"] == 400
            assert "maximum context length" in values[2]["error"]["message"]

    arun(scenario())


def test_a_row_vllm_always_fails_becomes_its_error_value_while_its_neighbours_succeed(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(row_retries=3) as s:
            status, body = await s.post([[0, "ok"], [1, "boom #status=500"], [2, "ok"]])
            assert status == 200
            values = dict(body["data"])
            assert values[0] == "echo: ok" and values[2] == "echo: ok"
            error = values[1]["error"]
            assert error["code"] == "backend_error"
            assert "4 attempts" in error["message"] and "vLLM answered 500" in error["message"]
            assert s.backend.requests == 2 + 4  # the failing row: first call and 3 retries

    arun(scenario())


def test_vllm_failing_every_call_fails_the_batch_with_503_after_the_retries(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(row_retries=2) as s:
            s.backend.fail_status = 502
            status, body = await s.post([[0, "a"], [1, "b"]])
            assert status == 503
            assert "2 of 2 rows got no answer" in body["error"] and "502" in body["error"]
            assert s.backend.requests == 2 * 3

    arun(scenario())


def test_vllm_429_on_every_retry_fails_the_batch_with_429(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(row_retries=1) as s:
            status, body = await s.post([[0, "busy #status=429"]])
            assert status == 429 and "overloaded" in body["error"]
            assert s.backend.requests == 2

    arun(scenario())


def test_vllm_unreachable_gives_503(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(backend_url="http://127.0.0.1:9", row_retries=1) as s:  # discard port
            status, body = await s.post([[0, "hello"]])
            assert status == 503
            assert "connection failed" in body["error"] or "models" in body["error"]
        async with proxy_stack(backend_url="http://127.0.0.1:9", model="m", row_retries=1) as s:
            status, body = await s.post([[0, "hello"]])
            assert status == 503
            assert "connection failed" in body["error"]

    arun(scenario())


def test_a_row_past_its_row_timeout_becomes_a_timeout_error_and_its_call_is_aborted(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(row_timeout=0.3) as s:
            loop = asyncio.get_running_loop()
            started = loop.time()
            status, body = await s.post([[0, "fast"], [1, "hangs #sleep=30"], [2, "fast too"]])
            assert loop.time() - started < 2
            assert status == 200
            values = dict(body["data"])
            assert values[0] == "echo: fast" and values[2] == "echo: fast too"
            assert values[1]["error"]["code"] == "timeout"
            assert "within 0.3 s" in values[1]["error"]["message"]
            # The hanging call was cut off at vLLM, not left running there for nobody.
            await s.wait_until(lambda: s.backend.in_flight == 0, timeout=2)

    arun(scenario())


def test_a_slow_attempt_is_retried_within_the_row_timeout(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(request_timeout=0.2, row_timeout=10, row_retries=1) as s:
            s.backend.slow_first_calls = 1  # the first call hangs, the retry answers
            status, body = await s.post([[0, "x"]])
            assert (status, body) == (200, {"data": [[0, "echo: x"]]})
            assert s.backend.requests == 2

    arun(scenario())


def test_overload_beyond_pending_limit_gives_429(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=1, max_pending_rows=4) as s:
            first = asyncio.create_task(s.post([[i, f"r{i} #sleep=0.1"] for i in range(4)]))
            await s.wait_until(lambda: s.proxy.pending_rows == 4)
            status, body = await s.post([[0, "one more"]])
            assert status == 429
            assert "overloaded" in body["error"]
            status, body = await first
            assert status == 200 and len(body["data"]) == 4
            status, _ = await s.post([[0, "room again"]])
            assert status == 200

    arun(scenario())


def test_a_batch_larger_than_the_limit_runs_when_nothing_else_is_pending(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(concurrency=2, max_pending_rows=3) as s:
            status, body = await s.post([[i, str(i)] for i in range(10)])
            assert status == 200 and len(body["data"]) == 10

    arun(scenario())


def test_bad_bodies_give_400(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            for raw in (b"not json", b'{"rows": []}', b"[1, 2]", b'{"data": {"0": "x"}}', b"\xff\xfe",
                        b'{"data": ' + b"[" * 100_000):
                status, body = await s.post(None, raw=raw)
                assert status == 400, raw
                assert "data" in body["error"] or "JSON" in body["error"]
            status, body = await s.post([])
            assert (status, body) == (200, {"data": []})

    arun(scenario())
