#!/usr/bin/env python3
"""Show (or wait for) a service's containers and endpoint. Same as `spcs-llm status`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("status")
