#!/usr/bin/env python3
"""Create the plan's compute pool (needs --yes). Same as `spcs-llm create-pool`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("create-pool")
