"""Run the concurrent service-function proxy in front of a vLLM (OpenAI-compatible) server.

Serves POST /complete (Snowflake service-function batches, rows sent to vLLM concurrently),
GET /complete (polls of batches answered 202), GET /health and a /v1/* pass-through, until
SIGTERM or Ctrl-C; then it drains running batches. Every flag falls back to its environment
variable (shown in brackets), so the same settings work in the image. Runs offline; it never
talks to Snowflake. Row formats and error values: docs/proxy.md.
"""

from __future__ import annotations

import argparse
import asyncio

from ..output import StepResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..proxy.runner import add_arguments as add_proxy_arguments

    add_proxy_arguments(parser)


def run(args: argparse.Namespace) -> StepResult:
    from ..proxy.runner import config_from_args, serve, setup_logging

    config = config_from_args(args)
    setup_logging(config.log_level)
    stats = asyncio.run(serve(config))
    data = {"config": config.public_dict(), "stats": stats}
    text = (f"proxy stopped: {stats['batches']} batch attempts, {stats['rows']} rows, "
            f"{stats['row_errors']} row errors, {stats['row_retries']} row retries, "
            f"{stats['failed_batches']} failed batch attempts, {stats['rejected_429']} rejected with 429, "
            f"{stats['rejected_413']} with 413")
    return StepResult(data=data, text=text)
