"""The proxy's HTTP side: /complete (service functions), /v1/* pass-through, /health.

Status codes Snowflake sees on /complete (its retry rules: spcs_facts.md §6; the full
fault table is in docs/proxy.md):
- 200 with one ``[row_index, value]`` per input row, in input order; a row that failed for good
  (vLLM 4xx, its own timeout, or vLLM failing only this row) has an ``{"error": ...}`` value;
- 202 while a batch with a batch id is still running after the sync budget (then GET polls);
- 400 when the body is not ``{"data": [...]}``; 413 when it has too many rows or bytes
  (retrying cannot help either);
- 429 when too many rows are pending, or vLLM said it is overloaded on every retry of a row;
  503 when vLLM stayed down or broken for a row's retries, and while the proxy shuts down.
  Snowflake retries 429 and 503 batches; the rows that finished are kept by batch id and are
  not sent to vLLM again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import socket
import time

import aiohttp
from aiohttp import web

from ..redact import redact
from .backend import Backend
from .batches import Batch, BatchStore, Outcome
from .config import ProxyConfig
from .encoding import to_json_bytes
from .retry import RetryPolicy, run_row
from .rows import Row, is_error_value, parse_row

BATCH_ID_HEADER = "sf-external-function-query-batch-id"
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
        self.policy = RetryPolicy(config.row_retries, config.row_timeout, config.request_timeout,
                                  config.retry_backoff)
        self.rng = random.Random()
        self.pending_rows = 0
        self.draining = False
        self.port: int | None = None
        self.stats = {"batches": 0, "rows": 0, "row_errors": 0, "failed_batches": 0, "rejected_429": 0,
                      "rejected_413": 0, "rows_kept_from_earlier_attempts": 0, "row_retries": 0,
                      "abandoned_batches": 0}
        self._tasks: set[asyncio.Task] = set()
        self._live: dict[asyncio.Task, Batch] = {}  # running attempts, with or without a batch id
        self._janitor: asyncio.Task | None = None
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=int(config.max_body_mb * 1024 * 1024))
        self.app.router.add_post("/complete", self.post_complete)
        self.app.router.add_get("/complete", self.get_complete)
        self.app.router.add_get("/health", self.health)
        self.app.router.add_route("GET", "/v1/{tail:.*}", self.passthrough)
        self.app.router.add_route("POST", "/v1/{tail:.*}", self.passthrough)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self, sock: socket.socket | None = None) -> int:
        """Listen (on `sock`, or on config host:port) and return the bound port."""
        await self.backend.start()
        # handler_cancellation: a caller that hangs up cancels its handler, so a batch nobody
        # can collect any more (no batch id) and a pass-through call stop calling vLLM.
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, handler_cancellation=True,
                                     shutdown_timeout=SERVER_SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        sock = sock or bind_socket(self.config.host, self.config.port)
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        self._janitor = asyncio.create_task(self._abandon_unwatched())
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
        if self._janitor is not None:
            self._janitor.cancel()
            await asyncio.gather(self._janitor, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.backend.close()

    # ---- /complete ----------------------------------------------------------------------------

    async def post_complete(self, request: web.Request) -> web.Response:
        batch_id = request.headers.get(BATCH_ID_HEADER) or None
        if self.draining:
            return _json_error(503, "the proxy is shutting down; retry")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._too_large(batch_id, f"the body is larger than {self.config.max_body_mb:g} MiB "
                                             "(PROXY_MAX_BODY_MB)")
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            return _json_error(400, 'the body is not JSON; expected {"data": [[row_index, ...], ...]}')
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            return _json_error(400, 'the body needs a "data" array of rows: {"data": [[row_index, ...], ...]}')
        if len(data) > self.config.max_batch_rows:
            return self._too_large(batch_id, f"the batch has {len(data)} rows; at most "
                                             f"{self.config.max_batch_rows} are allowed (PROXY_MAX_BATCH_ROWS)")
        fingerprint = hashlib.blake2b(raw, digest_size=16).digest()
        known = self.store.get(batch_id) if batch_id is not None else None
        if known is not None and known.fingerprint == fingerprint:
            known.touch()
            if not known.done or known.outcome.status == 200:
                return await self._answer(known)  # a retry or duplicate: never run the rows twice
        else:
            known = None  # unknown, or the same id with other rows: start afresh
        rows = [parse_row(row, position) for position, row in enumerate(data)]
        batch = known or Batch(batch_id, len(rows), fingerprint)
        calls = sum(1 for i, row in enumerate(rows) if row.request and batch.answers[i] is None)
        overloaded = self.pending_rows and self.pending_rows + calls > self.config.pending_limit
        if overloaded or (known is None and batch_id is not None and self.store.full):
            self.stats["rejected_429"] += 1
            why = (f"pending={self.pending_rows} limit={self.config.pending_limit}" if overloaded
                   else "result cache full of uncollected results")
            self._log_batch(batch_id, len(rows), 0, 0, 429, 0.0, False, why)
            return _json_error(429, f"overloaded ({why}); retry later")
        if known is not None:
            batch.attempt += 1
            batch.outcome, batch.went_async, batch.started = None, False, time.monotonic()
        batch.collected = True
        batch.abandon_reason = None
        self.pending_rows += calls
        batch.task = asyncio.create_task(self._run(batch, rows, calls))
        self._tasks.add(batch.task)
        self._live[batch.task] = batch
        batch.task.add_done_callback(self._forget)
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
        batch.touch()
        if batch.done:
            self.store.collected(batch)
            return _outcome_response(batch.outcome)
        return _accepted(batch)

    async def _answer(self, batch: Batch) -> web.Response:
        """Wait up to the sync budget; then 202 if Snowflake can poll for it (it has a batch id)."""
        timeout = self.config.sync_budget if batch.batch_id is not None else None
        batch.watchers += 1
        try:
            await asyncio.wait({batch.task}, timeout=timeout)  # asyncio.wait never cancels the task
        finally:  # also when the caller hung up (the handler is cancelled then)
            batch.watchers -= 1
            batch.touch()
            if batch.batch_id is None and batch.watchers == 0 and not batch.done:
                self._abandon(batch, "the caller hung up and there is no batch id to collect it by")
        if batch.done:
            if batch.batch_id is not None:
                self.store.collected(batch)
            return _outcome_response(batch.outcome)
        batch.went_async = True
        batch.collected = False
        return _accepted(batch)

    def _abandon(self, batch: Batch, reason: str) -> None:
        if batch.task is not None and not batch.task.done() and batch.abandon_reason is None:
            batch.abandon_reason = reason
            self.stats["abandoned_batches"] += 1
            batch.task.cancel()

    async def _abandon_unwatched(self) -> None:
        """Stop batches that nobody has POSTed or polled for `abandon_after` seconds: Snowflake has
        given up on them (query cancelled or failed). Their finished rows stay kept."""
        period = min(1.0, self.config.abandon_after / 4)
        while True:
            await asyncio.sleep(period)
            cutoff = time.monotonic() - self.config.abandon_after
            for batch in list(self._live.values()):
                if batch.watchers == 0 and batch.last_contact < cutoff:
                    self._abandon(batch, f"no POST or poll for {self.config.abandon_after:g} s")

    def _forget(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._live.pop(task, None)

    def _too_large(self, batch_id: str | None, message: str) -> web.Response:
        self.stats["rejected_413"] += 1
        self._log_batch(batch_id, 0, 0, 0, 413, 0.0, False, message)
        return _json_error(413, message + "; lower the function's MAX_BATCH_ROWS or raise the limit")

    async def _run(self, batch: Batch, rows: list[Row], calls: int) -> None:
        outcome = Outcome(500, _error_body("internal proxy error"), errors=batch.rows)
        reason = ""
        kept = sum(1 for i, row in enumerate(rows) if row.request and batch.answers[i] is not None)
        self.stats["rows_kept_from_earlier_attempts"] += kept
        try:
            outcome, reason = await self._run_rows(batch, rows)
        except asyncio.CancelledError:
            reason = batch.abandon_reason or "cancelled at shutdown"
            message = ("the batch was abandoned: " + batch.abandon_reason if batch.abandon_reason
                       else "the proxy shut down before the batch finished")
            outcome = Outcome(503, _error_body(message + "; retry (finished rows are kept)"), errors=batch.rows)
            if batch.abandon_reason is None:
                raise
        except Exception as err:  # a bug: answer 500 (Snowflake retries it) and say what it was
            reason = f"internal error {type(err).__name__}"
            # The type only: an exception's text may quote row data. The traceback at DEBUG.
            log.error(redact(f"batch {batch.batch_id or '-'} failed: {reason}"),
                      exc_info=log.isEnabledFor(logging.DEBUG))
        finally:
            self.pending_rows -= calls
            batch.outcome = outcome
            if outcome.status == 200:
                batch.answers = None  # the body holds them now
            else:  # what the kept rows weigh in the result cache
                batch.kept_bytes = len(to_json_bytes([pair for pair in batch.answers if pair is not None]))
            if batch.batch_id is not None:
                self.store.finish(batch)
            elapsed_ms = (time.monotonic() - batch.started) * 1000
            self._count(batch, outcome)
            extra = f" attempt={batch.attempt} kept={kept}" if batch.attempt > 1 else ""
            self._log_batch(batch.batch_id, batch.rows, outcome.ok, outcome.errors, outcome.status,
                            elapsed_ms, batch.went_async, reason, extra)

    async def _run_rows(self, batch: Batch, rows: list[Row]) -> tuple[Outcome, str]:
        """Every unfinished row at once (the slots bound the calls); each row retries on its own."""
        last_chance = batch.batch_id is None or batch.attempt > 1
        tasks = {}
        for i, row in enumerate(rows):
            if batch.answers[i] is not None:
                continue  # answered in an earlier attempt of this batch
            if row.request:
                call = run_row(self.backend, row, self.policy, self.rng, last_chance=last_chance)
                tasks[asyncio.ensure_future(call)] = i
            else:
                batch.keep(i, [row.index, row.value], is_error_value(row.value))
        if tasks:
            try:
                await asyncio.wait(tasks)
            except BaseException:  # cancelled (shutdown, abandoned): stop the rows, keep what finished
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                finished = {t: i for t, i in tasks.items() if not t.cancelled() and t.exception() is None}
                self._keep_finished(batch, rows, finished)
                raise
        failures = self._keep_finished(batch, rows, tasks)
        if failures:
            status = 429 if all(f.status == 429 for f in failures) else 503
            message = (f"{len(failures)} of {batch.rows} rows got no answer: vLLM failed on every retry "
                       f"({failures[0].reason}); retry the batch: its {batch.rows - len(failures)} "
                       f"finished rows are kept and not sent again")
            return Outcome(status, _error_body(message), errors=len(failures)), failures[0].reason
        errors = batch.error_rows
        return Outcome(200, to_json_bytes({"data": batch.answers}), ok=batch.rows - errors, errors=errors), ""

    def _keep_finished(self, batch: Batch, rows: list[Row], tasks: dict) -> list:
        """Keep the rows that got their final value; return the failures of those that did not."""
        failures = []
        for task, i in tasks.items():
            done, value, attempts, failure = task.result()  # a bug in a row raises here: 500
            self.stats["row_retries"] += attempts - 1
            if done:
                batch.keep(i, [rows[i].index, value], is_error_value(value))
            else:
                failures.append(failure)
        return failures

    def _count(self, batch: Batch, outcome: Outcome) -> None:
        self.stats["batches"] += 1
        self.stats["rows"] += batch.rows
        self.stats["row_errors"] += outcome.errors if outcome.status == 200 else 0
        self.stats["failed_batches"] += outcome.status != 200

    def _log_batch(self, batch_id, rows, ok, errors, status, elapsed_ms, went_async, reason, extra="") -> None:
        line = (f"batch id={batch_id or '-'} rows={rows} ok={ok} errors={errors} status={status} "
                f"elapsed_ms={elapsed_ms:.0f} async={'yes' if went_async else 'no'}{extra}")
        log.info(redact(line + (f" reason={reason}" if reason else "")))

    # ---- /health ------------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        if self.draining:
            return web.json_response({"status": "unavailable", "reason": "shutting down"}, status=503)
        ready, reason, models = await self.backend.health()
        body = {"status": "ok" if ready else "unavailable", "reason": reason, "models": models,
                "model": self.backend.model, "pending_rows": self.pending_rows,
                "in_flight": self.backend.in_flight}
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
