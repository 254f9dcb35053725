"""Every bash block of the deploy-custom-image playbook runs offline, in order, from the state the
hardware playbook leaves (a confirmed plan), against the recorded aws_ready account; and the
playbook passes the pack's playbook rules. (Until the router loads this playbook, the tree-wide
playbook test cannot reach it, so this test runs it on its own.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spcs_llm import PACK_ROOT, plan_file
from spcs_llm.skills_check.commands import logical_commands, run_block
from spcs_llm.skills_check.document import load_tree
from spcs_llm.skills_check.rules import check_playbook, official_validation

SKILLS = PACK_ROOT / "skills" / "spcs-llm"
KEY = "deploy-custom-image/SKILL.md"
REPLAY = PACK_ROOT / "tests" / "fixtures" / "recorded" / "aws_ready"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "SPCS_LLM_", "HF_", "HUGGING"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
               SPCS_LLM_REPLAY_DIR=str(REPLAY), HF_ENDPOINT="http://127.0.0.1:9", COLUMNS="120")
    return env


def test_the_playbook_follows_the_rules():
    pb = load_tree(SKILLS)[KEY]
    assert check_playbook(pb) == []
    assert official_validation(pb.path.parent) == []


def test_bash_blocks_run_from_a_confirmed_plan(tmp_path):
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = _env(home)
    for argv in (["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--region", "us-west-2"],
                 ["select", "--family", "GPU_NV_S"], ["workers", "--engine", "custom-image", "--confirm"]):
        proc = subprocess.run(["spcs-llm", *argv], cwd=work, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    pb = load_tree(SKILLS)[KEY]
    for block in pb.blocks:
        if block.lang != "bash":
            continue
        result = run_block(logical_commands(block.text, block.line + 1), work, env)
        assert result.ok, f"{pb.path}:{block.line}: {result.failed and result.failed.text}\n{result.output[-3000:]}"
    plan = plan_file.load(work / "deployment.yaml")
    assert plan["custom_image"]["hf_secret"] == "LLM_DB.SERVING.HF_TOKEN"
    assert "consumer_roles" not in plan["custom_image"]  # `--consumer-role ANALYST ... --dry-run` records nothing
    assert (work / "custom-image" / "05_service.sql").exists()
    assert plan["custom_image"]["service_name"] == "NEW_SVC"  # render-custom --name recorded it
    steps = [entry["step"] for entry in plan["history"]]
    assert "render-custom" in steps and "image" not in steps  # the push was a dry run: nothing recorded


def test_the_playbook_covers_what_walk_china1_had_to_work_out():
    """A cheapest nightly batch in China (walk china1): the pool's idle hour, the consumer role's own
    test call, the job's RESUME/SUSPEND, a build on another machine, and an egress question that
    preflight had already answered."""
    pb = load_tree(SKILLS)[KEY]
    text = " ".join(pb.path.read_text().split())
    bash = [" ".join(b.text.split()) for b in pb.blocks if b.lang == "bash"]
    assert any("create-pool" in b and "--auto-suspend-secs 300" in b for b in bash)
    assert "USE ROLE <role>;" in text
    assert "ALTER SERVICE <service> RESUME;" in text and "ALTER SERVICE <service> SUSPEND;" in text
    assert "OPERATE on the service" in text
    assert "built on another machine" in text
    egress_stop = next(line for line in text.split("**STOP**")[1:] if "CREATE INTEGRATION" in line.split(".")[0])
    assert "preflight showed CREATE INTEGRATION ok" in egress_stop
