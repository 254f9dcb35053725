#!/usr/bin/env python3
"""Check whether the plan's service name is free. Same as `spcs-llm service-check`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("service-check")
