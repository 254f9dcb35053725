"""The flags every Snowflake-touching step shares."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import plan_file
from ..plan_file import DEFAULT_PLAN_PATH
from .config import ConnectionChoice, choose_connection


def add_snowflake_arguments(parser: argparse.ArgumentParser, *, writes: bool) -> None:
    """--connection, --rebind, --dry-run, --plan (unless present) and, for steps that change things,
    --yes. SqlRunner.from_args() applies the connection rule to these flags (see access.py)."""
    group = parser.add_argument_group("Snowflake")
    group.add_argument(
        "--connection", metavar="NAME", default=None,
        help="connection name in connections.toml (default: the plan's snowflake.connection, recorded by "
        "the first live step; then $SNOWFLAKE_DEFAULT_CONNECTION_NAME, $SNOWFLAKE_CONNECTION_NAME, "
        "default_connection_name in config.toml, 'default')",
    )
    group.add_argument("--rebind", action="store_true",
                       help="with --connection: switch a plan that recorded another connection to this one "
                       "(without it, a different --connection is refused)")
    group.add_argument("--dry-run", action="store_true",
                       help="print the exact statements instead of running them; never connects")
    if writes:
        group.add_argument("--yes", action="store_true",
                           help="confirm statements that cost credits or change/destroy objects")
    if "--plan" not in parser._option_string_actions:
        group.add_argument("--plan", metavar="PATH", default=DEFAULT_PLAN_PATH,
                           help=f"deployment plan file (default: {DEFAULT_PLAN_PATH})")


def connection_choice(args: argparse.Namespace, plan: dict | None = None) -> ConnectionChoice:
    """The connection rule applied to a step's flags and plan (the plan file is read when not given)."""
    plan_path = getattr(args, "plan", None)
    exists = bool(plan_path) and Path(plan_path).is_file()
    if plan is None and exists:
        plan = plan_file.load(plan_path)
    recorded = plan_file.get(plan or {}, "snowflake.connection")
    return choose_connection(getattr(args, "connection", None), recorded,
                             rebind=bool(getattr(args, "rebind", False)),
                             plan_path=str(plan_path) if exists else None)
