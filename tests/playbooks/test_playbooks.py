"""The real skill tree passes every playbook rule, and every command in its bash blocks runs."""

from __future__ import annotations

import pytest

from spcs_llm.skills_check.graph import check_graph
from spcs_llm.skills_check.rules import check_playbook, official_validation

from .conftest import ORDER, SKILLS_ROOT, TREE

SUB_PLAYBOOKS = ["select-model", "choose-hardware"]  # this pack's minimum; others add theirs


def test_tree_has_the_router_and_the_required_sub_playbooks():
    assert "SKILL.md" in TREE
    for name in SUB_PLAYBOOKS:
        assert f"{name}/SKILL.md" in TREE, name


@pytest.mark.parametrize("key", sorted(TREE))
def test_official_validator_passes(key):
    assert official_validation(TREE[key].path.parent) == []


def test_agentskills_cli_validates_every_folder():
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("agentskills", path=str(Path(sys.executable).parent)) or shutil.which("agentskills")
    if exe is None:
        pytest.skip("the agentskills command of skills-ref is not installed here (its Python API is tested above)")
    for key in sorted(TREE):
        proc = subprocess.run([exe, "validate", str(TREE[key].path.parent)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("key", sorted(TREE))
def test_playbook_rules(key):
    assert check_playbook(TREE[key]) == []


def test_load_graph_reaches_everything_and_every_path_ends():
    assert check_graph(SKILLS_ROOT, TREE) == []
    assert set(ORDER) == set(TREE)


@pytest.mark.parametrize("key", ORDER)
def test_bash_blocks_run(key, playbook_states):
    _, failures = playbook_states(key)
    assert failures == [], "\n".join(failures)


def test_following_the_playbooks_confirms_hardware_and_workers(playbook_states):
    """The flow of the issue: from a model to a confirmed family and a num_workers answer."""
    from spcs_llm import plan_file

    work, failures = playbook_states("choose-hardware/SKILL.md")
    assert failures == []
    plan = plan_file.load(work / "deployment.yaml")
    assert plan["model"]["id"]
    assert plan["selection"]["confirmed"] is True
    assert plan["workers"]["confirmed"] is True
    assert plan["workers"]["num_workers"] == 1
    assert plan["workers"]["gpu_requests"] == plan["selection"]["tensor_parallel_size"]
    steps = [entry["step"] for entry in plan["history"]]
    assert steps.index("plan") < steps.index("select") < steps.index("workers")
