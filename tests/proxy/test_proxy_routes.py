"""/v1/* pass-through (streaming included), /health states, draining on shutdown."""

from __future__ import annotations

import asyncio


def test_streaming_passthrough_relays_chunks_as_they_come(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(backend={"chunk_delay": 0.1}) as s:
            loop = asyncio.get_running_loop()
            request = {"model": "fake-model", "stream": True,
                       "messages": [{"role": "user", "content": "one two three four five six"}]}
            started = loop.time()
            arrivals, text = [], b""
            async with s.session.post(s.url + "/v1/chat/completions", json=request) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/event-stream")
                async for chunk in resp.content.iter_any():
                    arrivals.append(loop.time() - started)
                    text += chunk
            events = [line for line in text.decode().split("\n\n") if line]
            assert events[-1] == "data: [DONE]"
            assert len(events) == 8  # "echo:" + six words + [DONE]
            # Unbuffered: the first chunk arrived long before the stream ended (7 x 0.1 s).
            assert arrivals[0] < 0.35 and arrivals[-1] > 0.6
            assert len(arrivals) >= 4

    arun(scenario())


def test_plain_passthrough_keeps_status_body_and_query(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            status, body = await s.get("/v1/models?limit=5")
            assert status == 200 and body["data"][0]["id"] == "fake-model"
            request = {"model": "fake-model", "messages": [{"role": "user", "content": "bad #status=400"}]}
            async with s.session.post(s.url + "/v1/chat/completions", json=request) as resp:
                assert resp.status == 400
                assert (await resp.json())["message"] == "injected failure 400"
            async with s.session.get(s.url + "/v1/no-such-route") as resp:
                assert resp.status == 404  # vLLM's (here: the fake's) own answer

    arun(scenario())


def test_passthrough_with_vllm_down_gives_503(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(backend_url="http://127.0.0.1:9") as s:
            status, body = await s.get("/v1/models")
            assert status == 503 and "unreachable" in body["error"]

    arun(scenario())


def test_health_is_200_only_with_vllm_healthy_and_model_listed(proxy_stack, arun):
    async def scenario():
        async with proxy_stack(model="fake-model") as s:
            status, body = await s.get("/health")
            assert status == 200 and body["status"] == "ok"
            s.backend.health_status = 500
            status, body = await s.get("/health")
            assert status == 503 and "/health answered 500" in body["reason"]
            s.backend.health_status = 200
            s.backend.models = ["another-model"]
            status, body = await s.get("/health")
            assert status == 503 and "'fake-model' is not served" in body["reason"]
            s.backend.models = []
            status, body = await s.get("/health")
            assert status == 503
        async with proxy_stack(backend={"model": "whatever"}) as s:  # no model configured: any model
            status, body = await s.get("/health")
            assert status == 200 and body["models"] == ["whatever"]
            s.backend.models = []
            status, body = await s.get("/health")
            assert status == 503 and "no models" in body["reason"]
        async with proxy_stack(backend_url="http://127.0.0.1:9") as s:
            status, body = await s.get("/health")
            assert status == 503 and "unreachable" in body["reason"]

    arun(scenario())


def test_shutdown_finishes_running_batches_and_refuses_new_ones(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            running = asyncio.create_task(s.post([[0, "a #sleep=0.3"], [1, "b #sleep=0.3"]], batch_id="r"))
            await s.wait_until(lambda: s.proxy.pending_rows == 2)
            stopping = asyncio.create_task(s.proxy.stop(grace=5))
            await s.wait_until(lambda: s.proxy.draining)
            assert (await s.get("/health"))[0] == 503
            status, body = await s.post([[0, "new"]])
            assert status == 503 and "shutting down" in body["error"]
            assert await running == (200, {"data": [[0, "echo: a #sleep=0.3"], [1, "echo: b #sleep=0.3"]]})
            await stopping

    arun(scenario())


def test_shutdown_fails_batches_that_outlast_the_grace_with_503(proxy_stack, arun):
    async def scenario():
        async with proxy_stack() as s:
            loop = asyncio.get_running_loop()
            running = asyncio.create_task(s.post([[0, "slow #sleep=10"]]))
            await s.wait_until(lambda: s.proxy.pending_rows == 1)
            started = loop.time()
            await asyncio.gather(s.proxy.stop(grace=0.2), running)
            assert loop.time() - started < 3
            status, body = running.result()
            assert status == 503 and "shut down" in body["error"]

    arun(scenario())
