"""Proxy settings: defaults, then environment variables (the image), then command-line flags.

Each setting is one row of SETTINGS, so the env var, the flag and the documentation can never
drift apart (docs/proxy.md lists the same table).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import SpcsLlmError
from ..redact import register_secret


@dataclass(frozen=True)
class ProxyConfig:
    backend_url: str  # vLLM's OpenAI-compatible server, e.g. http://127.0.0.1:8000
    host: str = "127.0.0.1"
    port: int = 8080
    concurrency: int = 32  # rows in flight to vLLM at once, process-wide
    model: str | None = None  # vLLM --served-model-name; discovered from /v1/models when unset
    request_timeout: float = 300.0  # seconds for one call to vLLM (one attempt of a row)
    row_timeout: float = 600.0  # seconds for a row in one batch attempt, retries and backoff included
    row_retries: int = 4  # retries of a row after a retryable failure (5xx, 429, broken reply, no connection)
    retry_backoff: float = 0.1  # seconds before a row's first retry; doubles per retry, capped, jittered
    sync_budget: float = 25.0  # seconds a POST may take before it answers 202 (Snowflake limit: 30 s)
    max_pending_rows: int = 0  # rows admitted but unfinished before 429; 0 means 32 x concurrency
    max_batch_rows: int = 4096  # rows in one POST /complete; more answers 413
    max_body_mb: float = 64.0  # size of one POST /complete body; more answers 413
    abandon_after: float = 300.0  # seconds without a POST or poll after which a batch stops calling vLLM
    result_ttl: float = 900.0  # seconds a finished batch stays available to polls and retries
    result_cache_mb: float = 256.0  # memory cap of the finished-batch cache
    shutdown_grace: float = 20.0  # seconds to finish in-flight batches after SIGTERM
    backend_api_key: str | None = None  # sent as Bearer token when vLLM runs with --api-key
    log_level: str = "INFO"

    @property
    def pending_limit(self) -> int:
        return self.max_pending_rows or 32 * self.concurrency

    def public_dict(self) -> dict:
        """The settings for logs and --json: the API key is reduced to whether it is set."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "backend_api_key"}
        out["backend_api_key"] = "set" if self.backend_api_key else None
        out["pending_limit"] = self.pending_limit
        return out


# (field, env var, type, flag help). The flag is --field-with-dashes (--backend for backend_url).
SETTINGS: list[tuple[str, str, type, str]] = [
    ("backend_url", "PROXY_BACKEND_URL", str, "vLLM base URL, e.g. http://127.0.0.1:8000 (required)"),
    ("host", "PROXY_HOST", str, "interface to listen on (default 127.0.0.1; 0.0.0.0 in the image)"),
    ("port", "PROXY_PORT", int, "port to listen on (default 8080)"),
    ("concurrency", "PROXY_CONCURRENCY", int, "rows sent to vLLM at once (default 32); match MAX_BATCH_ROWS"),
    ("model", "SERVED_MODEL_NAME", str, "model name sent to vLLM and required by /health (default: discover)"),
    ("request_timeout", "PROXY_REQUEST_TIMEOUT", float,
     "seconds for one vLLM call, one attempt of a row (default 300)"),
    ("row_timeout", "PROXY_ROW_TIMEOUT", float,
     "seconds a row may take in one batch attempt, retries included; then its value is a timeout error "
     "(default 600)"),
    ("row_retries", "PROXY_ROW_RETRIES", int,
     "retries of a row after a 5xx, 429, broken reply or connection error (default 4)"),
    ("retry_backoff", "PROXY_RETRY_BACKOFF", float,
     "seconds before a row's first retry; doubles per retry up to 8 s, with jitter (default 0.1)"),
    ("sync_budget", "PROXY_SYNC_BUDGET", float, "seconds before a POST answers 202 (default 25)"),
    ("max_pending_rows", "PROXY_MAX_PENDING_ROWS", int, "unfinished rows before 429 (default 32 x concurrency)"),
    ("max_batch_rows", "PROXY_MAX_BATCH_ROWS", int, "rows in one batch before 413 (default 4096)"),
    ("max_body_mb", "PROXY_MAX_BODY_MB", float, "MiB of one batch body before 413 (default 64)"),
    ("abandon_after", "PROXY_ABANDON_AFTER", float,
     "seconds without a POST or poll before a running batch stops calling vLLM (default 300)"),
    ("result_ttl", "PROXY_RESULT_TTL", float, "seconds finished batches are kept for polls (default 900)"),
    ("result_cache_mb", "PROXY_RESULT_CACHE_MB", float, "memory cap of kept results in MiB (default 256)"),
    ("shutdown_grace", "PROXY_SHUTDOWN_GRACE", float, "seconds to drain after SIGTERM (default 20)"),
    ("log_level", "PROXY_LOG_LEVEL", str, "DEBUG, INFO, WARNING or ERROR (default INFO)"),
]
API_KEY_ENV = "PROXY_BACKEND_API_KEY"
API_KEY_FILE_ENV = "PROXY_BACKEND_API_KEY_FILE"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def flag_name(field: str) -> str:
    return "--backend" if field == "backend_url" else "--" + field.replace("_", "-")


