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
    request_timeout: float = 300.0  # seconds for one row's call to vLLM
    sync_budget: float = 25.0  # seconds a POST may take before it answers 202 (Snowflake limit: 30 s)
    max_pending_rows: int = 0  # rows admitted but unfinished before 429; 0 means 32 x concurrency
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
    ("request_timeout", "PROXY_REQUEST_TIMEOUT", float, "seconds for one row's vLLM call (default 300)"),
    ("sync_budget", "PROXY_SYNC_BUDGET", float, "seconds before a POST answers 202 (default 25)"),
    ("max_pending_rows", "PROXY_MAX_PENDING_ROWS", int, "unfinished rows before 429 (default 32 x concurrency)"),
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
