"""The proxy's HTTP side: /complete (service functions), /v1/* pass-through, /health.

Status codes Snowflake sees on /complete (its retry rules: spcs_facts.md §6):
- 200 with one ``[row_index, value]`` per input row, in input order;
- 202 while a batch with a batch id is still running after the sync budget (then GET polls);
- 400 when the body is not ``{"data": [...]}`` (retrying cannot help);
- 429 when too many rows are pending; 503 when vLLM is down, answers 5xx or times out, and
  while the proxy is shutting down: Snowflake retries 429 and 503 batches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import aiohttp
from aiohttp import web

from ..redact import redact
from .backend import Backend, BatchFailure, RowRejected, completion_text
from .batches import Batch, BatchStore, Outcome
from .config import ProxyConfig
from .rows import Row, error_value, is_error_value, parse_row

BATCH_ID_HEADER = "sf-external-function-query-batch-id"
MAX_BODY_BYTES = 128 * 1024 * 1024  # Snowflake's batch payload limit is not documented
SERVER_SHUTDOWN_TIMEOUT_S = 2.0
# Hop-by-hop headers (RFC 9110 §7.6.1) and those aiohttp sets itself are not copied.
_NOT_FORWARDED = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length", "content-encoding",
}

log = logging.getLogger("spcs_llm.proxy")


class ProxyServer:
    def __init__(self, config: ProxyConfig):
        self.config = config
        self.backend = Backend(config)
        self.store = BatchStore(config.result_ttl, int(config.result_cache_mb * 1024 * 1024))
        self.pending_rows = 0
        self.draining = False
        self.port: int | None = None
        self.stats = {"batches": 0, "rows": 0, "row_errors": 0, "failed_batches": 0, "rejected_429": 0}
        self._tasks: set[asyncio.Task] = set()
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app.router.add_post("/complete", self.post_complete)
        self.app.router.add_get("/complete", self.get_complete)
        self.app.router.add_get("/health", self.health)
        self.app.router.add_route("GET", "/v1/{tail:.*}", self.passthrough)
        self.app.router.add_route("POST", "/v1/{tail:.*}", self.passthrough)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self, sock: socket.socket | None = None) -> int:
        """Listen (on `sock`, or on config host:port) and return the bound port."""
        await self.backend.start()
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=SERVER_SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        sock = sock or bind_socket(self.config.host, self.config.port)
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Drain: refuse new batches (503, Snowflake retries them), give running batches up to
        `grace` seconds, fail the rest with 503, then close the listener and the vLLM session."""
        if self.draining:
            return
        self.draining = True
        grace = self.config.shutdown_grace if grace is None else grace
        running = set(self._tasks)
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.backend.close()

    # ---- /complete ----------------------------------------------------------------------------

    async def post_complete(self, request: web.Request) -> web.Response:
        batch_id = request.headers.get(BATCH_ID_HEADER) or None
        if self.draining:
            return _json_error(503, "the proxy is shutting down; retry")
        try:
            payload = json.loads(await request.read())
        except (ValueError, RecursionError):
            return _json_error(400, 'the body is not JSON; expected {"data": [[row_index, ...], ...]}')
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            return _json_error(400, 'the body needs a "data" array of rows: {"data": [[row_index, ...], ...]}')
        if batch_id is not None:
            known = self.store.get(batch_id)
            if known is not None and (not known.done or known.outcome.status == 200):
                return await self._answer(known)  # a retry or duplicate: never run the rows twice
        rows = [parse_row(row, position) for position, row in enumerate(data)]
        if self.pending_rows and self.pending_rows + len(rows) > self.config.pending_limit:
            self.stats["rejected_429"] += 1
            self._log_batch(batch_id, len(rows), 0, 0, 429, 0.0, False,
                            f"pending={self.pending_rows} limit={self.config.pending_limit}")
            return _json_error(429, f"overloaded: {self.pending_rows} rows pending; retry later")
        batch = Batch(batch_id, len(rows))
        self.pending_rows += batch.rows
        batch.task = asyncio.create_task(self._run(batch, rows))
        self._tasks.add(batch.task)
        batch.task.add_done_callback(self._tasks.discard)
        if batch_id is not None:
            self.store.add(batch)
        return await self._answer(batch)

    async def get_complete(self, request: web.Request) -> web.Response:
        """Snowflake's poll for a batch answered 202.

        Verified in docs.snowflake.com/en/sql-reference/external-functions-implementation
        ("Asynchronous remote service"): Snowflake POSTs the batch; on 202 it loops, each time
        sending a GET without a body but with the same headers (so the same batch id) as the POST;
        the service answers 202 until the rows are ready and then 200 with them. The SPCS
        troubleshooting page points service functions slower than 30 s to that protocol.
        Not verified against a live account: that the GET goes to the same path as the POST.
        """
        batch_id = request.headers.get(BATCH_ID_HEADER)
        if not batch_id:
            return _json_error(400, f"GET /complete needs the {BATCH_ID_HEADER} header")
        batch = self.store.get(batch_id)
        if batch is None:
            return _json_error(404, "unknown batch id: never started here, expired, or the proxy restarted")
        if batch.done:
            return _outcome_response(batch.outcome)
        return _accepted(batch)

    async def _answer(self, batch: Batch) -> web.Response:
        """Wait up to the sync budget; then 202 if Snowflake can poll for it (it has a batch id)."""
        timeout = self.config.sync_budget if batch.batch_id is not None else None
        await asyncio.wait({batch.task}, timeout=timeout)  # asyncio.wait never cancels the task
        if batch.done:
            return _outcome_response(batch.outcome)
        batch.went_async = True
        return _accepted(batch)

    async def _run(self, batch: Batch, rows: list[Row]) -> None:
        outcome = Outcome(500, _error_body("internal proxy error"), errors=batch.rows)
        reason = ""
        try:
            answers = await self._run_rows(rows)
            errors = sum(1 for _, value in answers if is_error_value(value))
            body = json.dumps({"data": answers}, ensure_ascii=False).encode()
            outcome = Outcome(200, body, ok=len(answers) - errors, errors=errors)
        except BatchFailure as failure:
            reason = failure.reason
            outcome = Outcome(failure.status, _error_body(failure.reason), errors=batch.rows)
        except asyncio.CancelledError:
            reason = "cancelled at shutdown"
            outcome = Outcome(503, _error_body("the proxy shut down before the batch finished; retry"),
                              errors=batch.rows)
            raise
        except Exception as err:  # a bug: answer 500 (Snowflake retries it) and say what it was
            reason = f"internal error {type(err).__name__}"
            # The type only: an exception's text may quote row data. The traceback at DEBUG.
            log.error(redact(f"batch {batch.batch_id or '-'} failed: {reason}"),
                      exc_info=log.isEnabledFor(logging.DEBUG))
        finally:
            self.pending_rows -= batch.rows
            batch.outcome = outcome
            if batch.batch_id is not None:
                self.store.finish(batch)
            elapsed_ms = (time.monotonic() - batch.started) * 1000
            self._count(batch, outcome)
            self._log_batch(batch.batch_id, batch.rows, outcome.ok, outcome.errors, outcome.status,
                            elapsed_ms, batch.went_async, reason)

    async def _run_rows(self, rows: list[Row]) -> list[list]:
        """All rows at once (the semaphore bounds the calls); the first batch failure cancels the rest."""
        answers: list = [[row.index, row.value] for row in rows]
        calls = {asyncio.ensure_future(self._call(row)): i for i, row in enumerate(rows) if row.request}
        if not calls:
            return answers
        try:
            done, pending = await asyncio.wait(calls, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:  # shutdown: stop this batch's calls too
            for task in calls:
                task.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
            raise
        failed = [task for task in done if task.exception() is not None]
        if failed:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            raise failed[0].exception()
        for task, i in calls.items():
            answers[i][1] = task.result()
        return answers

    async def _call(self, row: Row):
        try:
            reply = await self.backend.chat(row.request)
        except RowRejected as rejected:
            return error_value("backend_rejected", rejected.message, rejected.status)
        return reply if row.full else completion_text(reply)

    def _count(self, batch: Batch, outcome: Outcome) -> None:
        self.stats["batches"] += 1
        self.stats["rows"] += batch.rows
        self.stats["row_errors"] += outcome.errors if outcome.status == 200 else 0
        self.stats["failed_batches"] += outcome.status != 200

    def _log_batch(self, batch_id, rows, ok, errors, status, elapsed_ms, went_async, reason) -> None:
        line = (f"batch id={batch_id or '-'} rows={rows} ok={ok} errors={errors} status={status} "
                f"elapsed_ms={elapsed_ms:.0f} async={'yes' if went_async else 'no'}")
        log.info(redact(line + (f" reason={reason}" if reason else "")))

    # ---- /health ------------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        if self.draining:
            return web.json_response({"status": "unavailable", "reason": "shutting down"}, status=503)
        ready, reason, models = await self.backend.health()
        body = {"status": "ok" if ready else "unavailable", "reason": reason, "models": models,
                "model": self.backend.model, "pending_rows": self.pending_rows}
        return web.json_response(body, status=200 if ready else 503)

    # ---- /v1/* pass-through -------------------------------------------------------------------

    async def passthrough(self, request: web.Request) -> web.StreamResponse:
        """Forward to vLLM unchanged and relay the reply chunk by chunk (SSE streams included)."""
        started = time.monotonic()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        body = await request.read() if request.body_exists else None
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self.config.request_timeout)
        url = self.backend.base + str(request.rel_url)
        status = 0
        try:
            async with self.backend.session.request(request.method, url, headers=headers, data=body,
                                                    timeout=timeout) as upstream:
                status = upstream.status
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for key, value in upstream.headers.items():
                    if key.lower() not in _NOT_FORWARDED:
                        response.headers.add(key, value)
                await response.prepare(request)
                try:
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                    await response.write_eof()
                except (ConnectionResetError, aiohttp.ClientError, TimeoutError) as err:
                    # Mid-stream: the status is already sent; closing tells the client it broke.
                    log.warning(f"passthrough {request.method} {request.path} broke: {type(err).__name__}")
                return response
        except (TimeoutError, aiohttp.ClientError) as err:
            status = 503
            return _json_error(503, f"vLLM is unreachable ({type(err).__name__})")
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            log.info(redact(f"passthrough {request.method} {request.path} status={status} "
                            f"elapsed_ms={elapsed_ms:.0f}"))


def bind_socket(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def _json_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=_error_body(message), content_type="application/json")


def _outcome_response(outcome: Outcome) -> web.Response:
    return web.Response(status=outcome.status, body=outcome.body, content_type="application/json")


def _accepted(batch: Batch) -> web.Response:
    body = {"status": "running", "batch_id": batch.batch_id, "rows": batch.rows,
            "elapsed_s": round(time.monotonic() - batch.started, 1)}
    return web.json_response(body, status=202)