def load_config(overrides: dict | None = None, environ: dict | None = None) -> ProxyConfig:
    """Merge defaults, environment and overrides (flags; None means 'not given')."""
    env = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict = {}
    for field, var, kind, _ in SETTINGS:
        if overrides.get(field) is not None:
            values[field] = _convert(overrides[field], kind, flag_name(field))
        elif env.get(var, "").strip():
            values[field] = _convert(env[var].strip(), kind, var)
    if not values.get("backend_url"):
        raise SpcsLlmError(
            "no vLLM backend URL given",
            hint="pass --backend http://127.0.0.1:8000 or set PROXY_BACKEND_URL",
        )
    values["backend_api_key"] = _read_api_key(env)
    config = ProxyConfig(**values)
    _validate(config)
    return config


def _convert(raw, kind: type, source: str):
    if kind is str:
        return str(raw)
    try:
        return kind(raw)
    except (TypeError, ValueError):
        raise SpcsLlmError(f"{source}={raw!r} is not a valid {kind.__name__}") from None


def _read_api_key(env) -> str | None:
    key = env.get(API_KEY_ENV, "").strip()
    path = env.get(API_KEY_FILE_ENV, "").strip()
    if not key and path:
        try:
            key = Path(path).read_text().strip()
        except OSError as err:
            raise SpcsLlmError(f"{API_KEY_FILE_ENV}: cannot read {path}: {err.strerror}") from None
    register_secret(key or None)
    return key or None


def _validate(c: ProxyConfig) -> None:
    parts = urlsplit(c.backend_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpcsLlmError(
            f"backend URL {c.backend_url!r} is not valid; allowed: http(s)://host[:port]",
            hint="for example http://127.0.0.1:8000 (vLLM's default port)",
        )
    if parts.path.rstrip("/") or parts.query:
        raise SpcsLlmError(
            f"backend URL {c.backend_url!r} has a path; give only scheme://host:port",
            hint="the proxy adds /v1/chat/completions, /health and /v1/models itself",
        )
    checks = [
        (1 <= c.port <= 65535 or c.port == 0, "port", c.port, "0 (any free port) or 1-65535"),
        (1 <= c.concurrency <= 4096, "concurrency", c.concurrency, "1-4096"),
        (c.request_timeout > 0, "request timeout", c.request_timeout, "seconds > 0"),
        (c.row_timeout > 0, "row timeout", c.row_timeout, "seconds > 0"),
        (0 <= c.row_retries <= 20, "row retries", c.row_retries, "0-20"),
        (0 <= c.retry_backoff <= 60, "retry backoff", c.retry_backoff, "0-60 s"),
        (1 <= c.max_batch_rows <= 1_000_000, "max batch rows", c.max_batch_rows, "1-1000000"),
        (0 < c.max_body_mb <= 1024, "max body size", c.max_body_mb, "MiB in (0, 1024]"),
        (c.abandon_after > 0, "abandon-after time", c.abandon_after, "seconds > 0"),
        (0 < c.sync_budget <= 29, "sync budget", c.sync_budget, "seconds in (0, 29]: Snowflake waits 30 s"),
        (c.max_pending_rows >= 0, "max pending rows", c.max_pending_rows, "0 (32 x concurrency) or more"),
        (c.result_ttl > 0, "result TTL", c.result_ttl, "seconds > 0"),
        (c.result_cache_mb > 0, "result cache size", c.result_cache_mb, "MiB > 0"),
        (0 <= c.shutdown_grace <= 28, "shutdown grace", c.shutdown_grace, "0-28 s (SPCS allows 30 s)"),
        (c.log_level.upper() in LOG_LEVELS, "log level", c.log_level, ", ".join(LOG_LEVELS)),
    ]
    for ok, what, value, allowed in checks:
        if not ok:
            raise SpcsLlmError(f"{what} {value!r} is not valid; allowed: {allowed}")
