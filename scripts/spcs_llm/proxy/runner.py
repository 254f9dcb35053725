"""Run the proxy until SIGTERM/SIGINT, then drain: shared by `spcs-llm proxy` and
`python -m spcs_llm.proxy` (the image entrypoint)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from ..errors import EXIT_ENVIRONMENT, SpcsLlmError
from ..redact import redact
from .config import SETTINGS, ProxyConfig, flag_name, load_config
from .server import ProxyServer, bind_socket

log = logging.getLogger("spcs_llm.proxy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; a flag overrides its environment variable."""
    for field, env_var, kind, help_text in SETTINGS:
        parser.add_argument(flag_name(field), dest=field, type=kind, default=None, metavar=field.upper(),
                            help=f"{help_text} [env {env_var}]")


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    return load_config({field: getattr(args, field, None) for field, *_ in SETTINGS})


def setup_logging(level: str) -> None:
    """One line per event on stderr (SPCS collects container stdout/stderr as logs)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


async def serve(config: ProxyConfig) -> dict:
    """Listen until SIGTERM or SIGINT, drain within the shutdown grace, return the counters."""
    try:
        sock = bind_socket(config.host, config.port)
    except OSError as err:
        raise SpcsLlmError(f"cannot listen on {config.host}:{config.port}: {err.strerror}",
                           hint="choose another --port or stop the process using it",
                           exit_code=EXIT_ENVIRONMENT) from None
    server = ProxyServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = await server.start(sock)
    log.info(redact(f"listening on http://{config.host}:{port} backend={config.backend_url} "
                    f"concurrency={config.concurrency} pending_limit={config.pending_limit} "
                    f"sync_budget_s={config.sync_budget:g} row_timeout_s={config.row_timeout:g} "
                    f"row_retries={config.row_retries} max_batch_rows={config.max_batch_rows} "
                    f"model={config.model or '(discover)'}"))
    await stop.wait()
    log.info(f"stopping: draining {len(server._tasks)} running batches for up to "
             f"{config.shutdown_grace:g} s")
    await server.stop()
    log.info(redact(f"stopped: {server.stats}"))
    return {"port": port, **server.stats}


def main(argv: list[str] | None = None) -> int:
    """`python -m spcs_llm.proxy [flags]`: settings from the environment, flags override."""
    parser = argparse.ArgumentParser(prog="python -m spcs_llm.proxy", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        setup_logging(config.log_level)
        asyncio.run(serve(config))
    except SpcsLlmError as err:
        sys.stderr.write(redact(f"error: {err}") + "\n")
        return err.exit_code
    return 0
