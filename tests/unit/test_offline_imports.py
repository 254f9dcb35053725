"""Offline steps never import the Snowflake libraries (they take seconds to import and need no
account); only the steps that talk to Snowflake load them, and only when they log in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
PROBE = """
import json, sys
sys.path.insert(0, {scripts!r})
from spcs_llm.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith("snowflake."))), file=sys.stderr)
"""


def imported(argv: list[str], cwd: Path) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(scripts=str(SCRIPTS), argv=argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws"],
    ["size", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu", "A10G", "--max-model-len", "4096"],
    ["models", "--open"],
    ["select", "--family", "GPU_NV_S"],
    ["workers", "--engine", "registry"],
    ["show"],
    ["preflight", "--dry-run"],
    ["pools", "--dry-run"],
])
def test_offline_and_dry_run_steps_do_not_import_snowflake(argv, tmp_path):
    if argv[0] != "plan":
        imported(["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws"], tmp_path)
    assert imported(argv, tmp_path) == []
