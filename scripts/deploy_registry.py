#!/usr/bin/env python3
"""Render (and on request start) the registry + vLLM deployment. Same as `spcs-llm deploy-registry`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("deploy-registry")
