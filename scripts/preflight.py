#!/usr/bin/env python3
"""Check the Snowflake account before deploying. Same as `spcs-llm preflight`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("preflight")
