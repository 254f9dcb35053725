#!/usr/bin/env python3
"""Benchmark the service-function proxy against the fake vLLM, beside a row-by-row proxy.

(a) Batch completion time: one batch of N rows (N up to the concurrency limit) whose backend
    calls take L seconds each, through our proxy and through a row-by-row proxy (the design of
    the public kits: rows handled one after another, a new HTTP client per row).
    Goal: our proxy finishes within 1.5 x L; row by row needs about N x L.
(b) Overhead per row with a zero-latency backend, at ~1,000 rows/s in batches (as Snowflake
    sends them): the proxy keeps up, its CPU time per row, and how much slower a batch is via
    the proxy than when the caller fans the rows out to the backend itself. Goal: under 2 ms per
    row. Also reported, not gated: the latency a lone row gains, beside a bare aiohttp hop that
    shows how much of it any extra HTTP hop costs.
(c) Faults: 10,000 rows driven like a Snowflake query (batches of 32 with a batch id, 202
    polling, 4 attempts per batch) through a backend that fails 5 % of calls with 500 and 2 %
    with a malformed 200 body, with the proxy's row retries on (default) and off (--row-retries 0).
    Goal with retries on: every batch delivered, at most 1.5 backend calls per row, and never
    more calls in flight at the backend than the proxy's concurrency.

Backend, proxy and row-by-row proxy each run in their own process, as in the container.
Prints a table (or --json) and exits 1 if a goal is missed. Not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "scripts"))  # appended: scripts/ has step scripts named like stdlib modules

BATCH_TIME_GOAL = 1.5  # x L
OVERHEAD_GOAL_MS = 2.0
CALLS_PER_ROW_GOAL = 1.5


# ---- reference servers: the row-by-row baseline (what the public kits do) and a bare HTTP hop ----

def serve_reference(kind: str, backend: str, model: str) -> None:
    """kind "row-by-row": each row in turn, a fresh client per row (the kits' design).
    kind "bare-hop": forwards a chat request unchanged over a shared client; it shows what one
    extra HTTP hop costs by itself, so the proxy's own share of the overhead can be told apart."""
    from aiohttp import web

    async def row_by_row(request: web.Request) -> web.Response:
        out = []
        for row in (await request.json())["data"]:
            async with aiohttp.ClientSession() as session:  # new client per row, as in the kits
                body = {"model": model, "messages": [{"role": "user", "content": row[1]}]}
                async with session.post(f"{backend}/v1/chat/completions", json=body) as resp:
                    reply = await resp.json()
            out.append([row[0], reply["choices"][0]["message"]["content"]])
        return web.json_response({"data": out})

    async def bare_hop(request: web.Request) -> web.Response:
        async with shared[0].post(f"{backend}/v1/chat/completions", data=await request.read(),
                                  headers={"Content-Type": "application/json"}) as resp:
            return web.Response(body=await resp.read(), content_type="application/json")

    shared: list[aiohttp.ClientSession] = []

    async def main() -> None:
        shared.append(aiohttp.ClientSession())
        app = web.Application()
        if kind == "row-by-row":
            app.router.add_post("/complete", row_by_row)
        else:
            app.router.add_post("/v1/chat/completions", bare_hop)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"READY {site._server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# ---- processes ------------------------------------------------------------------------------------

class Proc:
    def __init__(self, args: list[str], env: dict | None = None, ready_on: str = "stdout"):
        self.popen = subprocess.Popen(args, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stream = self.popen.stdout if ready_on == "stdout" else self.popen.stderr
        self.port = self._wait_port(stream)
        # Keep draining both pipes so logging never blocks the process.
        for pipe in (self.popen.stdout, self.popen.stderr):
            threading.Thread(target=_drain, args=(pipe,), daemon=True).start()

    def _wait_port(self, stream) -> int:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = stream.readline()
            if line.startswith("READY "):
                return int(line.split()[1])
            if "listening on http://" in line:
                return int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
            if not line and self.popen.poll() is not None:
                break
        raise SystemExit(f"could not start {self.popen.args}: {self.popen.stderr.read()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def _drain(pipe) -> None:
    for _ in pipe:
        pass


# ---- measurements ---------------------------------------------------------------------------------

async def post_batch(session: aiohttp.ClientSession, url: str, rows: list) -> float:
    started = time.perf_counter()
    async with session.post(url + "/complete", json={"data": rows}) as resp:
        body = await resp.json()
    elapsed = time.perf_counter() - started
    if resp.status != 200 or len(body["data"]) != len(rows):
        raise SystemExit(f"batch failed: {resp.status} {str(body)[:200]}")
    return elapsed


async def direct_call(session: aiohttp.ClientSession, url: str, prompt: str, model: str) -> float:
    """One chat request to `url` (the backend, or the bare hop in front of it)."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    started = time.perf_counter()
    async with session.post(url + "/v1/chat/completions", json=body) as resp:
        (await resp.json())["choices"][0]["message"]["content"]
    return time.perf_counter() - started


async def direct_fanout(session: aiohttp.ClientSession, url: str, rows: list, model: str) -> float:
    """A batch's rows sent straight to the backend at once by the caller itself."""
    started = time.perf_counter()
    await asyncio.gather(*(direct_call(session, url, prompt, model) for _, prompt in rows))
    return time.perf_counter() - started


async def batch_times(proxy: Proc, baseline: Proc, sizes: list[int], latency: float, repeats: int) -> list[dict]:
    results = []
    async with aiohttp.ClientSession() as session:
        await post_batch(session, proxy.url, [[0, "warm-up"]])
        for n in sizes:
            rows = [[i, f"row {i} #sleep={latency}"] for i in range(n)]
            ours = statistics.median([await post_batch(session, proxy.url, rows) for _ in range(repeats)])
            row_by_row = await post_batch(session, baseline.url, rows)
            results.append({
                "rows": n, "latency_s": latency, "concurrent_s": round(ours, 3),
                "concurrent_x_latency": round(ours / latency, 2), "row_by_row_s": round(row_by_row, 3),
                "row_by_row_x_latency": round(row_by_row / latency, 2),
                "speedup": round(row_by_row / ours, 1), "goal_met": ours <= BATCH_TIME_GOAL * latency,
            })
    return results


async def paced(send, rate: float, batch_rows: int, duration: float) -> tuple[list[float], float]:
    """Start one batch every batch_rows/rate seconds for `duration`; return latencies, rows/s."""
    interval = batch_rows / rate
    count = max(1, int(duration / interval))
    started = time.perf_counter()
    tasks = []
    for i in range(count):
        delay = started + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        rows = [[r, f"b{i} r{r}"] for r in range(batch_rows)]
        tasks.append(asyncio.create_task(send(rows)))
    latencies = await asyncio.gather(*tasks)
    return latencies, count * batch_rows / (time.perf_counter() - started)


async def overhead(proxy: Proc, backend: Proc, hop: Proc, rate: float, batch_rows: int, duration: float,
                   samples: int, model: str) -> dict:
    """Three views of the proxy's cost with a zero-latency backend:
    - one row alone: proxy vs direct vs a bare HTTP hop (one at a time, so the client is idle);
    - a batch of batch_rows: proxy vs the caller fanning the rows out itself (one batch at a time);
    - paced load at `rate` rows/s: throughput, batch latency and the proxy's CPU time per row."""
    def p50(values: list[float]) -> float:
        return statistics.median(values) * 1000

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=batch_rows + 16)) as session:
        for _ in range(20):  # warm every path
            await direct_call(session, backend.url, "warm", model)
            await direct_call(session, hop.url, "warm", model)
            await post_batch(session, proxy.url, [[0, "warm"]])
        direct, bare, via_proxy = [], [], []
        for i in range(samples):  # interleaved, so drifts in machine load hit all paths alike
            direct.append(await direct_call(session, backend.url, f"row {i}", model))
            bare.append(await direct_call(session, hop.url, f"row {i}", model))
            via_proxy.append(await post_batch(session, proxy.url, [[0, f"row {i}"]]))
        fanout, batched = [], []
        for b in range(max(10, samples // 10)):
            rows = [[r, f"b{b} r{r}"] for r in range(batch_rows)]
            fanout.append(await direct_fanout(session, backend.url, rows, model))
            batched.append(await post_batch(session, proxy.url, rows))
        await paced(lambda rows: post_batch(session, proxy.url, rows), rate, batch_rows, 1)
        cpu_before = proxy.cpu_seconds()
        loaded, proxy_rate = await paced(lambda rows: post_batch(session, proxy.url, rows),
                                         rate, batch_rows, duration)
        cpu_after = proxy.cpu_seconds()
    cpu_ms = None if cpu_before is None else (cpu_after - cpu_before) * 1000 / (len(loaded) * batch_rows)
    batch_added_ms = p50(batched) - p50(fanout)
    result = {
        "target_rows_per_s": rate, "batch_rows": batch_rows,
        "one_row_direct_ms": round(p50(direct), 3),
        "one_row_bare_hop_ms": round(p50(bare), 3),
        "one_row_proxy_ms": round(p50(via_proxy), 3),
        "one_row_added_ms": round(p50(via_proxy) - p50(direct), 3),
        "one_row_added_beyond_bare_hop_ms": round(p50(via_proxy) - p50(bare), 3),
        "batch_direct_fanout_ms": round(p50(fanout), 2),
        "batch_proxy_ms": round(p50(batched), 2),
        "batch_added_ms_per_row": round(batch_added_ms / batch_rows, 3),
        "loaded_rows_per_s": round(proxy_rate),
        "loaded_batch_ms_p50": round(p50(loaded), 2),
        "loaded_batch_ms_p95": round(statistics.quantiles(loaded, n=20)[-1] * 1000, 2),
        "proxy_cpu_ms_per_row": None if cpu_ms is None else round(cpu_ms, 3),
    }
    # The goal is about load (~1,000 rows/s in batches, as Snowflake sends them): the proxy keeps up,
    # costs under 2 ms of CPU per row, and a batch via the proxy is under 2 ms per row slower than
    # the caller fanning out the rows itself. The one-row figures are reported, not gated: they are
    # mostly the extra HTTP hop that any proxy adds (see one_row_added_beyond_bare_hop_ms).
    result["goal_met"] = (proxy_rate >= 0.9 * rate and batch_added_ms / batch_rows < OVERHEAD_GOAL_MS
                          and (cpu_ms is None or cpu_ms < OVERHEAD_GOAL_MS))
    return result


async def fetch_json(url: str) -> dict:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return await resp.json()


async def faults_run(proxy: Proc, chaos: Proc, rows: int, batch_rows: int, parallel: int) -> dict:
    """One Snowflake-like query of `rows` rows through `proxy`; the backend counts its calls."""
    from spcs_llm.proxy.snowflake_sim import SnowflakeLikeClient

    before = await fetch_json(chaos.url + "/fake/stats")
    args = [f"row {i}" for i in range(rows)]
    started = time.perf_counter()
    report = await SnowflakeLikeClient(proxy.url, batch_rows=batch_rows, parallel=parallel).query(args)
    elapsed = time.perf_counter() - started
    after = await fetch_json(chaos.url + "/fake/stats")
    delivered = [b for b in report.batches if b.delivered]
    right = all(value == f"echo: {args[n * batch_rows + i]}" for n, b in enumerate(report.batches)
                if b.delivered for i, value in b.data)
    return {
        "rows": rows, "batches": len(report.batches), "delivered_batches": len(delivered),
        "query_failed": report.failed, "values_right": right,
        "batch_attempts": sum(b.attempts for b in report.batches),
        "backend_calls_per_row": round((after["requests"] - before["requests"]) / rows, 3),
        "backend_max_in_flight": after["max_in_flight"], "elapsed_s": round(elapsed, 2),
        "faults_injected": sum(after["faults"].values()) - sum(before["faults"].values()),
    }


def faults(args, env: dict, model: str) -> list[dict]:
    """(c): the same query with the proxy's row retries at their default and switched off."""
    chaos = Proc([sys.executable, "-m", "spcs_llm.proxy.fake_backend", "--model", model,
                  "--latency", str(args.fault_latency), "--error-rate", "0.05", "--malformed-rate", "0.02",
                  "--seed", "1"], env=env)
    results = []
    try:
        for label, retries in (("row retries on (default)", None), ("row retries off", "0")):
            proxy_env = {**env, "PROXY_BACKEND_URL": chaos.url, "PROXY_PORT": "0", "SERVED_MODEL_NAME": model,
                         "PROXY_CONCURRENCY": "32", "PROXY_LOG_LEVEL": "WARNING"}
            if retries is not None:
                proxy_env["PROXY_ROW_RETRIES"] = retries
            proxy = Proc([sys.executable, "-m", "spcs_llm.proxy", "--log-level", "INFO"], env=proxy_env,
                         ready_on="stderr")
            try:
                result = asyncio.run(faults_run(proxy, chaos, args.fault_rows, 32, 8))
            finally:
                proxy.stop()
            result["proxy"] = label
            result["goal_met"] = (result["delivered_batches"] == result["batches"] and result["values_right"]
                                  and result["backend_calls_per_row"] <= CALLS_PER_ROW_GOAL
                                  and result["backend_max_in_flight"] <= 32)
            results.append(result)
    finally:
        chaos.stop()
    return results


# ---- report ---------------------------------------------------------------------------------------

def report(batches: list[dict], cost: dict, fault_runs: list[dict], args) -> str:
    from spcs_llm.output import table

    lines = [f"(a) one batch of N rows, backend latency L = {args.latency * 1000:.0f} ms, "
             f"proxy concurrency {args.concurrency} (goal: <= {BATCH_TIME_GOAL} x L)", ""]
    lines.append(table(batches, [("rows", "N"), ("concurrent_s", "proxy s"), ("concurrent_x_latency", "x L"),
                                 ("row_by_row_s", "row-by-row s"), ("row_by_row_x_latency", "x L"),
                                 ("speedup", "speedup"), ("goal_met", "goal met")]))
    lines += ["", f"(b) overhead at {cost['target_rows_per_s']:.0f} rows/s, {cost['batch_rows']} rows per batch, "
                  f"zero-latency backend (goal: < {OVERHEAD_GOAL_MS} ms per row)", ""]
    n = cost["batch_rows"]
    keys = [("one_row_direct_ms", "one row: direct to backend, p50 ms"),
            ("one_row_bare_hop_ms", "one row: through a bare aiohttp hop, p50 ms"),
            ("one_row_proxy_ms", "one row: through the proxy, p50 ms"),
            ("one_row_added_ms", "one row: added by the proxy, ms (not gated)"),
            ("one_row_added_beyond_bare_hop_ms", "one row: proxy cost beyond a bare hop, ms"),
            ("batch_direct_fanout_ms", f"{n}-row batch: caller fans out itself, p50 ms"),
            ("batch_proxy_ms", f"{n}-row batch: through the proxy, p50 ms"),
            ("batch_added_ms_per_row", f"{n}-row batch: added per row, ms (goal < 2)"),
            ("loaded_rows_per_s", "paced load: rows/s through the proxy"),
            ("loaded_batch_ms_p50", "paced load: batch p50, ms"),
            ("loaded_batch_ms_p95", "paced load: batch p95, ms"),
            ("proxy_cpu_ms_per_row", "paced load: proxy CPU per row, ms (goal < 2)"),
            ("goal_met", "goal met")]
    lines.append(table([{"what": label, "value": cost[key]} for key, label in keys],
                       [("what", "measure"), ("value", "value")]))
    lines += ["", f"(c) faults: {args.fault_rows:,} rows as a Snowflake query (32 rows per batch, batch id, "
                  f"202 polling, 4 attempts), backend {args.fault_latency * 1000:g} ms with 5 % 500s and 2 % "
                  f"malformed 200s, concurrency 32 (goal with retries on: all delivered, <= "
                  f"{CALLS_PER_ROW_GOAL} calls per row, in flight <= 32)", ""]
    if fault_runs:
        lines.append(table(fault_runs, [("proxy", "proxy"), ("delivered_batches", "delivered"),
                                        ("batches", "of batches"), ("batch_attempts", "batch attempts"),
                                        ("backend_calls_per_row", "calls per row"),
                                        ("backend_max_in_flight", "max in flight"), ("elapsed_s", "s"),
                                        ("goal_met", "goal met")]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="backend latency L for (a), seconds")
    parser.add_argument("--sizes", default="8,32,64", help="batch sizes N for (a), comma-separated")
    parser.add_argument("--concurrency", type=int, default=64, help="proxy concurrency (>= largest N)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size through our proxy (median)")
    parser.add_argument("--rate", type=float, default=1000, help="rows per second for (b)")
    parser.add_argument("--batch-rows", type=int, default=50, help="rows per batch for (b)")
    parser.add_argument("--duration", type=float, default=5, help="seconds of paced load for (b)")
    parser.add_argument("--samples", type=int, default=300, help="single-row calls per path for (b)")
    parser.add_argument("--fault-rows", type=int, default=10_000, help="rows of the query in (c); 0 skips (c)")
    parser.add_argument("--fault-latency", type=float, default=0.005, help="backend latency in (c), seconds")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    model = "bench-model"
    if args.serve:
        serve_reference(args.serve[0], args.serve[1], model)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    if max(sizes) > args.concurrency:
        parser.error(f"--sizes {args.sizes} exceeds --concurrency {args.concurrency}; N must be <= the limit")

    env = dict(os.environ)  # the children import spcs_llm from the installed (editable) package
    backend = Proc([sys.executable, "-m", "spcs_llm.proxy.fake_backend", "--model", model], env=env)
    proxy = baseline = hop = None
    try:
        proxy_env = {**env, "PROXY_BACKEND_URL": backend.url, "PROXY_PORT": "0", "SERVED_MODEL_NAME": model,
                     "PROXY_CONCURRENCY": str(args.concurrency)}
        proxy = Proc([sys.executable, "-m", "spcs_llm.proxy"], env=proxy_env, ready_on="stderr")
        baseline = Proc([sys.executable, __file__, "--serve", "row-by-row", backend.url], env=env)
        hop = Proc([sys.executable, __file__, "--serve", "bare-hop", backend.url], env=env)
        batches = asyncio.run(batch_times(proxy, baseline, sizes, args.latency, args.repeats))
        cost = asyncio.run(overhead(proxy, backend, hop, args.rate, args.batch_rows, args.duration,
                                    args.samples, model))
    finally:
        for proc in (hop, baseline, proxy, backend):
            if proc is not None:
                proc.stop()
    fault_runs = faults(args, env, model) if args.fault_rows > 0 else []
    # Only the default configuration is gated; "retries off" is shown for comparison.
    ok = (all(b["goal_met"] for b in batches) and cost["goal_met"]
          and all(r["goal_met"] for r in fault_runs if r["proxy"].endswith("(default)")))
    if args.json:
        print(json.dumps({"batch_time": batches, "overhead": cost, "faults": fault_runs, "all_goals_met": ok},
                         indent=2))
    else:
        print(report(batches, cost, fault_runs, args))
        print("\nall goals met" if ok else "\nGOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
