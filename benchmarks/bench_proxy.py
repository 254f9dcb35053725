#!/usr/bin/env python3
"""Benchmark the service-function proxy against the fake vLLM, beside a row-by-row proxy.

(a) Batch completion time: one batch of N rows (N up to the concurrency limit) whose backend
    calls take L seconds each, through our proxy and through a row-by-row proxy (the design of
    the public kits: rows handled one after another, a new HTTP client per row).
    Goal: our proxy finishes within 1.5 x L; row by row needs about N x L.
(b) Overhead per row at ~1,000 rows/s with a zero-latency backend: the same paced batches sent
    through the proxy and straight to the backend (the client fanning out the rows itself).
    Goal: under 2 ms per row, both in added wall time (amortised over a batch's rows) and in
    the proxy process's CPU time.

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


# ---- the row-by-row baseline (what the public kits do) -------------------------------------------

def serve_row_by_row(backend: str, model: str) -> None:
    """A baseline proxy: each row in turn, a fresh client per row, errors not distinguished."""
    from aiohttp import web

    async def complete(request: web.Request) -> web.Response:
        out = []
        for row in (await request.json())["data"]:
            async with aiohttp.ClientSession() as session:  # new client per row, as in the kits
                body = {"model": model, "messages": [{"role": "user", "content": row[1]}]}
                async with session.post(f"{backend}/v1/chat/completions", json=body) as resp:
                    reply = await resp.json()
            out.append([row[0], reply["choices"][0]["message"]["content"]])
        return web.json_response({"data": out})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/complete", complete)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
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


async def direct_batch(session: aiohttp.ClientSession, backend: str, rows: list, limit: asyncio.Semaphore,
                       model: str) -> float:
    """The same rows straight to the backend, fanned out by the client (no proxy in between)."""
    async def one(prompt: str) -> str:
        async with limit:
            body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
            async with session.post(backend + "/v1/chat/completions", json=body) as resp:
                return (await resp.json())["choices"][0]["message"]["content"]

    started = time.perf_counter()
    await asyncio.gather(*(one(prompt) for _, prompt in rows))
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


async def overhead(proxy: Proc, backend: Proc, rate: float, batch_rows: int, duration: float,
                   concurrency: int, model: str) -> dict:
    connector = aiohttp.TCPConnector(limit=concurrency + 32)
    async with aiohttp.ClientSession(connector=connector) as session:
        limit = asyncio.Semaphore(concurrency)
        # Warm both paths (connections, code paths) before measuring.
        await paced(lambda rows: direct_batch(session, backend.url, rows, limit, model), rate, batch_rows, 1)
        await paced(lambda rows: post_batch(session, proxy.url, rows), rate, batch_rows, 1)
        direct, direct_rate = await paced(
            lambda rows: direct_batch(session, backend.url, rows, limit, model), rate, batch_rows, duration)
        cpu_before = proxy.cpu_seconds()
        via_proxy, proxy_rate = await paced(
            lambda rows: post_batch(session, proxy.url, rows), rate, batch_rows, duration)
        cpu_after = proxy.cpu_seconds()
    rows_sent = len(via_proxy) * batch_rows
    added_ms = (statistics.median(via_proxy) - statistics.median(direct)) * 1000
    cpu_ms = None if cpu_before is None else (cpu_after - cpu_before) * 1000 / rows_sent
    result = {
        "target_rows_per_s": rate, "batch_rows": batch_rows, "rows": rows_sent,
        "proxy_rows_per_s": round(proxy_rate), "direct_rows_per_s": round(direct_rate),
        "direct_batch_ms_p50": round(statistics.median(direct) * 1000, 2),
        "proxy_batch_ms_p50": round(statistics.median(via_proxy) * 1000, 2),
        "proxy_batch_ms_p95": round(statistics.quantiles(via_proxy, n=20)[-1] * 1000, 2),
        "added_ms_per_batch": round(added_ms, 2),
        "added_ms_per_row": round(added_ms / batch_rows, 3),
        "proxy_cpu_ms_per_row": None if cpu_ms is None else round(cpu_ms, 3),
    }
    result["goal_met"] = (result["added_ms_per_row"] < OVERHEAD_GOAL_MS
                          and (cpu_ms is None or cpu_ms < OVERHEAD_GOAL_MS)
                          and proxy_rate >= 0.9 * rate)
    return result


# ---- report ---------------------------------------------------------------------------------------

def report(batches: list[dict], cost: dict, args) -> str:
    from spcs_llm.output import table

    lines = [f"(a) one batch of N rows, backend latency L = {args.latency * 1000:.0f} ms, "
             f"proxy concurrency {args.concurrency} (goal: <= {BATCH_TIME_GOAL} x L)", ""]
    lines.append(table(batches, [("rows", "N"), ("concurrent_s", "proxy s"), ("concurrent_x_latency", "x L"),
                                 ("row_by_row_s", "row-by-row s"), ("row_by_row_x_latency", "x L"),
                                 ("speedup", "speedup"), ("goal_met", "goal met")]))
    lines += ["", f"(b) overhead at {cost['target_rows_per_s']:.0f} rows/s, {cost['batch_rows']} rows per batch, "
                  f"zero-latency backend (goal: < {OVERHEAD_GOAL_MS} ms per row)", ""]
    keys = [("proxy_rows_per_s", "rows/s through proxy"), ("direct_batch_ms_p50", "batch p50 direct, ms"),
            ("proxy_batch_ms_p50", "batch p50 via proxy, ms"), ("proxy_batch_ms_p95", "batch p95 via proxy, ms"),
            ("added_ms_per_row", "added wall time per row, ms"), ("proxy_cpu_ms_per_row", "proxy CPU per row, ms"),
            ("goal_met", "goal met")]
    lines.append(table([{"what": label, "value": cost[key]} for key, label in keys],
                       [("what", "measure"), ("value", "value")]))
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
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--serve-row-by-row", metavar="BACKEND", help=argparse.SUPPRESS)
    args = parser.parse_args()
    model = "bench-model"
    if args.serve_row_by_row:
        serve_row_by_row(args.serve_row_by_row, model)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    if max(sizes) > args.concurrency:
        parser.error(f"--sizes {args.sizes} exceeds --concurrency {args.concurrency}; N must be <= the limit")

    env = dict(os.environ)  # the children import spcs_llm from the installed (editable) package
    backend = Proc([sys.executable, "-m", "spcs_llm.proxy.fake_backend", "--model", model], env=env)
    proxy = baseline = None
    try:
        proxy_env = {**env, "PROXY_BACKEND_URL": backend.url, "PROXY_PORT": "0", "SERVED_MODEL_NAME": model,
                     "PROXY_CONCURRENCY": str(args.concurrency)}
        proxy = Proc([sys.executable, "-m", "spcs_llm.proxy"], env=proxy_env, ready_on="stderr")
        baseline = Proc([sys.executable, __file__, "--serve-row-by-row", backend.url], env=env)
        batches = asyncio.run(batch_times(proxy, baseline, sizes, args.latency, args.repeats))
        cost = asyncio.run(overhead(proxy, backend, args.rate, args.batch_rows, args.duration,
                                    args.concurrency, model))
    finally:
        for proc in (baseline, proxy, backend):
            if proc is not None:
                proc.stop()
    ok = all(b["goal_met"] for b in batches) and cost["goal_met"]
    if args.json:
        print(json.dumps({"batch_time": batches, "overhead": cost, "all_goals_met": ok}, indent=2))
    else:
        print(report(batches, cost, args))
        print("\nall goals met" if ok else "\nGOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
