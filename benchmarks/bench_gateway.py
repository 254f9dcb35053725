#!/usr/bin/env python3
"""Benchmark what the local gateway (spcs-llm gateway) adds between an OpenAI client and the ingress.

Against the ingress simulator of tests/rest (answers at once, or streams a token every D s):
(a) latency added per non-streamed request: p50 through the gateway minus p50 direct, one at a
    time. Goal: under 2 ms (the ingress and the model take 100s of ms). At concurrency 16 the
    added latency is queueing behind the gateway's CPU time per request, so the goal there is
    throughput: at least 500 requests/s, far above what one LLM service answers.
(b) streaming is relayed, not buffered: time to first token through the gateway stays within
    5 ms of direct while the whole answer takes 10 x D. Goal: both hold.
The gateway runs as `spcs-llm gateway` in its own process; the simulator runs in a thread of the
benchmark (apart from the client's event loop), so "direct" numbers also carry some GIL sharing.
Prints a table (or --json) and exits 1 if a goal is missed. Not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "scripts"))  # appended: scripts/ has step scripts named like stdlib modules
sys.path.append(str(ROOT / "tests" / "rest"))

ADDED_GOAL_MS = 2.0
TTFT_GOAL_MS = 5.0
RPS_GOAL = 500  # an LLM service answers tens of requests/s; a shared 2-CPU machine (load 7) measured 570-3000
TOKEN = "bench-token-0123456789"
MODEL = "BENCH_MODEL"


async def timed(session: aiohttp.ClientSession, url: str, headers: dict, *, stream: bool) -> tuple[float, float]:
    """(time to first body byte, total) in seconds for one chat request."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "stream": stream}
    started = time.perf_counter()
    first = None
    async with session.post(url + "/v1/chat/completions", json=body, headers=headers) as response:
        async for _ in response.content.iter_any():
            first = first or time.perf_counter() - started
        assert response.status == 200, response.status
    return first or 0.0, time.perf_counter() - started


async def series(url: str, headers: dict, n: int, concurrency: int, stream: bool) -> list[tuple[float, float]]:
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:
        async def one():
            async with gate:
                return await timed(session, url, headers, stream=stream)
        return await asyncio.gather(*(one() for _ in range(n)))


def start_gateway(upstream: str) -> tuple[subprocess.Popen, str]:
    """`spcs-llm gateway` in its own process, as a user runs it; returns (process, base URL)."""
    env = {**os.environ, "BENCH_PAT": TOKEN}  # the pack is installed (pip install -e .)
    proc = subprocess.Popen([sys.executable, "-m", "spcs_llm.cli", "gateway", "--endpoint", upstream, "--pat-env",
                             "BENCH_PAT", "--port", "0", "--model", MODEL], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "gateway listening" in line:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining its log
            return proc, line.split(": ", 1)[1].strip().removesuffix("/v1")
    raise SystemExit("the gateway did not start")


def start_simulator(delay_box: dict):
    """The ingress simulator on its own event loop in a thread (apart from the client's loop)."""
    from ingress_sim import IngressSimulator

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    sim = IngressSimulator({TOKEN: True}, model=MODEL, reply_tokens=10)
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(10)
    delay_box["sim"] = sim
    return sim


async def main(n: int, delay: float) -> dict:
    direct_headers = {"Authorization": f'Snowflake Token="{TOKEN}"'}
    out: dict = {"requests": n}
    box: dict = {}
    sim = start_simulator(box)
    proc, gw_url = start_gateway(sim.url)
    try:
        for concurrency in (1, 16):
            await series(gw_url, {}, 20, concurrency, False)  # warm-up
            direct = [t for _, t in await series(sim.url, direct_headers, n, concurrency, False)]
            started = time.perf_counter()
            via = [t for _, t in await series(gw_url, {"Authorization": "Bearer x"}, n, concurrency, False)]
            wall = time.perf_counter() - started
            out[f"c{concurrency}"] = {"direct_p50_ms": 1000 * statistics.median(direct),
                                      "gateway_p50_ms": 1000 * statistics.median(via),
                                      "gateway_requests_per_s": n / wall}
            out[f"c{concurrency}"]["added_ms"] = out[f"c{concurrency}"]["gateway_p50_ms"] - \
                out[f"c{concurrency}"]["direct_p50_ms"]
        sim.token_delay = delay
        direct = await series(sim.url, direct_headers, 10, 1, True)
        via = await series(gw_url, {}, 10, 1, True)
        out["stream"] = {"token_delay_s": delay,
                         "direct_ttft_ms": 1000 * statistics.median(f for f, _ in direct),
                         "gateway_ttft_ms": 1000 * statistics.median(f for f, _ in via),
                         "gateway_total_ms": 1000 * statistics.median(t for _, t in via)}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    s = out["stream"]
    out["goals"] = {
        "added_p50_under_2ms": out["c1"]["added_ms"] < ADDED_GOAL_MS,
        "sustains_500_rps": out["c16"]["gateway_requests_per_s"] >= RPS_GOAL,
        "stream_relayed": s["gateway_ttft_ms"] - s["direct_ttft_ms"] < TTFT_GOAL_MS
        and s["gateway_total_ms"] > 5 * s["gateway_ttft_ms"],
    }
    return out


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per series (default 300)")
    parser.add_argument("--token-delay", type=float, default=0.02, help="seconds between streamed tokens")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    result = asyncio.run(main(args.requests, args.token_delay))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key in ("c1", "c16"):
            r = result[key]
            print(f"concurrency {key[1:]:>2}: direct p50 {r['direct_p50_ms']:.2f} ms, via gateway "
                  f"{r['gateway_p50_ms']:.2f} ms, added {r['added_ms']:.2f} ms, "
                  f"{r['gateway_requests_per_s']:.0f} requests/s through the gateway")
        s = result["stream"]
        print(f"streaming: TTFT direct {s['direct_ttft_ms']:.1f} ms, via gateway {s['gateway_ttft_ms']:.1f} ms, "
              f"whole answer {s['gateway_total_ms']:.1f} ms (relayed, not buffered: goal TTFT within "
              f"{TTFT_GOAL_MS} ms)")
        print("goals: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in result["goals"].items()))
    return 0 if all(result["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(run())
