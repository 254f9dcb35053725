"""The flags every Snowflake-touching step shares."""

from __future__ import annotations

import argparse

from ..plan_file import DEFAULT_PLAN_PATH


def add_snowflake_arguments(parser: argparse.ArgumentParser, *, writes: bool) -> None:
    """--connection, --dry-run, --plan (unless present) and, for steps that change things, --yes."""
    group = parser.add_argument_group("Snowflake")
    group.add_argument(
        "--connection", metavar="NAME", default=None,
        help="connection name in connections.toml (default: $SNOWFLAKE_DEFAULT_CONNECTION_NAME, then "
        "$SNOWFLAKE_CONNECTION_NAME, then default_connection_name in config.toml, then 'default')",
    )
    group.add_argument("--dry-run", action="store_true",
                       help="print the exact statements instead of running them; never connects")
    if writes:
        group.add_argument("--yes", action="store_true",
                           help="confirm statements that cost credits or change/destroy objects")
    if "--plan" not in parser._option_string_actions:
        group.add_argument("--plan", metavar="PATH", default=DEFAULT_PLAN_PATH,
                           help=f"deployment plan file (default: {DEFAULT_PLAN_PATH})")
